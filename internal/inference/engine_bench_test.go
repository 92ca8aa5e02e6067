package inference

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkRunPrompt64 is a 64-token prompt (BOS included) through the demo
// model and all three SAEs: the prompt tool's and search-all's unit of work.
func BenchmarkRunPrompt64(b *testing.B) { benchRunPrompt(b, 64) }

// BenchmarkRunPrompt128 is a 128-token prompt (BOS included) through the
// demo model to blocks.3.hook_resid_pre and all three SAEs: issue 2's
// "demo forward plus its three SAEs in <= 10 ms".
func BenchmarkRunPrompt128(b *testing.B) { benchRunPrompt(b, 128) }

// benchRunPrompt times Engine.RunPrompt on a prompt of n tokens, BOS
// included, over every demo source, and reports the latency's p50 and p99
// besides the mean.
func benchRunPrompt(b *testing.B, n int) {
	e := loadDemoEngine(b)
	text := strings.Repeat(" token", n-1)
	r, err := e.RunPrompt(context.Background(), "demo-gpt2-4l", nil, text)
	if err != nil || len(r.TokenIDs) != n {
		b.Fatalf("%v, %d tokens, want %d", err, len(r.TokenIDs), n)
	}
	b.ReportAllocs()
	var lat []time.Duration
	for b.Loop() {
		t := time.Now()
		if _, err := e.RunPrompt(context.Background(), "demo-gpt2-4l", nil, text); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
