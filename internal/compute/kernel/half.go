package kernel

import (
	"fmt"
	"math"
	"sort"
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

// fuseMaxRows is the most rows of A for which a product with a 16-bit B
// uses the implementation's widening micro-kernel (micro16); above it, each
// kc×64 chunk of B is widened once into a float32 buffer that all row blocks
// share (the path of implementations without micro16). Measured on AVX-512
// and AVX2 at 1 to 128 rows on Zen 4 (docs/performance.md), the widening
// kernels were never slower than the shared chunk, so they are used at every
// size; an Intel core with AVX-512 lowers it (half_amd64.go,
// intelFuseMaxRows); tests set it to cover both paths.
var fuseMaxRows = math.MaxInt

// Elem returns the element type the matrix is stored in.
func (p *Packed) Elem() Elem { return p.elem }

// Bytes returns the memory the packed panels take (padding included).
func (p *Packed) Bytes() int { return p.panels * p.k * panelWidth * p.elem.Size() }

// Column writes column j of the matrix (K values, widened to float32 when
// stored in 16 bits) to dst. With a tied embedding packed as the
// unembedding, PackBF16Transposed(embed, d, vocab), column t is token t's
// embedding row, so the embedding's mapped pages need not stay resident
// for lookups.
func (p *Packed) Column(dst []float32, j int) {
	if j < 0 || j >= p.n || len(dst) != p.k {
		panic(fmt.Sprintf("kernel: Column(len %d, %d) of a %dx%d matrix", len(dst), j, p.k, p.n))
	}
	off := (j/panelWidth)*p.k*panelWidth + j%panelWidth
	if p.elem == F32 {
		for r := range dst {
			dst[r] = p.data[off+r*panelWidth]
		}
		return
	}
	off += slot16(p.elem, j%panelWidth) - j%panelWidth
	var h [1]uint16
	var f [1]float32
	for r := range dst {
		h[0] = p.half[off+r*panelWidth]
		widenGo(f[:], h[:], p.elem)
		dst[r] = f[0]
	}
}

// panel16 returns the k×64 16-bit panel holding columns [64j, 64j+64),
// each row's columns in the order slot16 gives.
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

// PackBF16TransposedConcat is PackBF16Transposed for a transpose given in
// parts whose concatenation is the N×K matrix, each part a whole number of
// K-value rows: several Hugging Face Linear weights with the same input
// width (q, k and v; gate and up) packed side by side as one K×ΣN matrix,
// straight from their mapped tensors, without a concatenated copy.
func PackBF16TransposedConcat(partsT [][]uint16, k, n int) *Packed {
	return pack16Parts(BF16, "PackBF16TransposedConcat", partsT, k, n, true)
}

// PackF16TransposedConcat is PackBF16TransposedConcat for IEEE half precision.
func PackF16TransposedConcat(partsT [][]uint16, k, n int) *Packed {
	return pack16Parts(F16, "PackF16TransposedConcat", partsT, k, n, true)
}

func pack16(elem Elem, fn string, src []uint16, k, n int, transposed bool) *Packed {
	return pack16Parts(elem, fn, [][]uint16{src}, k, n, transposed)
}

// slot16 is where column c (< 64) of a panel row is stored in a 16-bit
// panel of element type elem. F16 rows are in column order. BF16 rows are
// packed in pairs for the AVX-512 kernels: in each 32-column half, 32-bit
// word q (q < 16) holds column q in its low 16 bits and column q+16 in its
// high 16 bits (little-endian: slots 2q and 2q+1), so that 16 columns widen
// with one shift of 64 bytes of the panel and the next 16 with one AND of
// the same bytes (gen_amd64.go, loadB). Every reader of a 16-bit panel
// (the assembly kernels, widenPanelGo, Column) follows this map.
func slot16(elem Elem, c int) int {
	if elem != BF16 {
		return c
	}
	return c&^31 | (c&15)<<1 | (c>>4)&1
}

// pack16Parts packs 16-bit data into panels of the same shape as Pack's (k
// rows of 64 columns per panel, zero-padded past n), 2 bytes per element,
// each row's columns placed as slot16 says.
// The source is the concatenation of parts (one part unless transposed).
// Panels are packed in parallel: a transposed pack scatters every element,
// and a Llama-sized checkpoint has billions of them.
func pack16Parts(elem Elem, fn string, parts [][]uint16, k, n int, transposed bool) *Packed {
	if k <= 0 || n <= 0 {
		panic(fmt.Sprintf("kernel: %s of a %dx%d matrix: both dimensions must be positive", fn, k, n))
	}
	// rowEnd[i] is the first row (of the N×K transpose) past part i.
	rowEnd := make([]int, len(parts))
	total := 0
	for i, p := range parts {
		if transposed && len(p)%k != 0 {
			panic(fmt.Sprintf("kernel: %s: part %d has %d values, not a whole number of rows of k=%d", fn, i, len(p), k))
		}
		total += len(p)
		rowEnd[i] = total / k
	}
	if total != k*n {
		panic(fmt.Sprintf("kernel: %s: len=%d, want k*n=%d*%d=%d", fn, total, k, n, k*n))
	}
	src := parts[0]
	// row returns row c of the transpose (column c of the matrix).
	row := func(c int) []uint16 {
		i := sort.SearchInts(rowEnd, c+1)
		r0 := 0
		if i > 0 {
			r0 = rowEnd[i-1]
		}
		return parts[i][(c-r0)*k : (c-r0+1)*k]
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
				d, s := dst[r*panelWidth:(r+1)*panelWidth], src[r*n+c0:r*n+c0+w]
				if elem != BF16 {
					copy(d, s)
					continue
				}
				for c, v := range s {
					d[slot16(elem, c)] = v
				}
			}
			return
		}
		for c := 0; c < w; c++ {
			col, s := row(c0+c), slot16(elem, c)
			for r, v := range col {
				dst[r*panelWidth+s] = v
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

// widenPanelGo converts whole rows of a 16-bit panel (len(dst) a multiple
// of 64, src in the slot16 order) to float32 rows in column order: the
// portable impl.widen.
func widenPanelGo(dst []float32, src []uint16, elem Elem) {
	src = src[:len(dst)]
	if elem != BF16 {
		widenGo(dst, src, elem)
		return
	}
	for r := 0; r+panelWidth <= len(dst); r += panelWidth {
		for h := r; h < r+panelWidth; h += 32 {
			d, s := dst[h:h+32], src[h:h+32]
			for q := range 16 {
				d[q] = math.Float32frombits(uint32(s[2*q]) << 16)
				d[q+16] = math.Float32frombits(uint32(s[2*q+1]) << 16)
			}
		}
	}
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
