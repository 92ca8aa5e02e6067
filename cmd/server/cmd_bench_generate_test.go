package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// bench generate prints its four numbers for a small config, in f32 and
// bf16 (whose weight bytes are about half), and refuses a run longer than
// the context.
func TestBenchGenerate(t *testing.T) {
	const cfg = "../../internal/compute/transformer/testdata/families/llama3-gqa/config.json"
	run := func(dtype string) benchGenerateOutput {
		out, err := runCmd(t, "bench", "generate", "--config", cfg, "--prompt-tokens", "16", "--n-tokens", "8", "--threads", "1", "--dtype", dtype)
		if err != nil {
			t.Fatal(err)
		}
		var g benchGenerateOutput
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if g.PrefillSeconds <= 0 || g.SecondsPerToken <= 0 || g.WeightBytesPerToken <= 0 || g.StreamBytesPerSecond <= 0 || g.ReadFraction <= 0 {
			t.Fatalf("%s: %+v", dtype, g)
		}
		return g
	}
	f32, bf16 := run("f32"), run("bf16")
	// llama3-gqa: 2 layers of d 64, 4 heads (2 KV) of 16, MLP 160, vocab 512, untied.
	if f32.WeightBytesPerToken < 4*(2*(64*128+64*64+64*320+160*64)+64*512) {
		t.Errorf("f32 weight bytes %d below the matrices' size", f32.WeightBytesPerToken)
	}
	if r := float64(bf16.WeightBytesPerToken) / float64(f32.WeightBytesPerToken); r < 0.45 || r > 0.6 {
		t.Errorf("bf16/f32 weight bytes %.2f, want about 0.5", r)
	}
	if _, err := runCmd(t, "bench", "generate", "--config", cfg, "--prompt-tokens", "250", "--n-tokens", "8"); err == nil || !strings.Contains(err.Error(), "context") {
		t.Errorf("over the context: %v", err)
	}
}
