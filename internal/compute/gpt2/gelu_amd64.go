//go:build amd64 && !purego

package gpt2

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
