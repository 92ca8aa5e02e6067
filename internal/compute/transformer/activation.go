package transformer

import "math"

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

// geluErf is the exact GELU, 0.5·u·(1 + erf(u/√2)) (GPT-NeoX's "gelu").
func geluErf(u float32) float32 {
	var out [1]float32
	geluErfBias(out[:], []float32{u}, []float32{0})
	return out[0]
}

// geluErfBias sets dst[i] = geluErf(src[i] + bias[i]), through
// erfc(z) = t·exp(-z² + P(t)), t = 1/(1 + z/2), with the Chebyshev-fitted
// polynomial of Numerical Recipes' erfcc (fractional error below 1.2e-7
// for every z >= 0) and fastExp written out (as in geluNewBiasGo): several
// times faster than math.Erf, and this runs n·n_inner times per layer.
func geluErfBias(dst, src, bias []float32) {
	dst, bias = dst[:len(src)], bias[:len(src)]
	for i, v := range src {
		x := float64(v + bias[i])
		z := math.Abs(x) * (1 / math.Sqrt2)
		t := 1 / (1 + 0.5*z)
		p := -1.26551223 + t*(1.00002368+t*(0.37409196+t*(0.09678418+t*(-0.18628806+t*(0.27886807+
			t*(-1.13520398+t*(1.48851587+t*(-0.82215223+t*0.17087277))))))))
		y := max(-z*z+p, -700)
		tt := y*expInvStep + roundShift
		n := int64(math.Float64bits(tt))
		nf := tt - roundShift
		r := y - nf*expStepHi - nf*expStepLo
		r2 := r * r
		e := ((1 + r) + r2*(0.5+r*(1.0/6)+r2*(1.0/24))) * expTable[n&31] * math.Float64frombits(uint64(((n>>5)+1023)&0x7FF)<<52)
		erfc := t * e
		if x >= 0 {
			dst[i] = float32(x - 0.5*x*erfc) // 0.5·x·(2 - erfc)
		} else {
			dst[i] = float32(0.5 * x * erfc)
		}
	}
}

// silu is x·sigmoid(x) (Llama's and Qwen's hidden_act).
func silu(x float32) float32 {
	return float32(float64(x) / (1 + fastExp(-float64(x))))
}

// softcap is c·tanh(x/c) (Gemma-2's logit soft-capping), with tanh(y) =
// 1 - 2/(1 + exp(2y)).
func softcap(x, c float64) float64 {
	return c * (1 - 2/(1+fastExp(2*x/c)))
}
