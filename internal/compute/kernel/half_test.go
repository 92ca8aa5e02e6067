package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randHalves returns n random 16-bit values of type elem, all finite: bf16
// from normal floats (some zeros and tiny values too), f16 over the whole
// finite range below 2¹⁴ including subnormals.
func randHalves(r *rand.Rand, elem Elem, n int) []uint16 {
	s := make([]uint16, n)
	for i := range s {
		switch elem {
		case BF16:
			v := float32(r.NormFloat64())
			switch r.IntN(16) {
			case 0:
				v = 0
			case 1:
				v *= 1e-30
			}
			s[i] = uint16(math.Float32bits(v) >> 16)
		case F16:
			exp := uint16(r.IntN(29)) // 0 (subnormal or zero) .. 28
			s[i] = uint16(r.IntN(2))<<15 | exp<<10 | uint16(r.IntN(1024))
		}
	}
	return s
}

// widened converts raw from the definitions (not the code under test).
func widened(elem Elem, raw []uint16) []float32 {
	out := make([]float32, len(raw))
	for i, h := range raw {
		if elem == BF16 {
			out[i] = math.Float32frombits(uint32(h) << 16)
		} else {
			out[i] = halfRef(h)
		}
	}
	return out
}

func pack16For(elem Elem, raw []uint16, k, n int, transposed bool) *Packed {
	switch {
	case elem == BF16 && !transposed:
		return PackBF16(raw, k, n)
	case elem == BF16:
		return PackBF16Transposed(raw, k, n)
	case !transposed:
		return PackF16(raw, k, n)
	}
	return PackF16Transposed(raw, k, n)
}

// sameBits reports the first element where got and want differ in their
// bits, or -1.
func sameBits(got, want []float32) int {
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return i
		}
	}
	return -1
}

// TestHalfMatchesWidened is the contract of the 16-bit forms: on every
// implementation, MatMul, MatMulAdd and MatMulTiles with a BF16 or F16
// matrix give bit for bit what they give with Pack of the widened values,
// for plain and transposed packing, ragged shapes, bias and 1 or 2 threads.
func TestHalfMatchesWidened(t *testing.T) {
	defer func(prev int) { fuseMaxRows = prev }(fuseMaxRows)
	r := rand.New(rand.NewPCG(16, 16))
	shapes := [][3]int{{1, 1, 1}, {1, 768, 200}, {2, 17, 65}, {5, 256, 64}, {6, 3, 129}, {7, 255, 63},
		{13, 600, 130}, {33, 129, 4096}, {64, 1100, 300}, {129, 64, 200}}
	for _, elem := range []Elem{BF16, F16} {
		for si, sh := range shapes {
			m, k, n := sh[0], sh[1], sh[2]
			transposed := si%2 == 1
			raw := randHalves(r, elem, k*n)
			wide := widened(elem, raw)
			var ref *Packed
			if transposed {
				ref = PackTransposed(wide, k, n)
			} else {
				ref = Pack(wide, k, n)
			}
			half := pack16For(elem, raw, k, n, transposed)
			if half.Elem() != elem || half.K() != k || half.N() != n || half.Bytes() != ref.Bytes()/2 {
				t.Fatalf("%s %v: Elem %s K %d N %d Bytes %d, want %s %d %d %d", elem, sh, half.Elem(), half.K(), half.N(), half.Bytes(), elem, k, n, ref.Bytes()/2)
			}
			a := randMat(r, m*k)
			bias := randMat(r, n)
			c0 := randMat(r, m*n)
			for _, im := range supportedImpls() {
				// Both 16-bit paths: the widening micro-kernel and the
				// widened chunk shared by the row blocks.
				for _, th := range []int{1, 2} {
					fuseMaxRows = []int{math.MaxInt, 0}[(si+th)%2]
					name := fmt.Sprintf("%s %s m=%d k=%d n=%d T=%v th=%d fuse<=%d", elem, im.name, m, k, n, transposed, th, fuseMaxRows)
					for _, add := range []bool{false, true} {
						for _, bb := range [][]float32{nil, bias} {
							want := append([]float32(nil), c0...)
							got := append([]float32(nil), c0...)
							withThreads(th, func() {
								matMul(im, want, a, m, ref, bb, add)
								matMul(im, got, a, m, half, bb, add)
							})
							if i := sameBits(got, want); i >= 0 {
								t.Fatalf("%s add=%v bias=%v: element (%d,%d) = %g, float32 path %g", name, add, bb != nil, i/n, i%n, got[i], want[i])
							}
						}
					}
					want, got := make([]float32, m*n), make([]float32, m*n)
					withThreads(th, func() {
						collect := func(dst []float32) func(_, row0, rows, col0, cols int, tile []float32, ld int) {
							return func(_, row0, rows, col0, cols int, tile []float32, ld int) {
								for i := range rows {
									copy(dst[(row0+i)*n+col0:(row0+i)*n+col0+cols], tile[i*ld:i*ld+cols])
								}
							}
						}
						matMulTiles(im, a, m, ref, collect(want))
						matMulTiles(im, a, m, half, collect(got))
					})
					if i := sameBits(got, want); i >= 0 {
						t.Fatalf("%s tiles: element (%d,%d) = %g, float32 path %g", name, i/n, i%n, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestHalfSerial checks MatMulSerial with 16-bit matrices against the
// float32 path on every implementation, for the causal variants too.
func TestHalfSerial(t *testing.T) {
	defer func(prev int) { fuseMaxRows = prev }(fuseMaxRows)
	r := rand.New(rand.NewPCG(17, 17))
	for i, im := range supportedImpls() {
		prev := active
		active = im
		for j, elem := range []Elem{BF16, F16} {
			fuseMaxRows = []int{math.MaxInt, 0}[(i+j)%2]
			for _, sh := range []struct{ m, k, n int }{{128, 128, 128}, {7, 5, 64}, {13, 13, 13}, {64, 100, 70}} {
				raw := randHalves(r, elem, sh.k*sh.n)
				ref, half := Pack(widened(elem, raw), sh.k, sh.n), pack16For(elem, raw, sh.k, sh.n, false)
				for _, tri := range []Triangle{Full, LowerOut, LowerA} {
					if tri == LowerA && sh.k != sh.m {
						continue
					}
					lda, ldc := sh.k+3, sh.n+5
					a := randMat(r, sh.m*lda)
					want, got := make([]float32, sh.m*ldc), make([]float32, sh.m*ldc)
					MatMulSerial(want, ldc, a, lda, sh.m, ref, tri)
					MatMulSerial(got, ldc, a, lda, sh.m, half, tri)
					for i := range sh.m {
						for j := range ldc {
							if tri == LowerOut && j > i {
								continue // undefined
							}
							if math.Float32bits(got[i*ldc+j]) != math.Float32bits(want[i*ldc+j]) {
								t.Fatalf("%s %s %v tri=%d: element (%d,%d) = %g, float32 path %g", im.name, elem, sh, tri, i, j, got[i*ldc+j], want[i*ldc+j])
							}
						}
					}
				}
			}
		}
		active = prev
	}
}

// TestWiden checks every implementation's widening of panel rows holding
// all 65536 patterns of both types, stored in the slot16 order, against the
// scalar definitions (NaNs need only stay NaNs).
func TestWiden(t *testing.T) {
	src := make([]uint16, 1<<16) // column order: pattern i in column i%64 of row i/64
	for i := range src {
		src[i] = uint16(i)
	}
	for _, im := range supportedImpls() {
		widen := im.widen
		if widen == nil {
			widen = widenPanelGo
		}
		for _, elem := range []Elem{BF16, F16} {
			stored := make([]uint16, len(src))
			for i, h := range src {
				stored[i&^63+slot16(elem, i&63)] = h
			}
			dst := make([]float32, len(src))
			widen(dst, stored, elem)
			for i, h := range src {
				var want float32
				if elem == BF16 {
					want = math.Float32frombits(uint32(h) << 16)
				} else {
					want = halfRef(h)
				}
				g := dst[i]
				if math.IsNaN(float64(want)) && math.IsNaN(float64(g)) {
					continue
				}
				if math.Float32bits(g) != math.Float32bits(want) {
					t.Fatalf("%s %s: widen(%#04x) = %g (%#08x), want %g (%#08x)", im.name, elem, h, g, math.Float32bits(g), want, math.Float32bits(want))
				}
			}
		}
	}
}

// TestSlot16 checks that slot16 is a permutation of each 64-column row that
// keeps the columns of each 32-column half in that half.
func TestSlot16(t *testing.T) {
	for _, elem := range []Elem{BF16, F16} {
		seen := make([]bool, panelWidth)
		for c := range panelWidth {
			s := slot16(elem, c)
			if s < 0 || s >= panelWidth || seen[s] || s/32 != c/32 {
				t.Fatalf("%s: slot16(%d) = %d", elem, c, s)
			}
			seen[s] = true
		}
	}
}

// halfRef decodes binary16 from its definition: (-1)^s · 2^(e-15) · 1.m, or
// 2^-14 · 0.m for e = 0.
func halfRef(h uint16) float32 {
	s, e, m := h>>15, int(h>>10&0x1f), float64(h&0x3ff)
	var v float64
	switch e {
	case 0x1f:
		if m != 0 {
			return float32(math.NaN())
		}
		v = math.Inf(1)
	case 0:
		v = math.Ldexp(m/1024, -14)
	default:
		v = math.Ldexp(1+m/1024, e-15)
	}
	if s == 1 {
		v = -v
	}
	return float32(v)
}

func TestHalfPackPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"short":    func() { PackBF16(make([]uint16, 5), 2, 3) },
		"zero k":   func() { PackF16(nil, 0, 3) },
		"short T":  func() { PackF16Transposed(make([]uint16, 7), 2, 3) },
		"negative": func() { PackBF16Transposed(nil, -1, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	// PackInto never reuses 16-bit storage for float32 data.
	h := PackBF16(make([]uint16, 64*4), 4, 64)
	if p := PackInto(h, make([]float32, 4*64), 64, 4, 64); p == h || p.Elem() != F32 {
		t.Errorf("PackInto reused a BF16 matrix")
	}
}

// TestColumn reads every column back from float32 and 16-bit packings,
// plain and transposed, and checks the bounds.
func TestColumn(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 18))
	k, n := 37, 131
	for _, elem := range []Elem{F32, BF16, F16} {
		raw := randHalves(r, max(elem, BF16), k*n) // [k, n] row-major
		wide := widened(max(elem, BF16), raw)
		rawT, wideT := make([]uint16, k*n), make([]float32, k*n) // [n, k]
		for i := range k {
			for j := range n {
				rawT[j*k+i], wideT[j*k+i] = raw[i*n+j], wide[i*n+j]
			}
		}
		var ps []*Packed
		if elem == F32 {
			ps = []*Packed{Pack(wide, k, n), PackTransposed(wideT, k, n)}
		} else {
			ps = []*Packed{pack16For(elem, raw, k, n, false), pack16For(elem, rawT, k, n, true)}
		}
		col := make([]float32, k)
		for pi, p := range ps {
			for j := range n {
				p.Column(col, j)
				if i := sameBits(col, wideT[j*k:(j+1)*k]); i >= 0 {
					t.Fatalf("%s packing %d: column %d row %d = %g, want %g", elem, pi, j, i, col[i], wideT[j*k+i])
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Column out of range: no panic")
		}
	}()
	Pack(make([]float32, 6), 2, 3).Column(make([]float32, 2), 3)
}

// TestPackTransposedConcat: packing a transpose given in parts equals
// packing their concatenation, and ragged parts are refused.
func TestPackTransposedConcat(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 19))
	k := 70
	rows := []int{3, 0, 64, 61, 1} // rows of the N×K transpose per part
	for _, elem := range []Elem{BF16, F16} {
		var parts [][]uint16
		var cat []uint16
		for _, n := range rows {
			p := randHalves(r, elem, n*k)
			parts, cat = append(parts, p), append(cat, p...)
		}
		n := len(cat) / k
		want := pack16For(elem, cat, k, n, true)
		got := PackF16TransposedConcat(parts, k, n)
		if elem == BF16 {
			got = PackBF16TransposedConcat(parts, k, n)
		}
		if got.Elem() != elem || got.N() != n || !slices.Equal(got.half, want.half) {
			t.Errorf("%s: concatenated pack differs", elem)
		}
	}
	for name, f := range map[string]func(){
		"ragged part": func() { PackBF16TransposedConcat([][]uint16{make([]uint16, 5), make([]uint16, 9)}, 7, 2) },
		"short":       func() { PackF16TransposedConcat([][]uint16{make([]uint16, 7)}, 7, 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
