//go:build !amd64 || purego

package transformer

// geluNewBias sets dst[i] = geluNew(src[i] + bias[i]).
func geluNewBias(dst, src, bias []float32) { geluNewBiasGo(dst, src, bias) }

var geluWidth = 0

func geluNewBiasWidth(dst, src, bias []float32, _ int) { geluNewBiasGo(dst, src, bias) }

// expShifted sets row[j] = exp(row[j]*scale - shift) and returns their sum.
func expShifted(row []float32, scale, shift float32) float64 { return expShiftedGo(row, scale, shift) }

func expShiftedWidth(row []float32, scale, shift float32, _ int) float64 {
	return expShiftedGo(row, scale, shift)
}

// moments returns the mean of x and the sum of squared deviations from it.
func moments(x []float32) (mean, m2 float64) { return momentsGo(x) }

func momentsWidth(x []float32, _ int) (mean, m2 float64) { return momentsGo(x) }

// lnApply sets dst[i] = (x[i]-mean)*inv*w[i] + b[i].
func lnApply(dst, x, w, b []float32, mean, inv float32) { lnApplyGo(dst, x, w, b, mean, inv) }

func lnApplyWidth(dst, x, w, b []float32, mean, inv float32, _ int) {
	lnApplyGo(dst, x, w, b, mean, inv)
}

// rowMax returns the largest value of the non-empty v.
func rowMax(v []float32) float32 { return rowMaxGo(v) }

func rowMaxWidth(v []float32, _ int) float32 { return rowMaxGo(v) }

// scaleRow multiplies v by s in place.
func scaleRow(v []float32, s float32) { scaleRowWidth(v, s, 0) }

func scaleRowWidth(v []float32, s float32, _ int) {
	for i := range v {
		v[i] *= s
	}
}
