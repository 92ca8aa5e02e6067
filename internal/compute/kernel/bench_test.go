package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// benchShapes are the SAE encoder shapes W_enc [d_in, d_sae].
var benchShapes = []struct {
	name string
	k, n int
}{
	{"gpt2", 768, 24576},
	{"gemma", 2304, 16384},
}

var benchTs = []int{1, 8, 128, 512}

// cpuSeconds returns the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// runThreads sets both the kernel's worker count and GOMAXPROCS to th inside
// the sub-benchmark (go test -cpu does not reach b.Loop measurements), runs
// body, and reports GFLOP/s, GB/s of W read per call, ms/op, cpu-util
// (process CPU seconds per wall second: ≈th when th threads really ran) and
// GFLOP/cpu-s and GB/cpu-s (work per CPU second, which descheduling does not
// dilute).
func runThreads(b *testing.B, th int, flops, wBytes float64, body func()) {
	b.Helper()
	prevProcs := runtime.GOMAXPROCS(th)
	prevThreads := SetThreads(th)
	defer func() {
		runtime.GOMAXPROCS(prevProcs)
		SetThreads(prevThreads)
	}()
	body() // warm up: page in W, fill pools
	cpu0, wall0 := cpuSeconds(), time.Now()
	n := 0
	for b.Loop() {
		body()
		n++
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(flops*float64(n)/sec/1e9, "GFLOP/s")
	b.ReportMetric(wBytes*float64(n)/sec/1e9, "GB/s")
	b.ReportMetric(sec/float64(n)*1e3, "ms/op")
	cpuSec := cpuSeconds() - cpu0
	b.ReportMetric(cpuSec/time.Since(wall0).Seconds(), "cpu-util")
	if cpuSec > 0 {
		// Work per CPU second: insensitive to time spent descheduled
		// (other processes on the VM), so a per-core efficiency figure.
		if flops > 0 {
			b.ReportMetric(flops*float64(n)/cpuSec/1e9, "GFLOP/cpu-s")
		}
		b.ReportMetric(wBytes*float64(n)/cpuSec/1e9, "GB/cpu-s")
	}
}

// BenchmarkEncodeGEMM times C[T,N] = A[T,K] @ W_enc[K,N] for the SAE encoder
// shapes with every supported implementation (W packed once, as at load),
// and gonum's blas32.Gemm on the raw row-major W (blas32.Gemv as well at
// T=1). Run e.g.
//
//	go test -run '^$' -bench 'EncodeGEMM/gpt2/T=128/' -benchtime 20x ./internal/compute/kernel
func BenchmarkEncodeGEMM(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			w := randMat(r, s.k*s.n)
			packed := Pack(w, s.k, s.n)
			wBytes := float64(s.k * s.n * 4)
			for _, t := range benchTs {
				a := randMat(r, t*s.k)
				c := make([]float32, t*s.n)
				flops := 2 * float64(t) * float64(s.k) * float64(s.n)
				b.Run(fmt.Sprintf("T=%d", t), func(b *testing.B) {
					for _, im := range supportedImpls() {
						for _, th := range []int{1, 2} {
							b.Run(fmt.Sprintf("%s/th=%d", im.name, th), func(b *testing.B) {
								runThreads(b, th, flops, wBytes, func() { matMul(im, c, a, t, packed, nil, false) })
							})
						}
					}
					ga := blas32.General{Rows: t, Cols: s.k, Stride: s.k, Data: a}
					gw := blas32.General{Rows: s.k, Cols: s.n, Stride: s.n, Data: w}
					gc := blas32.General{Rows: t, Cols: s.n, Stride: s.n, Data: c}
					for _, th := range []int{1, 2} {
						b.Run(fmt.Sprintf("gonum/th=%d", th), func(b *testing.B) {
							runThreads(b, th, flops, wBytes, func() { blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, ga, gw, 0, gc) })
						})
					}
					if t == 1 {
						x := blas32.Vector{N: s.k, Inc: 1, Data: a}
						y := blas32.Vector{N: s.n, Inc: 1, Data: c}
						for _, th := range []int{1, 2} {
							b.Run(fmt.Sprintf("gonum-gemv/th=%d", th), func(b *testing.B) {
								runThreads(b, th, flops, wBytes, func() { blas32.Gemv(blas.Trans, 1, gw, x, 0, y) })
							})
						}
					}
				})
			}
		})
	}
}

// BenchmarkStreamRead reads the packed W of each shape once per op, split
// over the workers as the GEMV path splits it, with the widest vector loads
// the CPU has: the bandwidth ceiling for T=1. Compare its GB/s with
// EncodeGEMM/T=1 in the same run.
func BenchmarkStreamRead(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			packed := Pack(randMat(r, s.k*s.n), s.k, s.n)
			wBytes := float64(len(packed.data) * 4)
			for _, th := range []int{1, 2} {
				b.Run(fmt.Sprintf("th=%d", th), func(b *testing.B) {
					runThreads(b, th, 0, wBytes, func() { sink = streamRead(packed) })
				})
			}
		})
	}
}

var sink float32

// BenchmarkMicroKernel runs one implementation's 6-row and 1-row
// micro-kernels on an L1-resident panel slice (kc=96: 24 KiB of float32 B,
// 12 KiB of 16-bit B) on one thread, so GFLOP/s and FLOP/cycle show the
// kernel's own efficiency against the FMA peak without memory effects. The
// float32 kernel (avx512/r6) and the widening bf16 and f16 ones
// (avx512/bf16/r6) run on the same values in the same run, for a ratio.
func BenchmarkMicroKernel(b *testing.B) {
	const kc, reps = 96, 1000
	r := rand.New(rand.NewPCG(3, 3))
	a, bp := randMat(r, mrBlock*kc), alignedFloats(kc*panelWidth)
	raw := make([]uint16, kc*panelWidth)
	for i, v := range randMat(r, kc*panelWidth) {
		raw[i] = uint16(math.Float32bits(v) >> 16)
	}
	copy(bp, widened(BF16, raw))
	halves := map[Elem][]uint16{BF16: PackBF16(raw, kc, panelWidth).panel16(0), F16: PackF16(raw, kc, panelWidth).panel16(0)}
	c := alignedFloats(mrBlock * panelWidth)
	for _, im := range supportedImpls() {
		for _, elem := range []Elem{F32, BF16, F16} {
			if elem != F32 && im.micro16 == nil {
				continue
			}
			for _, mr := range []int{6, 1} {
				name := fmt.Sprintf("%s/r%d", im.name, mr)
				run := func() { im.micro(mr, kc, a, kc, bp, c, panelWidth, modeZero, nil, pfStream{}) }
				if elem != F32 {
					name = fmt.Sprintf("%s/%s/r%d", im.name, strings.ToLower(elem.String()), mr)
					run = func() { im.micro16(elem, mr, kc, a, kc, halves[elem], c, panelWidth, modeZero, nil, pfStream{}) }
				}
				b.Run(name, func(b *testing.B) {
					prev := runtime.GOMAXPROCS(1)
					defer runtime.GOMAXPROCS(prev)
					ghz := clockGHz()
					cpu0 := cpuSeconds()
					n := 0
					for b.Loop() {
						for range reps {
							run()
						}
						n++
					}
					cpuSec := cpuSeconds() - cpu0
					ghz = (ghz + clockGHz()) / 2
					flop := 2 * float64(mr*kc*panelWidth*reps*n)
					gf := flop / b.Elapsed().Seconds() / 1e9
					b.ReportMetric(gf, "GFLOP/s")
					b.ReportMetric(ghz, "GHz")
					if cpuSec > 0 {
						// Per CPU second and per cycle of it: time
						// spent descheduled dilutes neither.
						b.ReportMetric(flop/cpuSec/1e9, "GFLOP/cpu-s")
						if ghz > 0 {
							b.ReportMetric(flop/cpuSec/1e9/ghz, "FLOP/cycle")
						}
					}
				})
			}
		}
	}
}

// BenchmarkEncodeTiles compares, on the gpt2 shape, MatMul (dense C with
// bias) with MatMulTiles whose fn either scans each tile row with
// AtLeastIndices (the vectorised top-k prefilter) or touches every value in
// scalar Go (bias add and a running per-row maximum): what a fused SAE encode
// pays on top of the GEMM.
func BenchmarkEncodeTiles(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	s := benchShapes[0]
	w := randMat(r, s.k*s.n)
	bias := randMat(r, s.n)
	packed := Pack(w, s.k, s.n)
	for _, t := range []int{1, 128} {
		a := randMat(r, t*s.k)
		c := make([]float32, t*s.n)
		flops := 2 * float64(t) * float64(s.k) * float64(s.n)
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("T=%d/matmul-bias/th=%d", t, th), func(b *testing.B) {
				runThreads(b, th, flops, float64(s.k*s.n*4), func() { MatMul(c, a, t, packed, bias) })
			})
			rowMax := make([][]float32, th)
			for i := range rowMax {
				rowMax[i] = make([]float32, t)
			}
			// The prefilter once top-k heaps are full: only values reaching the
			// heap minimum (here a fixed 4σ) are touched in Go.
			hits := make([]int, th)
			idx := make([][]int32, th)
			for i := range idx {
				idx[i] = make([]int32, s.n)
			}
			b.Run(fmt.Sprintf("T=%d/tiles-atleastindices/th=%d", t, th), func(b *testing.B) {
				runThreads(b, th, flops, float64(s.k*s.n*4), func() {
					MatMulTiles(a, t, packed, func(worker, row0, rows, col0, cols int, tile []float32, ld int) {
						bb := bias[col0 : col0+cols]
						thr := float32(4 * math.Sqrt(float64(s.k)))
						for i := 0; i < rows; i++ {
							hits[worker] += AtLeastIndices(tile[i*ld:i*ld+cols], bb, thr, idx[worker])
						}
					})
				})
			})
			b.Run(fmt.Sprintf("T=%d/tiles-bias-max/th=%d", t, th), func(b *testing.B) {
				runThreads(b, th, flops, float64(s.k*s.n*4), func() {
					MatMulTiles(a, t, packed, func(worker, row0, rows, col0, cols int, tile []float32, ld int) {
						mx := rowMax[worker]
						bb := bias[col0 : col0+cols]
						for i := 0; i < rows; i++ {
							m := mx[row0+i]
							for j, v := range tile[i*ld : i*ld+cols] {
								m = max(m, v+bb[j])
							}
							mx[row0+i] = m
						}
					})
				})
			})
		}
	}
}

// BenchmarkAtLeastIndices scans one gpt2 pre-activation row (24576
// values) for a threshold nothing reaches: the per-row cost of a top-k
// prefilter once its heap is full, to set against a GEMM row.
func BenchmarkAtLeastIndices(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	v, bias := randMat(r, 24576), randMat(r, 24576)
	idx := make([]int32, len(v))
	for _, im := range supportedImpls() {
		b.Run(im.name, func(b *testing.B) {
			for b.Loop() {
				if im.gather(v, bias, 100, idx) != 0 {
					b.Fatal("unexpected match")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/row")
		})
	}
}

// BenchmarkModelShapes times the products of a 128-token forward pass and the
// demo SAE encode (W packed once, bias fused): the demo model's (d=256) and
// GPT-2 small's (d=768), on 1 and 2 threads. Short products show what the
// driver (packing A, splitting, waking workers) costs next to the FMAs.
func BenchmarkModelShapes(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, sh := range []struct {
		name    string
		m, k, n int
	}{
		{"demo/qkv", 128, 256, 768},
		{"demo/proj", 128, 256, 256},
		{"demo/fc", 128, 256, 1024},
		{"demo/fcproj", 128, 1024, 256},
		{"demo/sae", 128, 256, 4096},
		{"gpt2/qkv", 128, 768, 2304},
		{"gpt2/proj", 128, 768, 768},
		{"gpt2/fc", 128, 768, 3072},
		{"gpt2/fcproj", 128, 3072, 768},
		{"attn/qk", 128, 64, 128},
	} {
		a := randMat(r, sh.m*sh.k)
		w := Pack(randMat(r, sh.k*sh.n), sh.k, sh.n)
		bias := randMat(r, sh.n)
		c := make([]float32, sh.m*sh.n)
		flops := 2 * float64(sh.m*sh.k*sh.n)
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/th=%d", sh.name, th), func(b *testing.B) {
				runThreads(b, th, flops, 0, func() { MatMul(c, a, sh.m, w, bias) })
			})
		}
	}
}
