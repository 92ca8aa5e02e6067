package tensor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// MaxHeaderSize caps the JSON header of a safetensors file, as the
// reference implementation does, so a corrupt length cannot exhaust memory.
const MaxHeaderSize = 100 << 20

// OpenSafetensors maps a safetensors file read-only and validates its
// header. Tensor data is not read until Float32 is called.
func OpenSafetensors(path string) (*File, error) {
	data, release, mapped, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseSafetensors(path, data)
	if err != nil {
		_ = release()
		return nil, err
	}
	f.closer = release
	f.mapped, f.mapping = mapped, data
	return f, nil
}

// ParseSafetensors validates a safetensors file held in memory; name is
// used in errors. The File aliases data.
func ParseSafetensors(name string, data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%s: truncated safetensors file (%d bytes, need at least 8 for the header length)", name, len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%s: safetensors header length %d exceeds the %d-byte limit", name, n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%s: safetensors header length %d runs past the end of the file (%d bytes)", name, n, len(data))
	}
	header := data[8 : 8+n]
	buf := data[8+n:]
	if len(header) == 0 || header[0] != '{' {
		return nil, fmt.Errorf("%s: safetensors header is not a JSON object", name)
	}
	raw, meta, err := parseHeader(header)
	if err != nil {
		return nil, fmt.Errorf("%s: safetensors header: %w", name, err)
	}
	f := &File{path: name, tensors: make(map[string]*entry, len(raw)), metadata: meta}
	type span struct {
		name       string
		begin, end int
	}
	spans := make([]span, 0, len(raw))
	for _, r := range raw {
		dt := DType(r.DType)
		size := dt.Size()
		if size == 0 {
			return nil, fmt.Errorf("%s: tensor %q: unknown dtype %q", name, r.name, r.DType)
		}
		if r.Shape == nil {
			return nil, fmt.Errorf("%s: tensor %q: missing shape", name, r.name)
		}
		if len(r.Offsets) != 2 {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets must be [begin, end], got %v", name, r.name, r.Offsets)
		}
		begin, end := r.Offsets[0], r.Offsets[1]
		if begin > end || end > uint64(len(buf)) {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] out of range (data buffer is %d bytes)", name, r.name, begin, end, len(buf))
		}
		shape := make([]int, len(r.Shape))
		for i, d := range r.Shape {
			if d > math.MaxInt {
				return nil, fmt.Errorf("%s: tensor %q: dimension %d too large", name, r.name, d)
			}
			shape[i] = int(d)
		}
		count, err := shapeLen(shape, len(buf))
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w (data buffer is %d bytes)", name, r.name, err, len(buf))
		}
		if uint64(count)*uint64(size) != end-begin {
			return nil, fmt.Errorf("%s: tensor %q: shape %v of %s needs %d bytes but data_offsets [%d, %d] hold %d",
				name, r.name, shape, dt, uint64(count)*uint64(size), begin, end, end-begin)
		}
		f.tensors[r.name] = &entry{info: Info{Name: r.name, DType: dt, Shape: shape}, data: buf[begin:end:end]}
		spans = append(spans, span{r.name, int(begin), int(end)})
	}
	// The format forbids overlaps and holes: tensors tile the buffer exactly.
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	pos, prev := 0, ""
	for _, s := range spans {
		if s.begin < pos {
			return nil, fmt.Errorf("%s: tensor %q (bytes [%d, %d]) overlaps tensor %q (ends at %d)", name, s.name, s.begin, s.end, prev, pos)
		}
		if s.begin > pos {
			return nil, fmt.Errorf("%s: hole in data buffer: bytes [%d, %d] before tensor %q belong to no tensor", name, pos, s.begin, s.name)
		}
		pos, prev = s.end, s.name
	}
	if pos != len(buf) {
		return nil, fmt.Errorf("%s: data buffer is %d bytes but tensors cover only %d", name, len(buf), pos)
	}
	f.names = sortedNames(f.tensors)
	return f, nil
}

type rawEntry struct {
	name    string
	DType   string   `json:"dtype"`
	Shape   []uint64 `json:"shape"`
	Offsets []uint64 `json:"data_offsets"`
}

// parseHeader decodes the header object key by key so duplicate keys (which
// a map decode would silently merge) are rejected.
func parseHeader(header []byte) ([]rawEntry, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil { // '{', checked by the caller
		return nil, nil, err
	}
	seen := map[string]bool{}
	var entries []rawEntry
	var meta map[string]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("unexpected %v", tok)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if key == "__metadata__" {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, fmt.Errorf("__metadata__ must be an object of strings: %w", err)
			}
			continue
		}
		var e rawEntry
		if err := dec.Decode(&e); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", key, err)
		}
		e.name = key
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, err
	}
	// Only the padding spaces the format allows may follow the object.
	for _, c := range header[dec.InputOffset():] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return nil, nil, errors.New("trailing data after the JSON object")
		}
	}
	return entries, meta, nil
}

// WriteSafetensors writes F32 tensors, sorted by name, with the header
// padded to a multiple of 8 bytes as the reference writer does.
func WriteSafetensors(w io.Writer, tensors map[string]Tensor32, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == "__metadata__" {
			return errors.New("write safetensors: tensor name __metadata__ is reserved")
		}
		names = append(names, n)
	}
	sort.Strings(names)
	type hdrEntry struct {
		DType   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets [2]int `json:"data_offsets"`
	}
	hdr := make(map[string]any, len(names)+1)
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	off := 0
	for _, n := range names {
		t := tensors[n]
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		count, err := shapeLen(shape, math.MaxInt/8)
		if err != nil {
			return fmt.Errorf("write safetensors: tensor %q: %w", n, err)
		}
		if count != len(t.Data) {
			return fmt.Errorf("write safetensors: tensor %q: shape %v needs %d values, have %d", n, shape, count, len(t.Data))
		}
		hdr[n] = hdrEntry{DType: string(F32), Shape: shape, Offsets: [2]int{off, off + 4*count}}
		off += 4 * count
	}
	js, err := json.Marshal(hdr) // map keys are sorted: deterministic output
	if err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	bw := bufio.NewWriter(w)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	bw.Write(lenBuf[:])
	bw.Write(js)
	var b [4]byte
	for _, n := range names {
		for _, v := range tensors[n].Data {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}
