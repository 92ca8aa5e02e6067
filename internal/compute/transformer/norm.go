package transformer

import "math"

// layerNorm writes (x-μ)/sqrt(σ²+eps)*w+b into dst (which may alias x).
// Statistics are accumulated in float64 (vectorised where the CPU allows):
// residual streams of trained models have outlier dimensions where float32
// sums lose digits.
func layerNorm(dst, x, w, b []float32, eps float64) {
	mean, m2 := moments(x)
	inv := float32(1 / math.Sqrt(m2/float64(len(x))+eps))
	lnApply(dst, x, w, b, float32(mean), inv)
}

// rmsNorm writes x/sqrt(mean(x²)+eps)*w into dst (which may alias x);
// zeros is at least len(x) zeros (the absent bias). mean(x²) comes from
// the same float64 moments as layerNorm's: Σx² = m2 + n·mean².
func rmsNorm(dst, x, w, zeros []float32, eps float64) {
	mean, m2 := moments(x)
	n := float64(len(x))
	inv := float32(1 / math.Sqrt((m2+n*mean*mean)/n+eps))
	lnApply(dst, x, w, zeros, 0, inv)
}

// normRow applies the model's kind of norm to one row.
func (m *Model) normRow(dst, x []float32, nm norm) {
	if m.Cfg.RMSNorm {
		rmsNorm(dst, x, nm.w, m.zeros, m.Cfg.NormEps)
		return
	}
	layerNorm(dst, x, nm.w, nm.b, m.Cfg.NormEps)
}

// normRows applies nm to the n d_model-wide rows of x.
func (m *Model) normRows(dst, x []float32, nm norm, n int) {
	d := m.Cfg.NEmbd
	parallelRows(n, 4*d, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			m.normRow(dst[r*d:(r+1)*d], x[r*d:(r+1)*d], nm)
		}
	})
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
