package transformer

import (
	"math"
	"slices"
	"testing"
)

// The vector exact GELU must match 0.5·x·(1 + erf(x/√2)) from math.Erfc,
// bias added, on every lane and the scalar tail, across the range where
// erfc goes from 2 to underflow, and keep the edge values (±0, huge, the
// -87 clamp) right.
func TestGeluErfBiasVector(t *testing.T) {
	var src, bias []float32
	for u := float32(-30); u <= 30; u += 0.000913 {
		src = append(src, u*0.75)
		bias = append(bias, u*0.25)
	}
	src = append(src, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 3e38, -3e38, 1e-3, -1e-3, 5, -5, 13, -13)
	bias = append(bias, make([]float32, 12)...)
	for _, width := range vectorWidths() {
		for _, n := range []int{len(src), len(src) - 7, 15, 1} {
			dst := make([]float32, n)
			geluErfBiasWidth(dst, src[:n], bias[:n], width)
			var worst float64
			for i := range n {
				x := float64(src[i] + bias[i])
				want := 0.5 * x * math.Erfc(-x/math.Sqrt2) // = 0.5·x·(1 + erf(x/√2)), without its cancellation below 0
				err := math.Abs(float64(dst[i]) - want)
				if !(err <= 1e-6*math.Abs(want)+1e-37) {
					t.Fatalf("width %d, n %d: gelu(%g) = %g, want %g", width, n, x, dst[i], want)
				}
				if math.Abs(want) > 1e-30 {
					worst = max(worst, err/math.Abs(want))
				}
			}
			if n == len(src) {
				t.Logf("width %d: worst relative error %.2g", width, worst)
			}
		}
	}
}

// In place (dst == src), as the MLP calls it.
func TestGeluErfBiasVectorInPlace(t *testing.T) {
	src := make([]float32, 100)
	for i := range src {
		src[i] = float32(i-50) * 0.1
	}
	want := make([]float32, len(src))
	geluErfBias(want, src, make([]float32, len(src)))
	got := slices.Clone(src)
	geluErfBiasFast(got, got, make([]float32, len(src)))
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6*math.Abs(float64(want[i]))+1e-37 {
			t.Fatalf("in place: gelu(%g) = %g, want %g", src[i], got[i], want[i])
		}
	}
}

// The vector SiLU-times-up must match g/(1+e^-g)·u in float64 on every
// lane and the tail, from deep negative (e^-g clamped) to large positive g.
func TestSiluMulVector(t *testing.T) {
	var g, u []float32
	for x := float32(-100); x <= 100; x += 0.00731 {
		g = append(g, x)
		u = append(u, 1.5-x*0.01)
	}
	g = append(g, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 3e38, -3e38)
	u = append(u, 1, 1, 1, 1, 0.5, 0.5)
	for _, width := range vectorWidths() {
		for _, n := range []int{len(g), len(g) - 5, 15, 1} {
			dst := make([]float32, n)
			siluMulWidth(dst, g[:n], u[:n], width)
			for i := range n {
				x := float64(g[i])
				want := x / (1 + math.Exp(-x)) * float64(u[i])
				if math.IsInf(want, 0) || math.IsNaN(want) {
					want = x * float64(u[i]) // 3e38·0.5: exp(-x) = 0
				}
				// Below g = -88 the vector loop clamps e^-g at e^88: an error
				// under 1e-38·|g·u|, where the value itself is below 1e-38.
				if err := math.Abs(float64(dst[i]) - want); !(err <= 1e-6*math.Abs(want)+1e-38*max(1, math.Abs(x*float64(u[i])))) {
					t.Fatalf("width %d, n %d: silu(%g)·%g = %g, want %g", width, n, x, u[i], dst[i], want)
				}
			}
		}
	}
}
