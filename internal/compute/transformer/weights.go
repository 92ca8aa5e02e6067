package transformer

import (
	"fmt"

	"saex/internal/compute/tensor"
)

// weightSource fetches a tensor by its checkpoint name with its shape
// checked; errors name the file and the tensor.
type weightSource interface {
	has(name string) bool
	// get converts the tensor to float32.
	get(name string, shape ...int) ([]float32, error)
	// half returns a BF16 or F16 tensor's raw values (a view of the mapped
	// file where possible) and its dtype; ok is false for other dtypes.
	half(name string, shape ...int) (raw []uint16, dt tensor.DType, ok bool, err error)
	// release says the tensor's mapped pages will not be read again.
	release(name string)
	origin() string // the file to name in errors
}

// checkpointSource reads a Hugging Face checkpoint (one file or shards).
type checkpointSource struct{ c *tensor.Checkpoint }

func (s checkpointSource) origin() string { return s.c.Path() }

func (s checkpointSource) has(name string) bool { _, ok := s.c.Info(name); return ok }

func (s checkpointSource) get(name string, shape ...int) ([]float32, error) {
	if !s.has(name) {
		return nil, fmt.Errorf("transformer: %s: tensor %q is missing", s.c.Path(), name)
	}
	return s.c.Float32(name, shape...)
}

func (s checkpointSource) half(name string, shape ...int) ([]uint16, tensor.DType, bool, error) {
	info, ok := s.c.Info(name)
	if !ok {
		return nil, "", false, fmt.Errorf("transformer: %s: tensor %q is missing", s.c.Path(), name)
	}
	if info.DType != tensor.BF16 && info.DType != tensor.F16 {
		return nil, "", false, nil
	}
	raw, dt, err := s.c.Uint16s(name, shape...)
	return raw, dt, err == nil, err
}

func (s checkpointSource) release(name string) { _ = s.c.Release(name) }

// matrix16 is a [rows, cols] matrix kept as stored, 32- or 16-bit: the
// embeddings, read a row at a time, and an unembedding packed on first
// use.
type matrix16 struct {
	f32     []float32
	u16     []uint16
	dt      tensor.DType // of u16
	release func()       // drops a mapped u16 view's pages from the resident set (nil: nothing to drop)
}

func (w matrix16) isNil() bool { return w.f32 == nil && w.u16 == nil }

// row writes row r (width d) into dst as float32.
func (w matrix16) row(dst []float32, r, d int) {
	if w.f32 != nil {
		copy(dst, w.f32[r*d:(r+1)*d])
		return
	}
	tensor.Widen(dst, w.u16[r*d:(r+1)*d], w.dt)
}

// float32s returns the whole matrix as float32 (a copy when 16-bit).
func (w matrix16) float32s() []float32 {
	if w.f32 != nil {
		return w.f32
	}
	out := make([]float32, len(w.u16))
	tensor.Widen(out, w.u16, w.dt)
	return out
}
