package dashboard

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"saex/internal/compute/sae"
)

// codes is one SAE's sparse output over a run of tokens in CSR form: the
// features of token t are idx[off[t]:off[t+1]] with values val[...].
// BOS positions have no features.
type codes struct {
	off []int32
	idx []int32
	val []float32
}

func (c *codes) tokens() int { return len(c.off) - 1 }

// fromSparse converts an encode's per-token output to CSR, dropping the
// positions skip marks (BOS) and any non-positive value.
func fromSparse(dst *codes, feats []sae.Sparse, skip []bool) {
	n := 0
	for t, f := range feats {
		if !skip[t] {
			n += len(f.Indices)
		}
	}
	dst.off = append(dst.off[:0], 0)
	dst.idx = slicesGrow(dst.idx[:0], n)
	dst.val = slicesGrowF(dst.val[:0], n)
	for t, f := range feats {
		if !skip[t] {
			for j, v := range f.Values {
				if v > 0 {
					dst.idx = append(dst.idx, f.Indices[j])
					dst.val = append(dst.val, v)
				}
			}
		}
		dst.off = append(dst.off, int32(len(dst.idx)))
	}
}

func slicesGrow(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, 0, n)
	}
	return s
}

func slicesGrowF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, 0, n)
	}
	return s
}

// Spill chunk file: the sparse codes of every SAE for one chunk of
// contexts, so that pass 2 (and a resumed build) never reruns the model.
//
//	magic "SAEXSPL1"
//	u32 chunk, u32 first context, u32 contexts, u32 tokens, u32 SAEs, u32 index width (2 or 4)
//	per SAE: u64 section length
//	u32 CRC-32C of the sections
//	sections, per SAE: u32 nnz, u32 count per token, index per entry (u16 or u32), f32 value per entry
//
// A chunk is written to a temporary name and renamed: a file that exists
// is complete (the CRC guards against a damaged disk, not a crash).
const spillMagic = "SAEXSPL1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type chunkHeader struct {
	chunk, first, contexts, tokens int
	idxWidth                       int
	sections                       []int64
}

func spillHeaderLen(nsae int) int { return len(spillMagic) + 6*4 + 8*nsae + 4 }

// writeChunk writes one chunk's codes (one per SAE) to path; scratch is
// a reusable encoding buffer.
func writeChunk(path string, h chunkHeader, cs []*codes, scratch *[]byte) error {
	h.sections = make([]int64, len(cs))
	for i, c := range cs {
		h.sections[i] = int64(8 + 4*c.tokens() + (h.idxWidth+4)*len(c.idx))
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(f, 1<<18)
	hdr := make([]byte, 0, spillHeaderLen(len(cs)))
	hdr = append(hdr, spillMagic...)
	for _, v := range []int{h.chunk, h.first, h.contexts, h.tokens, len(cs), h.idxWidth} {
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(v))
	}
	for _, s := range h.sections {
		hdr = binary.LittleEndian.AppendUint64(hdr, uint64(s))
	}
	// Reserve the CRC; it is patched once the body is written.
	hdr = binary.LittleEndian.AppendUint32(hdr, 0)
	w.Write(hdr)
	body := io.MultiWriter(w, crc)
	buf := (*scratch)[:0]
	defer func() { *scratch = buf }()
	for _, c := range cs {
		buf = appendSection(buf[:0], c, h.idxWidth)
		if _, err := body.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := f.WriteAt(sum[:], int64(spillHeaderLen(len(cs))-4)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// appendSection appends one SAE's codes in the spill's section encoding
// (also a distributed build's stored partial).
func appendSection(buf []byte, c *codes, width int) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(c.idx)))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(c.tokens()))
	for t := 0; t < c.tokens(); t++ {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(c.off[t+1]-c.off[t]))
	}
	for _, ix := range c.idx {
		if width == 2 {
			buf = binary.LittleEndian.AppendUint16(buf, uint16(ix))
		} else {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(ix))
		}
	}
	for _, v := range c.val {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	return buf
}

// readChunk reads a chunk file whole (into *scratch, reused), checks it
// and decodes the sections of the SAEs want selects (nil: all) into dst
// (reused).
func readChunk(path string, nsae int, want []bool, dst []*codes, scratch *[]byte) (chunkHeader, error) {
	data, err := readFileInto(path, scratch)
	if err != nil {
		return chunkHeader{}, err
	}
	bad := func(format string, args ...any) (chunkHeader, error) {
		return chunkHeader{}, fmt.Errorf("spill %s: %s", path, fmt.Sprintf(format, args...))
	}
	hl := spillHeaderLen(nsae)
	if len(data) < hl || string(data[:len(spillMagic)]) != spillMagic {
		return bad("not a spill chunk")
	}
	u32 := func(off int) int { return int(binary.LittleEndian.Uint32(data[off:])) }
	p := len(spillMagic)
	h := chunkHeader{chunk: u32(p), first: u32(p + 4), contexts: u32(p + 8), tokens: u32(p + 12), idxWidth: u32(p + 20)}
	if n := u32(p + 16); n != nsae {
		return bad("holds %d SAEs, want %d", n, nsae)
	}
	if h.idxWidth != 2 && h.idxWidth != 4 {
		return bad("index width %d", h.idxWidth)
	}
	p += 24
	total := int64(hl)
	for i := 0; i < nsae; i++ {
		s := int64(binary.LittleEndian.Uint64(data[p:]))
		h.sections = append(h.sections, s)
		total += s
		p += 8
	}
	if total != int64(len(data)) {
		return bad("%d bytes, the header says %d", len(data), total)
	}
	if crc32.Checksum(data[hl:], castagnoli) != binary.LittleEndian.Uint32(data[p:]) {
		return bad("checksum mismatch")
	}
	off := hl
	for i := 0; i < nsae; i++ {
		sec := data[off : off+int(h.sections[i])]
		off += int(h.sections[i])
		if want != nil && !want[i] {
			continue
		}
		if err := decodeSection(sec, h.tokens, h.idxWidth, dst[i]); err != nil {
			return bad("SAE %d: %v", i, err)
		}
	}
	return h, nil
}

func decodeSection(sec []byte, tokens, width int, c *codes) error {
	if len(sec) < 8 {
		return fmt.Errorf("short section")
	}
	nnz := int(binary.LittleEndian.Uint32(sec))
	if nt := int(binary.LittleEndian.Uint32(sec[4:])); nt != tokens {
		return fmt.Errorf("%d tokens, want %d", nt, tokens)
	}
	if len(sec) != 8+4*tokens+(width+4)*nnz {
		return fmt.Errorf("section of %d bytes does not fit %d tokens and %d entries", len(sec), tokens, nnz)
	}
	c.off = append(c.off[:0], 0)
	p := 8
	sum := int32(0)
	for t := 0; t < tokens; t++ {
		sum += int32(binary.LittleEndian.Uint32(sec[p:]))
		c.off = append(c.off, sum)
		p += 4
	}
	if int(sum) != nnz {
		return fmt.Errorf("per-token counts sum to %d, want %d", sum, nnz)
	}
	c.idx = slicesGrow(c.idx[:0], nnz)[:nnz]
	c.val = slicesGrowF(c.val[:0], nnz)[:nnz]
	for j := 0; j < nnz; j++ {
		if width == 2 {
			c.idx[j] = int32(binary.LittleEndian.Uint16(sec[p:]))
			p += 2
		} else {
			c.idx[j] = int32(binary.LittleEndian.Uint32(sec[p:]))
			p += 4
		}
	}
	for j := 0; j < nnz; j++ {
		c.val[j] = math.Float32frombits(binary.LittleEndian.Uint32(sec[p:]))
		p += 4
	}
	return nil
}

// readFileInto reads a whole file into *buf, growing it as needed.
func readFileInto(path string, buf *[]byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := int(st.Size())
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	data := (*buf)[:n]
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}
