package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// IsFloat reports whether Float32 can convert the dtype.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 || d == F64 }

// IsInt reports whether Int64 can convert the dtype.
func (d DType) IsInt() bool {
	switch d {
	case I8, U8, I16, U16, I32, U32, I64, U64, Bool:
		return true
	}
	return false
}

// Int64 converts the named integer tensor (I8..I64, U8..U64, BOOL) to a
// new []int64, e.g. token ids and feature indices in reference files.
// When shape is given it must match exactly. U64 values above MaxInt64 are
// an error.
func (f *File) Int64(name string, shape ...int) ([]int64, error) {
	if f.tensors == nil {
		return nil, fmt.Errorf("%s: file is closed", f.path)
	}
	e, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q (have %s)", f.path, name, summarizeNames(f.names))
	}
	if shape != nil && !equalShape(shape, e.info.Shape) {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v", f.path, name, e.info.Shape, shape)
	}
	dt := e.info.DType
	if !dt.IsInt() {
		return nil, fmt.Errorf("%s: tensor %q has dtype %s, want an integer dtype", f.path, name, dt)
	}
	src := e.data
	if e.npz != nil {
		var err error
		if src, err = e.npz.raw(e.info); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.path, name, err)
		}
	}
	le := binary.LittleEndian
	out := make([]int64, e.info.Len())
	for i := range out {
		switch dt {
		case I8:
			out[i] = int64(int8(src[i]))
		case U8, Bool:
			out[i] = int64(src[i])
		case I16:
			out[i] = int64(int16(le.Uint16(src[2*i:])))
		case U16:
			out[i] = int64(le.Uint16(src[2*i:]))
		case I32:
			out[i] = int64(int32(le.Uint32(src[4*i:])))
		case U32:
			out[i] = int64(le.Uint32(src[4*i:]))
		case I64:
			out[i] = int64(le.Uint64(src[8*i:]))
		case U64:
			u := le.Uint64(src[8*i:])
			if u > math.MaxInt64 {
				return nil, fmt.Errorf("%s: tensor %q: value %d at %d overflows int64", f.path, name, u, i)
			}
			out[i] = int64(u)
		}
	}
	return out, nil
}
