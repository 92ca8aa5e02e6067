//go:build !amd64 || purego

package transformer

// geluErfBiasFast is geluErfBias (no vector loop on this build).
func geluErfBiasFast(dst, src, bias []float32) { geluErfBias(dst, src, bias) }

func geluErfBiasWidth(dst, src, bias []float32, _ int) { geluErfBias(dst, src, bias) }

// siluMul sets dst[i] = silu(g[i])·u[i].
func siluMul(dst, g, u []float32) { siluMulGo(dst, g, u) }

func siluMulWidth(dst, g, u []float32, _ int) { siluMulGo(dst, g, u) }
