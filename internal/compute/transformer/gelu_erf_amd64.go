//go:build amd64 && !purego

package transformer

// geluErfBias512 sets dst[i] = gelu_erf(src[i] + bias[i]) for n a positive
// multiple of 16 (gelu_erf_amd64.s); float32 throughout.
//
//go:noescape
func geluErfBias512(dst, src, bias *float32, n int)

// geluErfBiasFast is geluErfBias for the MLP's rows: the AVX-512 loop
// where the kernel runs AVX-512 (relative error below 4e-7 against
// math.Erfc, the scalar float64 loop's 1.6e-7; that loop took a third of a
// Pythia-160M forward's CPU time), the scalar loop for the tail and other
// CPUs.
func geluErfBiasFast(dst, src, bias []float32) { geluErfBiasWidth(dst, src, bias, geluWidth) }

func geluErfBiasWidth(dst, src, bias []float32, width int) {
	n := len(src)
	dst, bias = dst[:n], bias[:n]
	if width == 16 {
		if k := n - n%16; k > 0 {
			geluErfBias512(&dst[0], &src[0], &bias[0], k)
			dst, src, bias = dst[k:], src[k:], bias[k:]
		}
	}
	geluErfBias(dst, src, bias)
}

// siluMul512 sets dst[i] = silu(g[i])·u[i] for n a positive multiple of 16
// (gelu_erf_amd64.s).
//
//go:noescape
func siluMul512(dst, gate, up *float32, n int)

// siluMul sets dst[i] = silu(g[i])·u[i] (a gated MLP's hidden row): the
// AVX-512 loop where the kernel runs AVX-512 (the scalar float64 loop was
// 8% of a Llama-3.1-8B-shaped forward's CPU time), plain Go for the rest.
func siluMul(dst, g, u []float32) { siluMulWidth(dst, g, u, geluWidth) }

func siluMulWidth(dst, g, u []float32, width int) {
	n := len(g)
	dst, u = dst[:n], u[:n]
	if width == 16 {
		if k := n - n%16; k > 0 {
			siluMul512(&dst[0], &g[0], &u[0], k)
			dst, g, u = dst[k:], g[k:], u[k:]
		}
	}
	siluMulGo(dst, g, u)
}
