package transformer

import (
	"math"
	"math/rand/v2"
	"testing"

	"saex/internal/compute/kernel"
)

// Every GELU implementation this CPU can run must match the float64
// formula, including odd lengths (vector body plus scalar tail) and
// extreme inputs.
func TestGeluImplementations(t *testing.T) {
	widths := vectorWidths()
	r := rand.New(rand.NewPCG(11, 12))
	src := []float32{0, -0, 1e-30, -1e-30, 1, -1, 3, -3, 5.5, -5.5, 10, -10, 30, -30, 1e4, -1e4, 3e38, -3e38}
	for len(src) < 4099 {
		src = append(src, float32(r.NormFloat64()*4))
	}
	bias := make([]float32, len(src))
	for i := range bias {
		if i%3 == 0 {
			bias[i] = float32(r.NormFloat64())
		}
	}
	for _, w := range widths {
		for _, n := range []int{len(src), 1, 7, 15, 16, 17, 33} {
			dst := make([]float32, n)
			geluNewBiasWidth(dst, src[:n], bias[:n], w)
			for i := range n {
				x := float64(src[i] + bias[i])
				want := 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
				if got := float64(dst[i]); !(math.Abs(got-want) <= 2e-6*max(1, math.Abs(want))) {
					t.Fatalf("width %d, n %d: gelu(%g) = %g, want %g", w, n, x, got, want)
				}
			}
		}
	}
}

func TestExpShiftedImplementations(t *testing.T) {
	widths := vectorWidths()
	r := rand.New(rand.NewPCG(13, 14))
	for _, w := range widths {
		for _, n := range []int{1, 5, 16, 17, 100, 1024} {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64() * 30)
			}
			src[0] = -1e30 // far below the maximum: exp underflows to ~0
			const scale, shift = 0.125, 3
			row := append([]float32(nil), src...)
			sum := expShiftedWidth(row, scale, shift, w)
			var wantSum float64
			for i, x := range src {
				want := math.Exp(float64(x*scale - shift))
				wantSum += want
				if !(math.Abs(float64(row[i])-want) <= 1e-6*want+1e-37) {
					t.Fatalf("width %d n %d: exp(%g) = %g, want %g", w, n, x*scale-shift, row[i], want)
				}
			}
			if math.Abs(sum-wantSum) > 1e-6*wantSum+1e-30 {
				t.Fatalf("width %d n %d: sum %g, want %g", w, n, sum, wantSum)
			}
		}
	}
}

// The vectorised layer-norm and softmax helpers must match plain Go: the
// moments to float64 rounding, the rest bit for bit.
func TestNormHelperImplementations(t *testing.T) {
	widths := vectorWidths()
	r := rand.New(rand.NewPCG(15, 16))
	for _, width := range widths {
		for _, n := range []int{1, 7, 8, 16, 17, 64, 256, 768, 1000} {
			x, w, b := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64()*3 + 40) // an offset mean, as residual streams have
				w[i], b[i] = float32(1+0.1*r.NormFloat64()), float32(0.1*r.NormFloat64())
			}
			x[n/2] = 3000 // an outlier dimension
			mean, m2 := momentsWidth(x, width)
			wantMean, wantM2 := momentsGo(x)
			if math.Abs(mean-wantMean) > 1e-12*math.Abs(wantMean) || math.Abs(m2-wantM2) > 1e-9*wantM2 {
				t.Fatalf("width %d n %d: moments (%g, %g), want (%g, %g)", width, n, mean, m2, wantMean, wantM2)
			}
			got, want := make([]float32, n), make([]float32, n)
			lnApplyWidth(got, x, w, b, float32(wantMean), 0.37, width)
			lnApplyGo(want, x, w, b, float32(wantMean), 0.37)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("width %d n %d: lnApply[%d] = %g, want %g", width, n, i, got[i], want[i])
				}
			}
			x[n-1] = 5000 // the maximum in the tail
			if got, want := rowMaxWidth(x, width), rowMaxGo(x); got != want {
				t.Fatalf("width %d n %d: rowMax %g, want %g", width, n, got, want)
			}
			x[0] = 7000 // and in the first vector
			if got, want := rowMaxWidth(x, width), rowMaxGo(x); got != want {
				t.Fatalf("width %d n %d: rowMax %g, want %g", width, n, got, want)
			}
			copy(got, x)
			scaleRowWidth(got, 0.3, width)
			for i := range got {
				if got[i] != x[i]*0.3 {
					t.Fatalf("width %d n %d: scaleRow[%d] = %g, want %g", width, n, i, got[i], x[i]*0.3)
				}
			}
		}
	}
}

// vectorWidths are the vector widths (in float32 lanes) of the element-wise
// helpers this CPU can run, 0 being plain Go: AVX-512 CPUs also run the
// AVX2+FMA versions.
func vectorWidths() []int {
	switch kernel.Impl() {
	case "avx512":
		return []int{0, 16, 8}
	case "avx2":
		return []int{0, 8}
	}
	return []int{0}
}

// The fast exact GELU must match 0.5·x·(1 + erf(x/√2)) with math.Erf.
func TestGeluErf(t *testing.T) {
	for u := float32(-40); u <= 40; u += 0.00713 {
		x := float64(u)
		want := 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
		if got := float64(geluErf(u)); !(math.Abs(got-want) <= 2e-7*max(1e-3, math.Abs(want))+1e-30) {
			t.Fatalf("geluErf(%g) = %g, want %g", u, got, want)
		}
	}
	for _, u := range []float32{0, -0, 1e-30, -1e-30, 3e38, -3e38} {
		x := float64(u)
		want := float32(0.5 * x * (1 + math.Erf(x/math.Sqrt2)))
		if got := geluErf(u); got != want && !(math.Abs(float64(got-want)) < 1e-35) {
			t.Errorf("geluErf(%g) = %g, want %g", u, got, want)
		}
	}
}
