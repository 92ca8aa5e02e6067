package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/cpu"
)

func randMat(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// reference computes a@b (+bias) in float64 and, per element, the sum of
// |a_ik*b_kj| (+|bias_j|) that bounds the float32 rounding error.
func reference(a, b []float32, m, k, n int, bias []float32) (want, scale []float64) {
	want = make([]float64, m*n)
	scale = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for kk := 0; kk < k; kk++ {
			av := float64(a[i*k+kk])
			row := b[kk*n : (kk+1)*n]
			w := want[i*n : (i+1)*n]
			s := scale[i*n : (i+1)*n]
			for j, bv := range row {
				p := av * float64(bv)
				w[j] += p
				s[j] += math.Abs(p)
			}
		}
		if bias != nil {
			for j := 0; j < n; j++ {
				want[i*n+j] += float64(bias[j])
				scale[i*n+j] += math.Abs(float64(bias[j]))
			}
		}
	}
	return want, scale
}

// checkClose compares got with the reference under the worst-case bound for
// a float32 sum of k+1 products, γ = (k+2)·2⁻²⁴, relative to Σ|a·b|.
func checkClose(t *testing.T, what string, got []float32, want, scale []float64, k, n int) {
	t.Helper()
	tol := float64(k+2) * math.Ldexp(1, -24)
	bad := 0
	for i, g := range got {
		if d := math.Abs(float64(g) - want[i]); !(d <= tol*scale[i]+1e-30) {
			if bad < 3 {
				t.Errorf("%s: element (%d,%d) = %g, want %g (|err| %.3g > bound %.3g)", what, i/n, i%n, g, want[i], d, tol*scale[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements out of bound", what, bad, len(got))
	}
}

var (
	testMs = []int{1, 2, 3, 5, 6, 7, 13, 64, 129}
	testKs = []int{1, 3, 16, 17, 255, 256, 768}
	testNs = []int{1, 15, 16, 17, 63, 64, 65, 200, 4096}
)

// withThreads runs f with SetThreads(n) and restores the previous count.
func withThreads(n int, f func()) {
	prev := threads.Load()
	threads.Store(int64(n))
	defer threads.Store(prev)
	f()
}

// TestMatMulImpls runs every implementation this CPU supports — called
// directly, not through dispatch — on ragged shapes against a float64
// reference, with and without bias, on 1 and 2 threads.
func TestMatMulImpls(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	impls := supportedImpls()
	for _, k := range testKs {
		for _, n := range testNs {
			bmat := randMat(r, k*n)
			bias := randMat(r, n)
			packed := Pack(bmat, k, n)
			for _, m := range testMs {
				if testing.Short() && m*k*n > 1<<22 {
					continue
				}
				a := randMat(r, m*k)
				// Alternate bias and thread count over the grid so that
				// every combination is covered without tripling the run.
				useBias := (m+k+n)%2 == 0
				var bb []float32
				if useBias {
					bb = bias
				}
				want, scale := reference(a, bmat, m, k, n, bb)
				for _, im := range impls {
					for _, th := range []int{1, 2} {
						if th == 2 && m*k*n < serialWork && (m+n)%3 != 0 {
							continue // below the parallel threshold: same code path as th=1
						}
						c := make([]float32, m*n)
						for i := range c {
							c[i] = float32(math.NaN()) // c must be fully overwritten
						}
						withThreads(th, func() { matMul(im, c, a, m, packed, bb, false) })
						checkClose(t, fmt.Sprintf("%s m=%d k=%d n=%d bias=%v th=%d", im.name, m, k, n, useBias, th), c, want, scale, k, n)
					}
				}
			}
		}
	}
}

// TestMatMulAdd checks c += a@B (+bias) for every implementation: the
// accumulators start from c (and the bias) in the first K chunk, and ragged
// panels are added in the copy-out.
func TestMatMulAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 17, 256, 768} {
		for _, n := range []int{1, 63, 64, 200} {
			bmat := randMat(r, k*n)
			packed := Pack(bmat, k, n)
			for _, m := range []int{1, 6, 7, 129} {
				a := randMat(r, m*k)
				c0 := randMat(r, m*n)
				for _, useBias := range []bool{false, true} {
					var bb []float32
					if useBias {
						bb = randMat(r, n)
					}
					want, scale := reference(a, bmat, m, k, n, bb)
					for i, v := range c0 {
						want[i] += float64(v)
						scale[i] += math.Abs(float64(v))
					}
					for _, im := range supportedImpls() {
						for _, th := range []int{1, 2} {
							c := append([]float32(nil), c0...)
							withThreads(th, func() { matMul(im, c, a, m, packed, bb, true) })
							checkClose(t, fmt.Sprintf("add %s m=%d k=%d n=%d bias=%v th=%d", im.name, m, k, n, useBias, th), c, want, scale, k, n)
						}
					}
				}
			}
		}
	}
	c := []float32{1, 2}
	MatMulAdd(c, []float32{3}, 1, Pack([]float32{10, 20}, 1, 2), []float32{100, 200})
	if c[0] != 131 || c[1] != 262 {
		t.Errorf("MatMulAdd = %v, want [131 262]", c)
	}
}

// TestMatMulTilesCoverage checks that MatMulTiles delivers every element
// exactly once, with the right values, worker ids and tile widths.
func TestMatMulTilesCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	shapes := [][3]int{{1, 17, 65}, {1, 768, 4096}, {2, 5, 200}, {7, 256, 63}, {13, 255, 4096}, {129, 64, 200}, {64, 768, 1000}, {600, 32, 128}}
	for _, im := range supportedImpls() {
		for _, th := range []int{1, 2, 3} {
			for _, s := range shapes {
				m, k, n := s[0], s[1], s[2]
				a, bmat := randMat(r, m*k), randMat(r, k*n)
				want, scale := reference(a, bmat, m, k, n, nil)
				got := make([]float32, m*n)
				count := make([]atomic.Int32, m*n)
				var badWorker, narrow atomic.Int32
				withThreads(th, func() {
					matMulTiles(im, a, m, Pack(bmat, k, n), func(worker, row0, rows, col0, cols int, tile []float32, ld int) {
						if worker < 0 || worker >= th {
							badWorker.Add(1)
						}
						if cols < 64 && col0+cols < n {
							narrow.Add(1)
						}
						for i := 0; i < rows; i++ {
							for j := 0; j < cols; j++ {
								count[(row0+i)*n+col0+j].Add(1)
								got[(row0+i)*n+col0+j] = tile[i*ld+j]
							}
						}
					})
				})
				name := fmt.Sprintf("%s th=%d m=%d k=%d n=%d", im.name, th, m, k, n)
				for i := range count {
					if c := count[i].Load(); c != 1 {
						t.Fatalf("%s: element (%d,%d) delivered %d times", name, i/n, i%n, c)
					}
				}
				if badWorker.Load() != 0 {
					t.Errorf("%s: worker index out of [0,%d)", name, th)
				}
				if narrow.Load() != 0 {
					t.Errorf("%s: %d tiles narrower than 64 columns before the last", name, narrow.Load())
				}
				checkClose(t, name, got, want, scale, k, n)
			}
		}
	}
}

func TestMatMulTilesBiasFused(t *testing.T) {
	// The SAE encode pattern: bias + ReLU applied in fn must equal MatMul with
	// bias followed by ReLU.
	r := rand.New(rand.NewPCG(5, 6))
	m, k, n := 9, 96, 333
	a, bmat, bias := randMat(r, m*k), randMat(r, k*n), randMat(r, n)
	p := Pack(bmat, k, n)
	dense := make([]float32, m*n)
	MatMul(dense, a, m, p, bias)
	fused := make([]float32, m*n)
	MatMulTiles(a, m, p, func(_, row0, rows, col0, cols int, tile []float32, ld int) {
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				fused[(row0+i)*n+col0+j] = max(0, tile[i*ld+j]+bias[col0+j])
			}
		}
	})
	for i := range dense {
		want := max(0, dense[i])
		if d := math.Abs(float64(fused[i] - want)); d > 1e-4*(1+math.Abs(float64(want))) {
			t.Fatalf("element %d: fused %g, dense %g", i, fused[i], want)
		}
	}
}

func TestGemmAndTransB(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{1, 1, 1}, {3, 17, 65}, {7, 64, 200}, {33, 130, 129}} {
		m, k, n := s[0], s[1], s[2]
		a, bmat := randMat(r, m*k), randMat(r, k*n)
		want, scale := reference(a, bmat, m, k, n, nil)
		c := make([]float32, m*n)
		MatMul(c, a, m, Pack(bmat, k, n), nil)
		checkClose(t, fmt.Sprintf("MatMul %v", s), c, want, scale, k, n)

		bT := make([]float32, n*k)
		for i := 0; i < k; i++ {
			for j := 0; j < n; j++ {
				bT[j*k+i] = bmat[i*n+j]
			}
		}
		for _, im := range supportedImpls() {
			c3 := make([]float32, m*n)
			matMul(im, c3, a, m, PackTransposed(bT, k, n), nil, false)
			checkClose(t, fmt.Sprintf("%s PackTransposed %v", im.name, s), c3, want, scale, k, n)
		}
	}
}

func TestPackedAccessors(t *testing.T) {
	p := Pack(make([]float32, 6), 2, 3)
	if p.K() != 2 || p.N() != 3 {
		t.Fatalf("K,N = %d,%d, want 2,3", p.K(), p.N())
	}
}

func TestShapePanics(t *testing.T) {
	p := Pack(make([]float32, 12), 3, 4)
	cases := map[string]func(){
		"Pack len":           func() { Pack(make([]float32, 5), 2, 3) },
		"Pack zero":          func() { Pack(nil, 0, 3) },
		"MatMul a":           func() { MatMul(make([]float32, 8), make([]float32, 5), 2, p, nil) },
		"MatMul c":           func() { MatMul(make([]float32, 7), make([]float32, 6), 2, p, nil) },
		"MatMul bias":        func() { MatMul(make([]float32, 8), make([]float32, 6), 2, p, make([]float32, 3)) },
		"MatMul m":           func() { MatMul(nil, nil, 0, p, nil) },
		"Tiles nil fn":       func() { MatMulTiles(make([]float32, 3), 1, p, nil) },
		"PackTransposed len": func() { PackTransposed(make([]float32, 11), 3, 4) },
	}
	for name, f := range cases {
		func() {
			defer func() {
				if v := recover(); v == nil {
					t.Errorf("%s: no panic", name)
				} else if !strings.HasPrefix(fmt.Sprint(v), "kernel: ") {
					t.Errorf("%s: panic %q does not name the package", name, v)
				}
			}()
			f()
		}()
	}
}

func TestSetThreads(t *testing.T) {
	prev := SetThreads(3)
	defer SetThreads(prev)
	if Threads() != 3 {
		t.Fatalf("Threads() = %d after SetThreads(3)", Threads())
	}
	if got := SetThreads(0); got != 3 {
		t.Fatalf("SetThreads returned %d, want 3", got)
	}
	if Threads() < 1 {
		t.Fatalf("default Threads() = %d", Threads())
	}
}

// TestDispatch fails when a machine with AVX-512 silently runs the portable
// kernel (or AVX2), unless the choice was forced by tag or SAEX_KERNEL.
func TestDispatch(t *testing.T) {
	t.Logf("Impl() = %s (forced=%v, SAEX_KERNEL=%q, purego tag=%v)", Impl(), activeForced, os.Getenv("SAEX_KERNEL"), buildPurego)
	if buildPurego {
		if Impl() != "purego" {
			t.Fatalf("built with -tags purego but Impl() = %s", Impl())
		}
		return
	}
	if want := os.Getenv("SAEX_KERNEL"); want != "" {
		if Impl() != want && (want != "avx512" || cpu.X86.HasAVX512F) && (want != "avx2" || cpu.X86.HasAVX2) {
			t.Fatalf("SAEX_KERNEL=%s but Impl() = %s", want, Impl())
		}
		return
	}
	switch {
	case cpu.X86.HasAVX512F && Impl() != "avx512":
		t.Fatalf("CPU has AVX-512 but Impl() = %s", Impl())
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA && Impl() == "purego":
		t.Fatalf("CPU has AVX2+FMA but Impl() = %s", Impl())
	}
	if cpu.X86.HasAVX512F {
		names := ""
		for _, im := range supportedImpls() {
			names += im.name + " "
		}
		if names != "avx512 avx2 purego " {
			t.Fatalf("supported implementations = %q, want all three on this CPU", names)
		}
	}
}

func TestSelectImpl(t *testing.T) {
	if buildPurego {
		t.Skip("purego build: only the portable kernel exists")
	}
	if im, forced := selectImpl("purego"); im != implPurego || !forced {
		t.Fatalf("selectImpl(purego) = %s, %v", im.name, forced)
	}
	best := supportedImpls()[0]
	if im, forced := selectImpl(""); im != best || forced {
		t.Fatalf("selectImpl(\"\") = %s, %v; want %s", im.name, forced, best.name)
	}
	if im, _ := selectImpl("no-such"); im != best {
		t.Fatalf("selectImpl(no-such) = %s, want fallback %s", im.name, best.name)
	}
}

func TestStreamRead(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	p := Pack(randMat(r, 37*300), 37, 300)
	var want float64
	for _, v := range p.data {
		want += float64(v)
	}
	for _, th := range []int{1, 2} {
		withThreads(th, func() {
			if got := streamRead(p); math.Abs(float64(got)-want) > 1e-3*float64(len(p.data)) {
				t.Fatalf("th=%d: streamRead = %g, want %g", th, got, want)
			}
		})
	}
	if got := sumGo(p.data); math.Abs(float64(got)-want) > 1e-3*float64(len(p.data)) {
		t.Fatalf("sumGo = %g, want %g", got, want)
	}
}

// TestAtLeastIndices checks every implementation's gather against a scalar
// loop, including NaN (never matches), +Inf, ties and buffers exactly as long
// as v (the vector stores must stay inside).
func TestAtLeastIndices(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	for _, im := range supportedImpls() {
		for n := 0; n <= 140; n++ {
			v, bias := randMat(r, n), randMat(r, n+3)
			if n > 5 {
				v[5] = float32(math.NaN())
				bias[n-1] = float32(math.Inf(1))
				v[n/2], bias[n/2] = 1.5, 0 // an exact tie with thr 1.5
			}
			for _, thr := range []float32{-10, 0, 1.5, 2.5, float32(math.Inf(1))} {
				var want []int32
				for j := range v {
					if v[j]+bias[j] >= thr {
						want = append(want, int32(j))
					}
				}
				idx := make([]int32, n) // exactly len(v)
				got := idx[:im.gather(v, bias[:n], thr, idx)]
				if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("%s n=%d thr=%g: got %v, want %v", im.name, n, thr, got, want)
				}
			}
		}
	}
	idx := make([]int32, 3)
	if n := AtLeastIndices([]float32{1, 5, 3}, []float32{0, 0, 0}, 3, idx); n != 2 || idx[0] != 1 || idx[1] != 2 {
		t.Fatalf("AtLeastIndices = %v (n=%d), want [1 2]", idx, n)
	}
}
