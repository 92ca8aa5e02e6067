package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkHalfGEMM compares a product with a float32 B against the same
// product with a bf16 or f16 B, through the widening micro-kernels (fused)
// and through the widened shared chunk (chunk), at SAEX_BENCH_THREADS
// threads (default 2). Model shapes: the Llama-3.1-8B MLP up projection at
// 64 tokens and Gemma-2-2B's at 128, and the 8B one at few tokens.
// SAEX_BENCH_MS limits the row counts (comma-separated) to run;
// SAEX_BENCH_SHAPES ("MxKxN,...") replaces the shapes.
func BenchmarkHalfGEMM(b *testing.B) {
	th := 2
	if v, err := strconv.Atoi(os.Getenv("SAEX_BENCH_THREADS")); err == nil && v > 0 {
		th = v
	}
	shapes := []struct{ m, k, n int }{{64, 4096, 14336}, {128, 2304, 9216}, {1, 4096, 14336}, {6, 4096, 14336}, {16, 4096, 14336}, {32, 4096, 14336}}
	if v := os.Getenv("SAEX_BENCH_SHAPES"); v != "" { // "MxKxN,..."
		shapes = shapes[:0]
		for _, f := range strings.Split(v, ",") {
			var m, k, n int
			if _, err := fmt.Sscanf(f, "%dx%dx%d", &m, &k, &n); err != nil {
				b.Fatalf("SAEX_BENCH_SHAPES: %q: %v", f, err)
			}
			shapes = append(shapes, struct{ m, k, n int }{m, k, n})
		}
	}
	if v := os.Getenv("SAEX_BENCH_MS"); v != "" {
		keep := shapes[:0]
		for _, s := range shapes {
			for _, f := range strings.Split(v, ",") {
				if f == strconv.Itoa(s.m) {
					keep = append(keep, s)
				}
			}
		}
		shapes = keep
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		w := randMat(r, s.k*s.n)
		raw := make([]uint16, len(w))
		for i, v := range w {
			raw[i] = uint16(math.Float32bits(v) >> 16)
		}
		packed := map[string]*Packed{"f32": Pack(w, s.k, s.n), "bf16": PackBF16(raw, s.k, s.n)}
		a, c := randMat(r, s.m*s.k), make([]float32, s.m*s.n)
		flops := 2 * float64(s.m) * float64(s.k) * float64(s.n)
		for _, v := range []struct {
			name, elem string
			fuse       int
		}{{"f32", "f32", 0}, {"bf16-fused", "bf16", math.MaxInt}, {"bf16-chunk", "bf16", 0}} {
			p := packed[v.elem]
			b.Run(fmt.Sprintf("%dx%dx%d/%s/th=%d", s.m, s.k, s.n, v.name, th), func(b *testing.B) {
				defer func(prev int) { fuseMaxRows = prev }(fuseMaxRows)
				fuseMaxRows = v.fuse
				runThreads(b, th, flops, float64(p.Bytes()), func() { matMul(active, c, a, s.m, p, nil, false) })
			})
		}
	}
}
