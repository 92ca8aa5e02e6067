package sae

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"saex/internal/compute/kernel"
)

// Benchmark sizes from the brief: GPT-2 small res-jb (768 x 24576) and
// Gemma-2-2B Gemma Scope 16k (2304 x 16384), TopK k=32.
var benchShapes = []struct{ din, dsae int }{{768, 24576}, {2304, 16384}}
var benchTokens = []int{1, 8, 128, 512}

var (
	benchMu   sync.Mutex
	benchSAEs = map[[2]int]*SAE{}
)

func benchSAE(b testing.TB, din, dsae int) *SAE {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s := benchSAEs[[2]int{din, dsae}]; s != nil {
		return s
	}
	cfg := Config{Architecture: TopK, DIn: din, DSAE: dsae, K: 32, ApplyBDecToInput: true, NormalizeActivations: NormNone, ReshapeActivations: "none"}
	s, err := NewRandom(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	benchSAEs[[2]int{din, dsae}] = s
	return s
}

func benchInput(t, din int) []float32 {
	x := make([]float32, t*din)
	for i := range x {
		x[i] = float32((i*7919)%2001-1000) / 300
	}
	return x
}

// encodeGonum is the baseline: gonum's blas32.Gemm into a dense
// [t, d_sae] matrix, then bias + top-k per row in a separate pass.
func encodeGonum(s *SAE, x []float32, t int, c []float32) []Sparse {
	in, _ := s.prepare(x, t)
	din, dsae := s.Cfg.DIn, s.Cfg.DSAE
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas32.General{Rows: t, Cols: din, Stride: din, Data: in},
		blas32.General{Rows: din, Cols: dsae, Stride: dsae, Data: s.WEnc},
		0, blas32.General{Rows: t, Cols: dsae, Stride: dsae, Data: c})
	var col collector
	col.init(s.Cfg.K, 1)
	out := make([]Sparse, t)
	for r := 0; r < t; r++ {
		col.reset()
		col.addRow(0, c[r*dsae:(r+1)*dsae], s.encBias, 0)
		out[r] = col.sparse(0)
	}
	return out
}

// BenchmarkEncode times the sparse TopK encode with the dispatching kernel
// (run with SAEX_KERNEL=purego or -tags purego for the pure-Go kernel) and
// with the gonum baseline.
func BenchmarkEncode(b *testing.B) {
	for _, sh := range benchShapes {
		for _, t := range benchTokens {
			name := fmt.Sprintf("d%dx%d/T%d", sh.din, sh.dsae, t)
			x := benchInput(t, sh.din)
			flops := 2 * float64(t) * float64(sh.din) * float64(sh.dsae)
			b.Run(name+"/"+kernel.Impl(), func(b *testing.B) {
				s := benchSAE(b, sh.din, sh.dsae)
				b.ResetTimer()
				for range b.N {
					if _, err := s.EncodeSparse(x, t); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
			b.Run(name+"/gonum", func(b *testing.B) {
				s := benchSAE(b, sh.din, sh.dsae)
				c := make([]float32, t*sh.dsae)
				b.ResetTimer()
				for range b.N {
					encodeGonum(s, x, t, c)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// BenchmarkEncodeEpilogue measures the share of a sparse encode spent
// outside the bare product (b_dec subtraction, bias, activation, top-k,
// merge): each iteration times MatMulTiles with an empty callback and the
// full EncodeSparse back to back, and the fastest of each is compared, so
// that the shared machine's noise (which only ever adds time) drops out.
//
// It runs on one thread (SAEX_BENCH_THREADS overrides) so that the two
// vCPUs' other tenants disturb it less.
func BenchmarkEncodeEpilogue(b *testing.B) {
	threads := 1
	if v, err := strconv.Atoi(os.Getenv("SAEX_BENCH_THREADS")); err == nil && v > 0 {
		threads = v
	}
	defer kernel.SetThreads(kernel.SetThreads(threads))
	// The encoder shapes, and the demo model's SAEs (d_in 256, d_sae 4096,
	// whose short products make the epilogue weigh more).
	shapes := append(benchShapes[:len(benchShapes):len(benchShapes)], struct{ din, dsae int }{256, 4096})
	for _, sh := range shapes {
		for _, t := range benchTokens {
			b.Run(fmt.Sprintf("d%dx%d/T%d", sh.din, sh.dsae, t), func(b *testing.B) {
				s := benchSAE(b, sh.din, sh.dsae)
				x := benchInput(t, sh.din)
				in, _ := s.prepare(x, t)
				bare, full := time.Duration(1<<62), time.Duration(1<<62)
				b.ResetTimer()
				for range b.N {
					t0 := time.Now()
					kernel.MatMulTiles(in, t, s.encPacked, func(int, int, int, int, int, []float32, int) {})
					t1 := time.Now()
					if _, err := s.EncodeSparse(x, t); err != nil {
						b.Fatal(err)
					}
					full = min(full, time.Since(t1))
					bare = min(bare, t1.Sub(t0))
				}
				b.ReportMetric(100*(full-bare).Seconds()/full.Seconds(), "epilogue-%")
				b.ReportMetric(float64(full.Microseconds()), "best-encode-us")
			})
		}
	}
}
