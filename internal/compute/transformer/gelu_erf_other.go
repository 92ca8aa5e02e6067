//go:build !amd64 || purego

package transformer

// geluErfBiasFast is geluErfBias (no vector loop on this build).
func geluErfBiasFast(dst, src, bias []float32) { geluErfBias(dst, src, bias) }

func geluErfBiasWidth(dst, src, bias []float32, _ int) { geluErfBias(dst, src, bias) }
