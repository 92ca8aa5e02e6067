package tensor

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// npyHeader is the parsed header of a .npy member.
type npyHeader struct {
	dtype   DType // "" when the descriptor is not one we know
	descr   string
	fortran bool
	shape   []int
	dataOff int // bytes before the data: magic, version, length, header
}

// maxNPYHeader bounds the header dict; real ones are < 200 bytes.
const maxNPYHeader = 1 << 20

var npyDescrs = map[string]DType{
	"<f4": F32, "<f2": F16, "<f8": F64,
	"|b1": Bool, "|u1": U8, "|i1": I8,
	"<i2": I16, "<u2": U16, "<i4": I32, "<u4": U32, "<i8": I64, "<u8": U64,
}

// parseNPYHeader parses the magic, version and header dict of a .npy file
// from its first bytes (b may hold more than the header).
func parseNPYHeader(b []byte) (npyHeader, error) {
	var h npyHeader
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return h, errors.New("not a .npy file (bad magic)")
	}
	var hlen, start int
	switch b[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return h, errors.New("truncated .npy header")
		}
		n := binary.LittleEndian.Uint32(b[8:12])
		if n > maxNPYHeader {
			return h, fmt.Errorf(".npy header length %d too large", n)
		}
		hlen, start = int(n), 12
	default:
		return h, fmt.Errorf("unsupported .npy version %d.%d", b[6], b[7])
	}
	if len(b) < start+hlen {
		return h, fmt.Errorf("truncated .npy header (%d bytes, need %d)", len(b), start+hlen)
	}
	h.dataOff = start + hlen
	d, err := parsePyDict(string(b[start : start+hlen]))
	if err != nil {
		return h, fmt.Errorf(".npy header: %w", err)
	}
	descr, ok := d["descr"].(string)
	if !ok {
		return h, errors.New(".npy header: missing or non-string 'descr'")
	}
	fortran, ok := d["fortran_order"].(bool)
	if !ok {
		return h, errors.New(".npy header: missing or non-bool 'fortran_order'")
	}
	shape, ok := d["shape"].([]int)
	if !ok {
		return h, errors.New(".npy header: missing or non-tuple 'shape'")
	}
	h.descr, h.fortran, h.shape = descr, fortran, shape
	h.dtype = npyDescrs[descr]
	if descr == "<f4" || descr == "=f4" {
		h.dtype = F32
	}
	return h, nil
}

// parsePyDict parses the Python literal NumPy writes as the header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. Only str,
// bool and tuples of ints are accepted as values.
func parsePyDict(s string) (map[string]any, error) {
	p := &pyParser{s: s}
	p.space()
	if !p.eat('{') {
		return nil, errors.New("header is not a dict")
	}
	out := map[string]any{}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(':') {
			return nil, fmt.Errorf("expected ':' after key %q", key)
		}
		p.space()
		val, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		out[key] = val
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat('}') {
			return nil, fmt.Errorf("expected ',' or '}' at offset %d", p.i)
		}
		break
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("trailing data at offset %d", p.i)
	}
	return out, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", fmt.Errorf("expected a string at offset %d", p.i)
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

func (p *pyParser) value() (any, error) {
	switch {
	case p.i >= len(p.s):
		return nil, errors.New("missing value")
	case p.s[p.i] == '\'' || p.s[p.i] == '"':
		return p.str()
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	case p.s[p.i] == '(':
		p.i++
		var dims []int
		for {
			p.space()
			if p.eat(')') {
				return append([]int{}, dims...), nil
			}
			j := p.i
			for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
				j++
			}
			if j == p.i {
				return nil, fmt.Errorf("expected a dimension at offset %d", p.i)
			}
			d, err := strconv.Atoi(p.s[p.i:j])
			if err != nil || d > math.MaxInt32*4096 {
				return nil, fmt.Errorf("dimension %q out of range", p.s[p.i:j])
			}
			p.i = j
			p.eat('L') // Python 2 longs: (3L, 4L)
			dims = append(dims, d)
			p.space()
			if !p.eat(',') {
				p.space()
				if !p.eat(')') {
					return nil, fmt.Errorf("expected ',' or ')' at offset %d", p.i)
				}
				return dims, nil
			}
		}
	default:
		return nil, fmt.Errorf("unsupported value at offset %d", p.i)
	}
}

// npzItem locates one .npy member of an archive.
type npzItem struct {
	zf  *zip.File
	hdr npyHeader
}

// float32 reads the member's data and converts it.
func (it *npzItem) float32(info Info) ([]float32, error) {
	if it.hdr.fortran && len(info.Shape) > 1 {
		return nil, errors.New("stored in Fortran order; only C order is supported")
	}
	rc, err := it.zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, int64(it.hdr.dataOff)); err != nil {
		return nil, fmt.Errorf("reading .npy header: %w", err)
	}
	out := make([]float32, info.Len())
	if info.DType == F32 && nativeLittle {
		// Read straight into the result: no second copy of a large matrix.
		if _, err := io.ReadFull(rc, float32Bytes(out)); err != nil {
			return nil, fmt.Errorf("reading data: %w", err)
		}
		return out, nil
	}
	raw := make([]byte, info.Len()*info.DType.Size())
	if _, err := io.ReadFull(rc, raw); err != nil {
		return nil, fmt.Errorf("reading data: %w", err)
	}
	decodeFloat32(out, raw, info.DType)
	return out, nil
}

// raw reads the member's data bytes.
func (it *npzItem) raw(info Info) ([]byte, error) {
	if it.hdr.fortran && len(info.Shape) > 1 {
		return nil, errors.New("stored in Fortran order; only C order is supported")
	}
	rc, err := it.zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, int64(it.hdr.dataOff)); err != nil {
		return nil, fmt.Errorf("reading .npy header: %w", err)
	}
	raw := make([]byte, info.Len()*info.DType.Size())
	if _, err := io.ReadFull(rc, raw); err != nil {
		return nil, fmt.Errorf("reading data: %w", err)
	}
	return raw, nil
}

// OpenNPZ opens a NumPy .npz archive; member "X.npy" appears as tensor "X".
// Headers are checked on open; data is read by Float32.
func OpenNPZ(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, err
	}
	f, err := parseNPZ(path, fd, st.Size())
	if err != nil {
		fd.Close()
		return nil, err
	}
	f.closer = fd.Close
	return f, nil
}

// ParseNPZ reads an .npz archive held in memory; name is used in errors.
func ParseNPZ(name string, data []byte) (*File, error) {
	return parseNPZ(name, bytes.NewReader(data), int64(len(data)))
}

func parseNPZ(name string, r io.ReaderAt, size int64) (*File, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid .npz (zip) archive: %w", name, err)
	}
	f := &File{path: name, tensors: map[string]*entry{}}
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		tname := strings.TrimSuffix(zf.Name, ".npy")
		if _, dup := f.tensors[tname]; dup {
			return nil, fmt.Errorf("%s: duplicate member %q", name, zf.Name)
		}
		hdr, err := readNPYHeader(zf)
		if err != nil {
			return nil, fmt.Errorf("%s: member %q: %w", name, zf.Name, err)
		}
		dt := hdr.dtype
		if dt == "" {
			dt = DType("npy:" + hdr.descr)
		}
		count, err := shapeLen(hdr.shape, math.MaxInt/16)
		if err != nil {
			return nil, fmt.Errorf("%s: member %q: %w", name, zf.Name, err)
		}
		if hdr.dtype != "" {
			want := uint64(hdr.dataOff) + uint64(count)*uint64(hdr.dtype.Size())
			if zf.UncompressedSize64 != want {
				return nil, fmt.Errorf("%s: member %q: shape %v of %s needs %d bytes with its header, member holds %d",
					name, zf.Name, hdr.shape, hdr.descr, want, zf.UncompressedSize64)
			}
		}
		f.tensors[tname] = &entry{info: Info{Name: tname, DType: dt, Shape: hdr.shape}, npz: &npzItem{zf: zf, hdr: hdr}}
	}
	f.names = sortedNames(f.tensors)
	return f, nil
}

// readNPYHeader reads just enough of a member to parse its header.
func readNPYHeader(zf *zip.File) (npyHeader, error) {
	rc, err := zf.Open()
	if err != nil {
		return npyHeader{}, err
	}
	defer rc.Close()
	pre := make([]byte, 12)
	n, _ := io.ReadFull(rc, pre)
	pre = pre[:n]
	if n < 10 || string(pre[:6]) != "\x93NUMPY" {
		return npyHeader{}, errors.New("not a .npy file (bad magic)")
	}
	hlen, start := int(binary.LittleEndian.Uint16(pre[8:10])), 10
	if pre[6] >= 2 {
		if n < 12 {
			return npyHeader{}, errors.New("truncated .npy header")
		}
		l := binary.LittleEndian.Uint32(pre[8:12])
		if l > maxNPYHeader {
			return npyHeader{}, fmt.Errorf(".npy header length %d too large", l)
		}
		hlen, start = int(l), 12
	}
	buf := make([]byte, start+hlen)
	copy(buf, pre)
	if start+hlen > n {
		if _, err := io.ReadFull(rc, buf[n:]); err != nil {
			return npyHeader{}, fmt.Errorf("truncated .npy header: %w", err)
		}
	}
	return parseNPYHeader(buf)
}

// Open opens a tensor file by extension: .npz as an archive, anything else
// as safetensors.
func Open(path string) (*File, error) {
	if strings.HasSuffix(strings.ToLower(path), ".npz") {
		return OpenNPZ(path)
	}
	return OpenSafetensors(path)
}
