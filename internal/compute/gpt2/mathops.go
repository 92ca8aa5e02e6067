package gpt2

import (
	"math"
	"sync"

	"saex/internal/compute/kernel"
)

func sqrt(x float64) float64 { return math.Sqrt(x) }

// layerNorm writes (x-μ)/sqrt(σ²+eps)*w+b into dst (which may alias x).
// Statistics are accumulated in float64: residual streams of trained
// models have outlier dimensions where float32 sums lose digits.
func layerNorm(dst, x, w, b []float32, eps float64) {
	n := len(x)
	dst, w, b = dst[:n], w[:n], b[:n]
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	inv := 1 / math.Sqrt(ss/float64(n)+eps)
	for i, v := range x {
		dst[i] = float32((float64(v)-mean)*inv)*w[i] + b[i]
	}
}

const (
	log2e = 1.4426950408889634
	ln2Hi = 0.6931471803691238 // ln 2 split in two so that n*ln2Hi is exact
	ln2Lo = 1.9082149292705877e-10
)

// fastExp is exp(x) to about 1e-8 relative error, several times faster
// than math.Exp: enough for float32 results. It is used by softmax and
// the GELU, the two places a forward pass evaluates millions of exps.
func fastExp(x float64) float64 {
	switch {
	case x > 709:
		return math.Inf(1)
	case x < -708:
		return 0
	case x != x:
		return x
	}
	n := math.Floor(x*log2e + 0.5)
	r := x - n*ln2Hi - n*ln2Lo // |r| <= ln2/2
	// Taylor series to r^7: truncation error < 5e-9 relative on |r| <= 0.35.
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// geluNew is GPT-2's tanh-approximated GELU,
// 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³))), written as
// u / (1 + exp(-2·z)) since 1 + tanh(z) = 2 / (1 + exp(-2z)).
func geluNew(u float32) float32 {
	x := float64(u)
	z := 0.7978845608028654 * (x + 0.044715*x*x*x)
	return float32(x / (1 + fastExp(-2*z)))
}

// geluErf is the exact GELU, 0.5·u·(1 + erf(u/√2)).
func geluErf(u float32) float32 {
	x := float64(u)
	return float32(0.5 * x * (1 + math.Erf(x/math.Sqrt2)))
}

// parallelRows splits rows [0, n) into one contiguous range per kernel
// worker when the work (n*cost) is large enough to pay for goroutines.
func parallelRows(n, cost int, fn func(r0, r1 int)) {
	workers := min(kernel.Threads(), n)
	if workers <= 1 || n*cost < 1<<15 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for r0 := 0; r0 < n; r0 += chunk {
		wg.Add(1)
		go func(r0, r1 int) {
			defer wg.Done()
			fn(r0, r1)
		}(r0, min(r0+chunk, n))
	}
	wg.Wait()
}
