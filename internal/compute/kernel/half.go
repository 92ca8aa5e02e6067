package kernel

import (
	"fmt"
	"math"
	"unsafe"
)

// Elem is the element type a Packed matrix is stored in. Products always
// compute in float32: 16-bit elements are widened as the kernel reads them
// (exactly: every bf16 and every f16 value is a float32), so a product with
// a 16-bit matrix equals, bit for bit, the product with Pack of its widened
// values, while the weights take half the memory.
type Elem uint8

const (
	F32  Elem = iota // IEEE binary32 (Pack, PackTransposed)
	BF16             // bfloat16: the upper half of a binary32
	F16              // IEEE binary16
)

func (e Elem) String() string {
	switch e {
	case F32:
		return "F32"
	case BF16:
		return "BF16"
	case F16:
		return "F16"
	}
	return fmt.Sprintf("Elem(%d)", uint8(e))
}

// Size is the number of bytes one element takes.
func (e Elem) Size() int {
	if e == F32 {
		return 4
	}
	return 2
}

// Elem returns the element type the matrix is stored in.
func (p *Packed) Elem() Elem { return p.elem }

// Bytes returns the memory the packed panels take (padding included).
func (p *Packed) Bytes() int { return p.panels * p.k * panelWidth * p.elem.Size() }

// panel16 returns the k×64 16-bit panel holding columns [64j, 64j+64).
func (p *Packed) panel16(j int) []uint16 {
	sz := p.k * panelWidth
	return p.half[j*sz : (j+1)*sz : (j+1)*sz]
}

// PackBF16 packs the row-major K×N bfloat16 matrix raw (len k*n; each value
// the upper 16 bits of a float32, as safetensors "BF16" stores them) into
// 16-bit panels.
func PackBF16(raw []uint16, k, n int) *Packed { return pack16(BF16, "PackBF16", raw, k, n, false) }

// PackBF16Transposed packs the K×N bfloat16 matrix whose transpose (N×K,
// row-major) is given: a Hugging Face Linear weight [out, in] used as
// x @ Wᵀ, with K = in and N = out.
func PackBF16Transposed(rawT []uint16, k, n int) *Packed {
	return pack16(BF16, "PackBF16Transposed", rawT, k, n, true)
}

// PackF16 packs the row-major K×N IEEE half-precision matrix raw (len k*n)
// into 16-bit panels.
func PackF16(raw []uint16, k, n int) *Packed { return pack16(F16, "PackF16", raw, k, n, false) }

// PackF16Transposed is PackBF16Transposed for IEEE half precision.
func PackF16Transposed(rawT []uint16, k, n int) *Packed {
	return pack16(F16, "PackF16Transposed", rawT, k, n, true)
}

// pack16 packs 16-bit data into panels of the same layout as Pack's (k rows
// of 64 columns per panel, zero-padded past n), 2 bytes per element. Panels
// are packed in parallel: a transposed pack scatters every element, and a
// Llama-sized checkpoint has billions of them.
func pack16(elem Elem, fn string, src []uint16, k, n int, transposed bool) *Packed {
	if len(src) != k*n {
		panic(fmt.Sprintf("kernel: %s: len=%d, want k*n=%d*%d=%d", fn, len(src), k, n, k*n))
	}
	if k <= 0 || n <= 0 {
		panic(fmt.Sprintf("kernel: %s of a %dx%d matrix: both dimensions must be positive", fn, k, n))
	}
	panels := (n + panelWidth - 1) / panelWidth
	half := alignedHalves(panels * k * panelWidth)
	adviseHugePagesBytes(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(half))), len(half)*2))
	p := &Packed{k: k, n: n, panels: panels, elem: elem, half: half}
	ForEach(panels, func(_, j int) {
		c0 := j * panelWidth
		w := min(panelWidth, n-c0)
		dst := p.panel16(j)
		if !transposed {
			for r := 0; r < k; r++ {
				copy(dst[r*panelWidth:r*panelWidth+w], src[r*n+c0:r*n+c0+w])
			}
			return
		}
		for c := 0; c < w; c++ {
			col := src[(c0+c)*k : (c0+c+1)*k]
			for r, v := range col {
				dst[r*panelWidth+c] = v
			}
		}
	})
	return p
}

// alignedHalves returns a zeroed slice of n uint16 whose first element is
// 64-byte aligned.
func alignedHalves(n int) []uint16 {
	buf := make([]uint16, n+32)
	off := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % 64; r != 0 {
		off = int((64 - r) / 2)
	}
	return buf[off : off+n : off+n]
}

// widenGo converts 16-bit elements of type elem to float32 (exactly).
func widenGo(dst []float32, src []uint16, elem Elem) {
	src = src[:len(dst)]
	if elem == BF16 {
		for i, h := range src {
			dst[i] = math.Float32frombits(uint32(h) << 16)
		}
		return
	}
	for i, h := range src {
		dst[i] = halfToFloat32(h)
	}
}

// halfToFloat32 decodes an IEEE binary16 value; every one is exactly a
// float32 (subnormal halves become normal floats).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN, payload kept
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	v := float32(mant) * (1.0 / (1 << 24)) // subnormal: mant·2⁻²⁴, exact
	if sign != 0 {
		v = -v
	}
	return v
}
