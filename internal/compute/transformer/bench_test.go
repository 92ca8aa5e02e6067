package transformer

import (
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
)

var (
	smallOnce             sync.Once
	smallModel, smallBF16 *Model
	smallErr              error
)

// gpt2Small builds (once per test binary) a model with GPT-2 small's
// shape (testdata/shapes/gpt2-small.json: 12 layers, d=768, 12 heads,
// vocab 50257, 1024 positions) and random weights.
func gpt2Small(b *testing.B, bf16 bool) *Model {
	smallOnce.Do(func() {
		cfg, err := LoadConfig(filepath.Join("testdata", "shapes", "gpt2-small.json"))
		if err != nil {
			smallErr = err
			return
		}
		if smallModel, smallErr = NewRandom(cfg, 7, []string{"logits"}, false); smallErr == nil {
			smallBF16, smallErr = NewRandom(cfg, 7, []string{"logits"}, true)
		}
	})
	if smallErr != nil {
		b.Fatal(smallErr)
	}
	if bf16 {
		return smallBF16
	}
	return smallModel
}

func benchForward(b *testing.B, m *Model, n int, hooks []string) {
	ids := [][]int{randomIDs(rand.New(rand.NewPCG(9, 10)), n, m.Cfg.VocabSize)}
	ids[0][0] = max(m.Cfg.BOSTokenID, 0)
	if _, err := m.Forward(ids, hooks); err != nil { // warm the pool and W_U packing
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Forward(ids, hooks); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// CPU time per op (all threads) is steadier than wall time on a shared
	// machine; wall ≈ cpu / cores when nothing else runs.
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e6, "cpu-ms/op")
	}
}

// BenchmarkForwardDemo128 is the demo model on a 128-token prompt, up to
// the deepest SAE hook (blocks.3.hook_resid_pre) and through to logits.
func BenchmarkForwardDemo128(b *testing.B) {
	m := mustLoad(b, demoDir)
	b.Run("to=blocks.3.hook_resid_pre", func(b *testing.B) {
		benchForward(b, m, 128, []string{"blocks.1.hook_resid_pre", "blocks.2.hook_resid_pre", "blocks.3.hook_resid_pre"})
	})
	b.Run("to=logits", func(b *testing.B) {
		benchForward(b, m, 128, []string{"logits"})
	})
	// The demo's F16 weights kept 16-bit (Load widens a model this small).
	b.Run("f16/to=blocks.3.hook_resid_pre", func(b *testing.B) {
		m16, err := loadDir(demoDir, func(Config) bool { return true })
		if err != nil {
			b.Fatal(err)
		}
		benchForward(b, m16, 128, []string{"blocks.1.hook_resid_pre", "blocks.2.hook_resid_pre", "blocks.3.hook_resid_pre"})
	})
}

// BenchmarkForwardGPT2Small128 is a GPT-2-small-shaped model (random
// weights) on 128 tokens up to blocks.8.hook_resid_pre.
// The bf16 sub-benchmark keeps the (BF16-rounded) weights 16-bit.
func BenchmarkForwardGPT2Small128(b *testing.B) {
	b.Run("f32", func(b *testing.B) { benchForward(b, gpt2Small(b, false), 128, []string{"blocks.8.hook_resid_pre"}) })
	b.Run("bf16", func(b *testing.B) { benchForward(b, gpt2Small(b, true), 128, []string{"blocks.8.hook_resid_pre"}) })
}

// BenchmarkForwardShapes runs random-weight models of real shapes
// (testdata/shapes, 16-bit as their torch_dtype says) to the hooks
// docs/performance.md reports, as bench forward does.
func BenchmarkForwardShapes(b *testing.B) {
	for _, c := range []struct {
		shape, hook string
		tokens      int
	}{
		{"gemma-2-2b", "blocks.3.hook_resid_post", 128},
		{"llama-3.1-8b", "blocks.1.hook_resid_post", 64},
		{"pythia-160m", "blocks.11.hook_resid_post", 128},
	} {
		b.Run(c.shape, func(b *testing.B) {
			cfg, err := LoadConfig(filepath.Join("testdata", "shapes", c.shape+".json"))
			if err != nil {
				b.Fatal(err)
			}
			m, err := NewRandom(cfg, 1, []string{c.hook}, cfg.TorchDtype != "float32")
			if err != nil {
				b.Fatal(err)
			}
			benchForward(b, m, c.tokens, []string{c.hook})
		})
	}
}
