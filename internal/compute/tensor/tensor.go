// Package tensor reads safetensors files and NumPy .npy/.npz archives and
// converts their float tensors to []float32. Large safetensors files are
// memory-mapped read-only, so opening one costs almost nothing and only the
// tensors asked for are copied.
package tensor

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// DType is a tensor element type, spelled as in the safetensors header
// ("F32", "F16", "BF16", ...). NumPy descriptors are mapped onto the same
// names ("<f4" is F32).
type DType string

// Element types known to the safetensors format.
const (
	Bool   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
	F8E8M0 DType = "F8_E8M0"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	F64    DType = "F64"
	I64    DType = "I64"
	U64    DType = "U64"
	C64    DType = "C64"
)

var dtypeSizes = map[DType]int{
	Bool: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1, F8E8M0: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8, C64: 8,
}

// Size returns the size of one element in bytes, or 0 for an unknown type.
func (d DType) Size() int { return dtypeSizes[d] }

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType DType
	Shape []int
}

// Len is the number of elements (1 for a 0-rank tensor).
func (i Info) Len() int {
	n := 1
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

// Tensor32 is a float32 tensor in row-major (C) order.
type Tensor32 struct {
	Shape []int
	Data  []float32
}

// entry is one tensor of an open File: either a byte range of the
// safetensors buffer or a member of an npz archive.
type entry struct {
	info Info
	data []byte   // safetensors: the tensor's bytes (aliases the mapping)
	npz  *npzItem // npz: where to read the member from
}

// File is an open safetensors file (mmapped, read-only) or npz archive.
// It is safe for concurrent readers; Close must not race with them.
type File struct {
	path     string
	tensors  map[string]*entry
	names    []string
	metadata map[string]string
	closer   func() error
	mapped   bool   // data aliases a read-only mmap of the file
	mapping  []byte // the whole mapping, when mapped
}

// Path returns the name the file was opened with (used in errors).
func (f *File) Path() string { return f.path }

// Close releases the mapping or archive. Slices returned by Float32 stay valid.
func (f *File) Close() error {
	if f == nil || f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	f.tensors = nil
	return c()
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info returns the dtype and shape of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	e, ok := f.tensors[name]
	if !ok {
		return Info{}, false
	}
	i := e.info
	i.Shape = append([]int(nil), i.Shape...)
	return i, true
}

// Metadata returns the safetensors "__metadata__" map (nil when absent).
func (f *File) Metadata() map[string]string {
	if f.metadata == nil {
		return nil
	}
	m := make(map[string]string, len(f.metadata))
	for k, v := range f.metadata {
		m[k] = v
	}
	return m
}

// Float32 converts the named tensor (F32, F16, BF16 or F64) to a new
// []float32 in row-major order. When shape is given it must match the
// stored shape exactly. Errors name the file and the tensor.
func (f *File) Float32(name string, shape ...int) ([]float32, error) {
	e, err := f.lookup(name, shape)
	if err != nil {
		return nil, err
	}
	if !e.info.DType.IsFloat() {
		return nil, fmt.Errorf("%s: tensor %q has dtype %s, want F32, F16, BF16 or F64", f.path, name, e.info.DType)
	}
	if e.npz != nil {
		out, err := e.npz.float32(e.info)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.path, name, err)
		}
		return out, nil
	}
	out := make([]float32, e.info.Len())
	decodeFloat32(out, e.data, e.info.DType)
	return out, nil
}

// decodeFloat32 converts little-endian src of dtype dt into dst; the caller
// has checked that len(src) == len(dst)*dt.Size().
func decodeFloat32(dst []float32, src []byte, dt DType) {
	switch dt {
	case F32:
		copyF32(dst, src)
	case F16:
		for i := range dst {
			dst[i] = HalfToFloat32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits((uint32(src[2*i]) | uint32(src[2*i+1])<<8) << 16)
		}
	case F64:
		for i := range dst {
			b := src[8*i : 8*i+8]
			u := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
				uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
			dst[i] = float32(math.Float64frombits(u))
		}
	}
}

// HalfToFloat32 decodes an IEEE 754 binary16 value (exactly: every half is
// representable as a float32).
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN; keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	default: // subnormal half: mant * 2^-24, a normal float32
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func summarizeNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) > 8 {
		return strings.Join(names[:8], ", ") + fmt.Sprintf(", ... (%d in all)", len(names))
	}
	return strings.Join(names, ", ")
}

func sortedNames(m map[string]*entry) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// shapeLen multiplies dims, rejecting negative dims and products that
// overflow or exceed limit elements.
func shapeLen(shape []int, limit int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > limit/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}
