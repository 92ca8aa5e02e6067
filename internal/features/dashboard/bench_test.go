package dashboard

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"saex/internal/compute/kernel"
	"saex/internal/features"
)

// discardWriter drops what the builder writes: the benchmark measures the
// build, not the database (docs/performance.md covers writes).
type discardWriter struct{ memWriter }

func (*discardWriter) WriteFeatures(context.Context, *features.FeatureBatch) error { return nil }
func (*discardWriter) Done(context.Context, features.Checkpoint) (bool, error)     { return false, nil }

// matmulOnly times the matrix products of pass 1 for tokens tokens, in
// chunks of 2048 rows: per block QKV (d x 3d), attention out (d x d), MLP in
// (d x inner) and out (inner x d), then one d x dsae encoder per SAE, on
// random packed weights.
func matmulOnly(d, inner, blocks, saes, dsae, tokens int) time.Duration {
	const rows = 2048
	r := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = r.Float32() - 0.5
		}
		return v
	}
	type mm struct {
		p    *kernel.Packed
		k, n int
	}
	var ms []mm
	for range blocks {
		for _, kn := range [][2]int{{d, 3 * d}, {d, d}, {d, inner}, {inner, d}} {
			ms = append(ms, mm{kernel.Pack(rnd(kn[0]*kn[1]), kn[0], kn[1]), kn[0], kn[1]})
		}
	}
	for range saes {
		ms = append(ms, mm{kernel.Pack(rnd(d*dsae), d, dsae), d, dsae})
	}
	a := rnd(rows * max(d, inner))
	c := make([]float32, rows*max(3*d, inner, dsae))
	start := time.Now()
	for t := 0; t < tokens; t += rows {
		for _, m := range ms {
			kernel.MatMul(c[:rows*m.n], a[:rows*m.k], rows, m.p, nil)
		}
	}
	return time.Since(start)
}

// peakRSS is the process's peak resident set (VmHWM), 0 when unknown.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkBuildDemo builds the demo's dashboards (model + 3 SAEs) over the
// demo corpus, or its first SAEX_BENCH_CONTEXTS contexts, without a
// database. Metrics: tokens/s of pass 1 (wall), the share of pass 1's
// critical path outside the model forward and the SAE encodes, CPU seconds,
// and the peak Go heap.
//
//	go test ./internal/features/dashboard -run XXX -bench BuildDemo -benchtime 1x
func BenchmarkBuildDemo(b *testing.B) {
	d := loadDemo(b)
	n := 0
	if v := os.Getenv("SAEX_BENCH_CONTEXTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	chunk := 0
	if v := os.Getenv("SAEX_BENCH_CHUNK"); v != "" {
		chunk, _ = strconv.Atoi(v)
	}
	for b.Loop() {
		runtime.GC()
		mm0 := matmulOnly(d.model.Cfg.NEmbd, d.model.Cfg.NInner, 3, 3, 4096, 1<<15)
		cpu0 := processCPU()
		res, err := Build(context.Background(), Options{
			ModelID: "demo-gpt2-4l", Model: d.model, Tokenizer: d.tok, ModelDir: demoDir + "/model",
			Sources: d.sources, Corpus: demoCorpus, MaxContexts: n, ChunkContexts: chunk, WorkDir: b.TempDir(), Writer: &discardWriter{},
		})
		if err != nil {
			b.Fatal(err)
		}
		cpu := processCPU() - cpu0
		mm1 := matmulOnly(d.model.Cfg.NEmbd, d.model.Cfg.NInner, 3, 3, 4096, 1<<15)
		t := res.Timing
		// The same products as pass 1 (three blocks, three SAE encoders),
		// bare, timed just before and after the build on the same machine:
		// what pass 1 would take if it did nothing but the matmuls.
		mmTokS := float64(1<<15) / ((mm0 + mm1).Seconds() / 2)
		b.ReportMetric(mmTokS, "matmul-only-tokens/s")
		b.ReportMetric(100*(1-float64(res.Tokens)/mmTokS/t.Pass1.Seconds()), "%pass1-outside-matmuls")
		b.ReportMetric(float64(res.Tokens)/t.Pass1.Seconds(), "tokens/s")
		b.ReportMetric(float64(res.Tokens)/(t.Forward+t.Encode+t.Bookkeeping).Seconds(), "tokens/s-serial")
		b.ReportMetric(100*t.Bookkeeping.Seconds()/(t.Forward+t.Encode+t.Bookkeeping).Seconds(), "%bookkeeping")
		b.ReportMetric(float64(res.Tokens)/t.Pass1CPU.Seconds(), "tokens/cpu-s")
		b.ReportMetric(t.Forward.Seconds(), "forward-s")
		b.ReportMetric(t.Encode.Seconds(), "encode-s")
		b.ReportMetric(t.Bookkeeping.Seconds(), "bookkeeping-s")
		b.ReportMetric(t.Pass2.Seconds(), "pass2-s")
		b.ReportMetric(t.LogitsNeighbours.Seconds(), "logits+nbrs-s")
		b.ReportMetric(t.Write.Seconds(), "assemble-s")
		b.ReportMetric(t.Total.Seconds(), "total-s")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MiB")
	}
}
