package dashboard

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"saex/internal/features"
)

// discardWriter drops what the builder writes: the benchmark measures the
// build, not the database (docs/performance-store.md covers writes).
type discardWriter struct{ memWriter }

func (*discardWriter) WriteFeatures(context.Context, *features.FeatureBatch) error { return nil }
func (*discardWriter) Done(context.Context, features.Checkpoint) (bool, error)     { return false, nil }

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

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
		cpu0 := cpuTime()
		res, err := Build(context.Background(), Options{
			ModelID: "demo-gpt2-4l", Model: d.model, Tokenizer: d.tok, ModelDir: demoDir + "/model",
			Sources: d.sources, Corpus: demoCorpus, MaxContexts: n, ChunkContexts: chunk, WorkDir: b.TempDir(), Writer: &discardWriter{},
		})
		if err != nil {
			b.Fatal(err)
		}
		cpu := cpuTime() - cpu0
		t := res.Timing
		b.ReportMetric(float64(res.Tokens)/t.Pass1.Seconds(), "tokens/s")
		b.ReportMetric(float64(res.Tokens)/(t.Forward+t.Encode+t.Bookkeeping).Seconds(), "tokens/s-serial")
		b.ReportMetric(100*t.Bookkeeping.Seconds()/(t.Forward+t.Encode+t.Bookkeeping).Seconds(), "%bookkeeping")
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
