//go:build !amd64 || purego

package gpt2

// geluNewBias sets dst[i] = geluNew(src[i] + bias[i]).
func geluNewBias(dst, src, bias []float32) { geluNewBiasGo(dst, src, bias) }

var geluWidth = 0

func geluNewBiasWidth(dst, src, bias []float32, _ int) { geluNewBiasGo(dst, src, bias) }

// expShifted sets row[j] = exp(row[j]*scale - shift) and returns their sum.
func expShifted(row []float32, scale, shift float32) float64 { return expShiftedGo(row, scale, shift) }

func expShiftedWidth(row []float32, scale, shift float32, _ int) float64 {
	return expShiftedGo(row, scale, shift)
}
