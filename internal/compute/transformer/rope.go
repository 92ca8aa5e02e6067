package transformer

import "math"

// invFreq returns the rotary inverse frequencies theta^(-2i/dim) for
// i < dim/2, adjusted by the scaling type, in float64 (transformers'
// _compute_default_rope_parameters, _compute_linear_scaling_rope_parameters
// and _compute_llama3_parameters).
func invFreq(dim int, rc RopeConfig) []float64 {
	f := make([]float64, dim/2)
	for i := range f {
		f[i] = 1 / math.Pow(rc.Theta, float64(2*i)/float64(dim))
	}
	switch rc.Type {
	case "linear":
		for i := range f {
			f[i] /= rc.Factor
		}
	case "llama3":
		old := float64(rc.OriginalMaxPositions)
		lowWavelen, highWavelen := old/rc.LowFreqFactor, old/rc.HighFreqFactor
		for i, v := range f {
			wavelen := 2 * math.Pi / v
			switch {
			case wavelen < highWavelen: // high frequencies stay
			case wavelen > lowWavelen: // low frequencies are divided by factor
				f[i] = v / rc.Factor
			default: // in between: interpolated
				smooth := (old/wavelen - rc.LowFreqFactor) / (rc.HighFreqFactor - rc.LowFreqFactor)
				f[i] = (1-smooth)*v/rc.Factor + smooth*v
			}
		}
	}
	return f
}

// ropeTable fills cos and sin ([t, len(freq)] each) for positions 0..t-1,
// computed in float64.
func ropeTable(cos, sin []float32, freq []float64, t int) {
	h := len(freq)
	for p := range t {
		for i, f := range freq {
			s, c := math.Sincos(float64(p) * f)
			cos[p*h+i], sin[p*h+i] = float32(c), float32(s)
		}
	}
}

// applyRope rotates the first 2·len(cos) dims of x (one head at one
// position) by Hugging Face's rotate_half convention: dims i and i+half
// form a pair.
func applyRope(x, cos, sin []float32) {
	h := len(cos)
	x1, x2 := x[:h:h], x[h:2*h:2*h]
	sin = sin[:h]
	for i, c := range cos {
		a, b := x1[i], x2[i]
		x1[i] = a*c - b*sin[i]
		x2[i] = b*c + a*sin[i]
	}
}
