package tensor

import (
	"fmt"
	"math"
	"unsafe"
)

// Uint16s returns the elements of the named BF16 or F16 tensor as their raw
// 16-bit values (bf16: the upper half of a float32; f16: IEEE binary16) and
// the dtype. For a memory-mapped safetensors file the slice aliases the
// read-only mapping, so 16-bit weights stay 16-bit and cost no copy: it is
// valid until Close and must not be written. Where the data cannot be viewed
// in place (a tensor at an odd offset, a big-endian host, an npz member) the
// values are copied. When shape is given it must match the stored shape
// exactly. Errors name the file and the tensor.
func (f *File) Uint16s(name string, shape ...int) ([]uint16, DType, error) {
	e, err := f.lookup(name, shape)
	if err != nil {
		return nil, "", err
	}
	dt := e.info.DType
	if dt != BF16 && dt != F16 {
		return nil, "", fmt.Errorf("%s: tensor %q has dtype %s, want BF16 or F16", f.path, name, dt)
	}
	data := e.data
	if e.npz != nil {
		if data, err = e.npz.raw(e.info); err != nil {
			return nil, "", fmt.Errorf("%s: tensor %q: %w", f.path, name, err)
		}
	}
	n := len(data) / 2
	if n == 0 {
		return []uint16{}, dt, nil
	}
	if nativeLittle && uintptr(unsafe.Pointer(unsafe.SliceData(data)))%2 == 0 {
		return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(data))), n), dt, nil
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = uint16(data[2*i]) | uint16(data[2*i+1])<<8
	}
	return out, dt, nil
}

// Release tells the operating system that the named tensor's mapped pages
// will not be read again soon, typically right after the tensor was packed
// into its own memory: they leave the process's resident set instead of
// doubling the weights' footprint until Close. The tensor stays readable
// (its pages fault back in from the page cache); neighbouring tensors
// sharing a page at either end are unaffected except for a refault. It does
// nothing for a file that is not memory-mapped or a tensor it lacks.
func (f *File) Release(name string) error {
	if !f.mapped || f.tensors == nil {
		return nil
	}
	e, ok := f.tensors[name]
	if !ok || len(e.data) == 0 {
		return nil
	}
	if err := releasePages(f.mapping, e.data); err != nil {
		return fmt.Errorf("%s: release tensor %q: %w", f.path, name, err)
	}
	return nil
}

// lookup finds an open tensor and checks the shape the caller expects.
func (f *File) lookup(name string, shape []int) (*entry, error) {
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
	return e, nil
}

// Widen converts 16-bit values of dtype dt (BF16 or F16, as Uint16s returns
// them) to float32, exactly, into dst: one row of a 16-bit embedding matrix
// for a token, say, without widening the whole matrix. len(dst) must equal
// len(src); a mismatch or another dtype is a programmer error and panics.
func Widen(dst []float32, src []uint16, dt DType) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("tensor: Widen: len(dst)=%d != len(src)=%d", len(dst), len(src)))
	}
	switch dt {
	case BF16:
		for i, h := range src {
			dst[i] = math.Float32frombits(uint32(h) << 16)
		}
	case F16:
		for i, h := range src {
			dst[i] = HalfToFloat32(h)
		}
	default:
		panic(fmt.Sprintf("tensor: Widen: dtype %s, want BF16 or F16", dt))
	}
}
