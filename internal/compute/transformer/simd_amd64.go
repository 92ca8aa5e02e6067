//go:build amd64 && !purego

package transformer

import "saex/internal/compute/kernel"

// Vectorised GELU (gelu_amd64.s); n must be a positive multiple of the
// vector width (16 for AVX-512, 8 for AVX2).
//
//go:noescape
func geluNewBias512(dst, src, bias *float32, n int)

//go:noescape
func geluNewBias256(dst, src, bias *float32, n int)

// expShift512 and expShift256 set row[j] = exp(row[j]*scale - shift) and
// add the results into the lanes of sums; n must be a positive multiple
// of 16 (8).
//
//go:noescape
func expShift512(row *float32, n int, scale, shift float32, sums *[16]float32)

//go:noescape
func expShift256(row *float32, n int, scale, shift float32, sums *[16]float32)

// Layer norm and softmax helpers (norm_amd64.s); n is a positive multiple
// of the vector width.
//
//go:noescape
func moments512(x *float32, n int) (mean, m2 float64)

//go:noescape
func moments256(x *float32, n int) (mean, m2 float64)

//go:noescape
func lnApply512(dst, x, w, b *float32, n int, mean, inv float32)

//go:noescape
func lnApply256(dst, x, w, b *float32, n int, mean, inv float32)

//go:noescape
func max512(p *float32, n int) float32

//go:noescape
func max256(p *float32, n int) float32

//go:noescape
func scale512(p *float32, n int, s float32)

//go:noescape
func scale256(p *float32, n int, s float32)

// geluWidth is the vector width used, following the kernel package's
// choice of instruction set (so SAEX_KERNEL=purego forces plain Go here
// too); 0 means plain Go.
var geluWidth = map[string]int{"avx512": 16, "avx2": 8}[kernel.Impl()]

// geluNewBias sets dst[i] = geluNew(src[i] + bias[i]).
func geluNewBias(dst, src, bias []float32) {
	geluNewBiasWidth(dst, src, bias, geluWidth)
}

func geluNewBiasWidth(dst, src, bias []float32, width int) {
	n := len(src)
	dst, bias = dst[:n], bias[:n]
	if width > 0 {
		if k := n - n%width; k > 0 {
			if width == 16 {
				geluNewBias512(&dst[0], &src[0], &bias[0], k)
			} else {
				geluNewBias256(&dst[0], &src[0], &bias[0], k)
			}
			dst, src, bias = dst[k:], src[k:], bias[k:]
		}
	}
	geluNewBiasGo(dst, src, bias)
}

// expShifted sets row[j] = exp(row[j]*scale - shift) and returns their sum.
func expShifted(row []float32, scale, shift float32) float64 {
	return expShiftedWidth(row, scale, shift, geluWidth)
}

func expShiftedWidth(row []float32, scale, shift float32, width int) float64 {
	var sum float64
	if width > 0 {
		if k := len(row) - len(row)%width; k > 0 {
			var lanes [16]float32
			if width == 16 {
				expShift512(&row[0], k, scale, shift, &lanes)
			} else {
				expShift256(&row[0], k, scale, shift, &lanes)
			}
			for _, v := range lanes {
				sum += float64(v)
			}
			row = row[k:]
		}
	}
	return sum + expShiftedGo(row, scale, shift)
}

// moments returns the mean of x and the sum of squared deviations from it,
// accumulated in float64.
func moments(x []float32) (mean, m2 float64) { return momentsWidth(x, geluWidth) }

func momentsWidth(x []float32, width int) (mean, m2 float64) {
	if width > 0 && len(x) > 0 && len(x)%width == 0 {
		if width == 16 {
			return moments512(&x[0], len(x))
		}
		return moments256(&x[0], len(x))
	}
	return momentsGo(x)
}

// lnApply sets dst[i] = (x[i]-mean)*inv*w[i] + b[i].
func lnApply(dst, x, w, b []float32, mean, inv float32) {
	lnApplyWidth(dst, x, w, b, mean, inv, geluWidth)
}

func lnApplyWidth(dst, x, w, b []float32, mean, inv float32, width int) {
	n := len(x)
	dst, w, b = dst[:n], w[:n], b[:n]
	if width > 0 {
		if k := n - n%width; k > 0 {
			if width == 16 {
				lnApply512(&dst[0], &x[0], &w[0], &b[0], k, mean, inv)
			} else {
				lnApply256(&dst[0], &x[0], &w[0], &b[0], k, mean, inv)
			}
			dst, x, w, b = dst[k:], x[k:], w[k:], b[k:]
		}
	}
	lnApplyGo(dst, x, w, b, mean, inv)
}

// rowMax returns the largest value of the non-empty v (NaNs aside).
func rowMax(v []float32) float32 { return rowMaxWidth(v, geluWidth) }

func rowMaxWidth(v []float32, width int) float32 {
	if width == 0 || len(v) < width {
		return rowMaxGo(v)
	}
	k := len(v) - len(v)%width
	var mx float32
	if width == 16 {
		mx = max512(&v[0], k)
	} else {
		mx = max256(&v[0], k)
	}
	for _, x := range v[k:] {
		if x > mx {
			mx = x
		}
	}
	return mx
}

// scaleRow multiplies v by s in place.
func scaleRow(v []float32, s float32) { scaleRowWidth(v, s, geluWidth) }

func scaleRowWidth(v []float32, s float32, width int) {
	if width > 0 {
		if k := len(v) - len(v)%width; k > 0 {
			if width == 16 {
				scale512(&v[0], k, s)
			} else {
				scale256(&v[0], k, s)
			}
			v = v[k:]
		}
	}
	for i := range v {
		v[i] *= s
	}
}
