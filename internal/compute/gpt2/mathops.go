package gpt2

import (
	"math"

	"saex/internal/compute/kernel"
)

func sqrt(x float64) float64 { return math.Sqrt(x) }

// layerNorm writes (x-μ)/sqrt(σ²+eps)*w+b into dst (which may alias x).
// Statistics are accumulated in float64 (vectorised where the CPU allows):
// residual streams of trained models have outlier dimensions where float32
// sums lose digits.
func layerNorm(dst, x, w, b []float32, eps float64) {
	mean, m2 := moments(x)
	inv := float32(1 / math.Sqrt(m2/float64(len(x))+eps))
	lnApply(dst, x, w, b, float32(mean), inv)
}

// momentsGo is moments in plain Go: two passes, four independent sums at a
// time (so the adds pipeline).
func momentsGo(x []float32) (mean, m2 float64) {
	n := len(x)
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < n; i++ {
		s0 += float64(x[i])
	}
	mean = (s0 + s1 + s2 + s3) / float64(n)
	s0, s1, s2, s3 = 0, 0, 0, 0
	i = 0
	for ; i+4 <= n; i += 4 {
		d0, d1 := float64(x[i])-mean, float64(x[i+1])-mean
		d2, d3 := float64(x[i+2])-mean, float64(x[i+3])-mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < n; i++ {
		d := float64(x[i]) - mean
		s0 += d * d
	}
	return mean, s0 + s1 + s2 + s3
}

// lnApplyGo is lnApply in plain Go.
func lnApplyGo(dst, x, w, b []float32, mean, inv float32) {
	dst, w, b = dst[:len(x)], w[:len(x)], b[:len(x)]
	for i, v := range x {
		dst[i] = (v-mean)*inv*w[i] + b[i]
	}
}

// rowMaxGo is rowMax in plain Go.
func rowMaxGo(v []float32) float32 {
	mx := v[0]
	for _, x := range v[1:] {
		if x > mx {
			mx = x
		}
	}
	return mx
}

// expTable[j] = 2^(j/32): exp(x) = 2^m · 2^(j/32) · e^r with r small.
var expTable = func() (t [32]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 32)
	}
	return t
}()

const (
	expInvStep = 32 / math.Ln2                   // 1 / (ln2/32)
	expStepHi  = 6.93147180369123816490e-01 / 32 // ln2/32 split in two so that
	expStepLo  = 1.90821492927058770002e-10 / 32 // n*expStepHi is exact
	roundShift = 0x1.8p52                        // adding it rounds a float64 to an integer
)

// fastExp is exp(x) to about 1e-9 relative error for x in [-700, 700]
// (inputs outside are clamped), several times faster than math.Exp and
// free of calls and branches so that loops around it pipeline: softmax
// and the GELU evaluate millions of exps per forward pass.
func fastExp(x float64) float64 {
	x = min(max(x, -700), 700) // NaN stays NaN
	t := x*expInvStep + roundShift
	n := int64(math.Float64bits(t)) // low bits: round(x*32/ln2), two's complement
	nf := t - roundShift
	r := x - nf*expStepHi - nf*expStepLo // |r| <= ln2/64
	// e^r by Taylor to r^4: error < r^5/120 < 1.3e-11.
	r2 := r * r
	p := (1 + r) + r2*(0.5+r*(1.0/6)+r2*(1.0/24))
	scale := math.Float64frombits(uint64(((n>>5)+1023)&0x7FF) << 52)
	return p * expTable[n&31] * scale
}

// geluNew is GPT-2's tanh-approximated GELU,
// 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³))), written as
// u / (1 + exp(-2·z)) since 1 + tanh(z) = 2 / (1 + exp(-2z)).
func geluNew(u float32) float32 {
	x := float64(u)
	z := 1.5957691216057308 * (x + 0.044715*x*x*x) // 2·√(2/π)·(...)
	return float32(x / (1 + fastExp(-z)))
}

// geluNewBiasGo sets dst[i] = geluNew(src[i] + bias[i]) in plain Go: geluNew with
// fastExp written out, because the compiler will not inline them and a
// call per element stalls the pipeline (this loop runs n·n_inner times
// per layer).
func geluNewBiasGo(dst, src, bias []float32) {
	dst, bias = dst[:len(src)], bias[:len(src)]
	for i, v := range src {
		x := float64(v + bias[i])
		y := -1.5957691216057308 * (x + 0.044715*x*x*x)
		y = min(max(y, -700), 700)
		t := y*expInvStep + roundShift
		n := int64(math.Float64bits(t))
		nf := t - roundShift
		r := y - nf*expStepHi - nf*expStepLo
		r2 := r * r
		p := (1 + r) + r2*(0.5+r*(1.0/6)+r2*(1.0/24))
		e := p * expTable[n&31] * math.Float64frombits(uint64(((n>>5)+1023)&0x7FF)<<52)
		dst[i] = float32(x / (1 + e))
	}
}

// expShiftedGo sets row[j] = exp(row[j]*scale - mx) and returns the sum,
// in plain Go; fastExp written out for the same reason as in
// geluNewBiasGo.
func expShiftedGo(row []float32, scale, mx float32) float64 {
	var sum float64
	for j, v := range row {
		y := float64(v*scale - mx)
		y = min(max(y, -700), 700)
		t := y*expInvStep + roundShift
		n := int64(math.Float64bits(t))
		nf := t - roundShift
		r := y - nf*expStepHi - nf*expStepLo
		r2 := r * r
		p := (1 + r) + r2*(0.5+r*(1.0/6)+r2*(1.0/24))
		e := p * expTable[n&31] * math.Float64frombits(uint64(((n>>5)+1023)&0x7FF)<<52)
		row[j] = float32(e)
		sum += e
	}
	return sum
}

// geluErf is the exact GELU, 0.5·u·(1 + erf(u/√2)).
func geluErf(u float32) float32 {
	x := float64(u)
	return float32(0.5 * x * (1 + math.Erf(x/math.Sqrt2)))
}

// parallelRows splits rows [0, n) into chunks shared out over the kernel's
// workers when the work (n*cost) is large enough to pay for the hand-off.
func parallelRows(n, cost int, fn func(r0, r1 int)) {
	workers := min(kernel.Threads(), n)
	if workers <= 1 || n*cost < 1<<15 {
		fn(0, n)
		return
	}
	// A few chunks per worker, so a worker that starts late takes fewer.
	chunk := (n + 4*workers - 1) / (4 * workers)
	kernel.ForEach((n+chunk-1)/chunk, func(_, c int) {
		fn(c*chunk, min(n, (c+1)*chunk))
	})
}
