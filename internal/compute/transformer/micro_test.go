package transformer

import (
	"testing"

	"saex/internal/compute/kernel"
)

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
		causalSoftmax(s, 128, 128, 0.125)
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

func benchFC(b *testing.B, m, d, inner int, fused bool) {
	a := make([]float32, m*d)
	w := make([]float32, d*inner)
	for i := range a {
		a[i] = float32(i%13) * 0.01
	}
	for i := range w {
		w[i] = float32(i%7) * 0.01
	}
	mod := &Model{Cfg: Config{NInner: inner, Act: GeluTanh}}
	l := &layer{up: kernel.Pack(w, d, inner), upB: make([]float32, inner)}
	h := make([]float32, m*inner)
	zero := make([]float32, inner)
	for b.Loop() {
		if fused {
			mod.fcActivate(h, a, m, l)
		} else {
			kernel.MatMul(h, a, m, l.up, l.upB)
			for r := range m {
				geluNewBias(h[r*inner:(r+1)*inner], h[r*inner:(r+1)*inner], zero)
			}
		}
	}
}

func BenchmarkFCFused(b *testing.B)    { benchFC(b, 128, 768, 3072, true) }
func BenchmarkFCSeparate(b *testing.B) { benchFC(b, 128, 768, 3072, false) }
func BenchmarkFCMatMulOnly(b *testing.B) {
	a := make([]float32, 128*768)
	w := kernel.Pack(make([]float32, 768*3072), 768, 3072)
	h := make([]float32, 128*3072)
	for b.Loop() {
		kernel.MatMul(h, a, 128, w, nil)
	}
}
