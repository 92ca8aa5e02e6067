package dashboard

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Token stream and contexts, as SAELens builds its training batches:
// documents are concatenated with a separator token (BOS; SAELens's
// sequence_separator_token "bos") between them, and each context is [BOS]
// followed by the next contextSize-1 tokens of the stream (or the next
// contextSize tokens when the SAEs do not prepend BOS). A separator that
// would directly follow the context's own BOS is dropped rather than
// doubled. The last, shorter context is kept when it holds a real token.

// packer cuts the token stream into contexts.
type packer struct {
	size    int   // tokens per context, BOS included
	bos     int32 // BOS id prepended to every context (-1: none)
	sep     int32 // separator between documents (-1: none)
	limit   int   // stop after this many contexts (0: no limit)
	cur     []int32
	n       int  // contexts emitted
	started bool // a document has been added (separators go between documents)
	emit    func(ctx []int32) error
}

var errEnough = errors.New("context limit reached")

func (p *packer) full() bool { return p.limit > 0 && p.n >= p.limit }

func (p *packer) push(tok int32) error {
	if p.full() {
		return errEnough
	}
	if len(p.cur) == 0 && p.bos >= 0 {
		p.cur = append(p.cur, p.bos)
	}
	if p.bos >= 0 && tok == p.sep && len(p.cur) == 1 {
		return nil // no second BOS right after the context's own
	}
	p.cur = append(p.cur, tok)
	if len(p.cur) == p.size {
		return p.flush()
	}
	return nil
}

func (p *packer) flush() error {
	real := false
	for _, t := range p.cur {
		if t != p.bos && t != p.sep {
			real = true
			break
		}
	}
	if real {
		if err := p.emit(p.cur); err != nil {
			return err
		}
		p.n++
	}
	p.cur = p.cur[:0]
	if p.full() {
		return errEnough
	}
	return nil
}

// document adds one document's tokens; cont says it continues the
// previous one (a piece of a plain-text file), so no separator goes first.
func (p *packer) document(ids []int, cont bool) error {
	if p.started && !cont && p.sep >= 0 {
		if err := p.push(p.sep); err != nil {
			return err
		}
	}
	p.started = true
	for _, id := range ids {
		if err := p.push(int32(id)); err != nil {
			return err
		}
	}
	return nil
}

// finish emits the last partial context.
func (p *packer) finish() error {
	if len(p.cur) == 0 || p.full() {
		return nil
	}
	return p.flush()
}

// contextsFile holds every context's token ids at a fixed stride, so a
// context can be read back by index: a header, then per context a uint32
// length and size uint32 slots (unused slots hold 0xFFFFFFFF).
type contextsFile struct {
	f     *os.File
	size  int // slots per context
	count int
}

const contextsMagic = "SAEXCTX1"

func (c *contextsFile) stride() int64 { return int64(4 + 4*c.size) }

func contextsHeaderLen() int64 { return int64(len(contextsMagic) + 4) }

// writeContexts writes a contexts file at path (through a temporary file
// renamed at the end) from the contexts gen produces.
func writeContexts(path string, size int, gen func(emit func([]int32) error) error) (int, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(f, 1<<16)
	hdr := make([]byte, 0, contextsHeaderLen())
	hdr = append(hdr, contextsMagic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(size))
	w.Write(hdr)
	n := 0
	rec := make([]byte, 4+4*size)
	err = gen(func(ctx []int32) error {
		binary.LittleEndian.PutUint32(rec, uint32(len(ctx)))
		for i := 0; i < size; i++ {
			v := uint32(0xFFFFFFFF)
			if i < len(ctx) {
				v = uint32(ctx[i])
			}
			binary.LittleEndian.PutUint32(rec[4+4*i:], v)
		}
		n++
		_, err := w.Write(rec)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return n, os.Rename(tmp, path)
}

// openContexts opens a contexts file written by writeContexts.
func openContexts(path string, size int) (*contextsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, contextsHeaderLen())
	if _, err := io.ReadFull(f, hdr); err != nil || string(hdr[:len(contextsMagic)]) != contextsMagic {
		f.Close()
		return nil, fmt.Errorf("%s: not a contexts file", path)
	}
	if got := int(binary.LittleEndian.Uint32(hdr[len(contextsMagic):])); got != size {
		f.Close()
		return nil, fmt.Errorf("%s: contexts of %d tokens, want %d", path, got, size)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &contextsFile{f: f, size: size}
	body := st.Size() - contextsHeaderLen()
	if body%c.stride() != 0 {
		f.Close()
		return nil, fmt.Errorf("%s: truncated (%d bytes after the header is not a whole number of contexts)", path, body)
	}
	c.count = int(body / c.stride())
	return c, nil
}

// read returns contexts [first, first+n) as token-id slices.
func (c *contextsFile) read(first, n int) ([][]int32, error) {
	if first < 0 || n < 0 || first+n > c.count {
		return nil, fmt.Errorf("contexts [%d,%d) outside the %d stored", first, first+n, c.count)
	}
	buf := make([]byte, int64(n)*c.stride())
	if _, err := c.f.ReadAt(buf, contextsHeaderLen()+int64(first)*c.stride()); err != nil {
		return nil, fmt.Errorf("%s: %w", c.f.Name(), err)
	}
	out := make([][]int32, n)
	flat := make([]int32, 0, n*c.size)
	for i := range out {
		rec := buf[int64(i)*c.stride():]
		l := int(binary.LittleEndian.Uint32(rec))
		if l <= 0 || l > c.size {
			return nil, fmt.Errorf("%s: context %d has length %d", c.f.Name(), first+i, l)
		}
		start := len(flat)
		for j := 0; j < l; j++ {
			flat = append(flat, int32(binary.LittleEndian.Uint32(rec[4+4*j:])))
		}
		out[i] = flat[start:len(flat):len(flat)]
	}
	return out, nil
}

func (c *contextsFile) Close() error { return c.f.Close() }
