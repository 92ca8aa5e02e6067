package semsearch

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"saex/internal/compute/kernel"
	"saex/internal/features"
)

// benchIndex builds an index of n random unit vectors of dims values in
// blocks as Load makes them, over sources of 250,000 explanations.
func benchIndex(n, dims int) *Index {
	r := rand.New(rand.NewPCG(3, 4))
	ix := &Index{Model: "bench", Dims: dims}
	raw := make([]float32, 0, blockRows*dims)
	vec := make([]float32, dims)
	var src *features.EmbeddedSource
	for done := 0; done < n; {
		if done%250_000 == 0 {
			src = &features.EmbeddedSource{ModelID: "m", SourceID: fmt.Sprintf("%d-res", done/250_000)}
		}
		rows := min(blockRows, n-done, 250_000-done%250_000)
		ids := make([]string, rows)
		raw = raw[:0]
		for i := range ids {
			ids[i] = fmt.Sprintf("x%07d", done+i)
			for j := range vec {
				vec[j] = r.Float32() - 0.5
			}
			raw = appendUnit(raw, vec)
		}
		ix.blocks = append(ix.blocks, &block{src: src, ids: ids, seqs: make([]int64, rows), packed: kernel.PackTransposed(raw, dims, rows)})
		ix.live += rows
		done += rows
	}
	return ix
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkScan1M ranks 1M 256-d explanation embeddings (1 GiB of float32)
// against one query: a GEMV per block plus the top-20 selection, on 1 and
// 2 threads. GB/s is the index read per second; compare it with the
// kernel's BenchmarkStreamRead (the memory-bandwidth ceiling) in the same
// run:
//
//	go test -run '^$' -bench 'Scan1M|StreamRead/gemma' -benchtime 20x ./internal/features/semsearch ./internal/compute/kernel
func BenchmarkScan1M(b *testing.B) {
	const n, dims = 1_000_000, features.EmbeddingDim
	ix := benchIndex(n, dims)
	query := make([]float32, dims)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range query {
		query[i] = r.Float32() - 0.5
	}
	bytes := float64(n * dims * 4)
	for _, c := range []struct {
		name string
		q    features.ExplanationQuery
	}{
		{"all", features.ExplanationQuery{Limit: 20}},
		{"one-source", features.ExplanationQuery{SourceIDs: []string{"2-res"}, Limit: 20}},
	} {
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/th=%d", c.name, th), func(b *testing.B) {
				prevProcs, prevThreads := runtime.GOMAXPROCS(th), kernel.SetThreads(th)
				defer func() { runtime.GOMAXPROCS(prevProcs); kernel.SetThreads(prevThreads) }()
				_, total := ix.Search(c.q, query) // warm up
				read := bytes * float64(total) / n
				cpu0, wall0 := cpuSeconds(), time.Now()
				k := 0
				for b.Loop() {
					hits, _ := ix.Search(c.q, query)
					if len(hits) != 20 {
						b.Fatalf("%d hits", len(hits))
					}
					k++
				}
				sec := b.Elapsed().Seconds()
				b.ReportMetric(read*float64(k)/sec/1e9, "GB/s")
				b.ReportMetric(sec/float64(k)*1e3, "ms/op")
				cpuSec := cpuSeconds() - cpu0
				b.ReportMetric(cpuSec/time.Since(wall0).Seconds(), "cpu-util")
				if cpuSec > 0 {
					b.ReportMetric(read*float64(k)/cpuSec/1e9, "GB/cpu-s")
				}
			})
		}
	}
}
