package gpt2

import "testing"

func BenchmarkGeluNewBias(b *testing.B) {
	src := make([]float32, 3072)
	bias := make([]float32, 3072)
	dst := make([]float32, 3072)
	for i := range src {
		src[i] = float32(i%200)/20 - 5
	}
	b.SetBytes(3072 * 4)
	for b.Loop() {
		geluNewBias(dst, src, bias)
	}
}

func BenchmarkSoftmax128(b *testing.B) {
	s := make([]float32, 128*128)
	for i := range s {
		s[i] = float32(i%97) / 10
	}
	for b.Loop() {
		causalSoftmax(s, 128, 0.125)
	}
}

func BenchmarkLayerNorm768(b *testing.B) {
	x := make([]float32, 768)
	w := make([]float32, 768)
	for i := range x {
		x[i] = float32(i%37) - 18
		w[i] = 1
	}
	dst := make([]float32, 768)
	for b.Loop() {
		layerNorm(dst, x, w, w, 1e-5)
	}
}
