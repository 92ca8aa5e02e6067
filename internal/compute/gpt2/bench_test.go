package gpt2

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// randomSource serves random weights of whatever shape is asked for, so
// benchmarks can build a GPT-2-small-shaped model without a checkpoint.
type randomSource struct{ r *rand.Rand }

func (randomSource) has(name string) bool {
	return !strings.HasPrefix(name, "transformer.") && name != "lm_head.weight"
}

func (s randomSource) get(name string, shape ...int) ([]float32, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	w := make([]float32, n)
	base := float32(0)
	if strings.Contains(name, "ln_") {
		base = 1 // layer-norm gains near 1, as in a trained model
	}
	for i := range w {
		w[i] = base + 0.02*float32(s.r.NormFloat64())
	}
	return w, nil
}

var (
	smallOnce  sync.Once
	smallModel *Model
	smallErr   error
)

// gpt2Small builds (once per test binary) a model with GPT-2 small's
// shape: 12 layers, d=768, 12 heads, vocab 50257, 1024 positions.
func gpt2Small(b *testing.B) *Model {
	smallOnce.Do(func() {
		cfg := Config{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, NInner: 3072,
			LayerNormEpsilon: 1e-5, ActivationFunction: "gelu_new", BOSTokenID: 50256, EOSTokenID: 50256,
			TieWordEmbeddings: true, ScaleAttnWeights: true}
		smallModel, smallErr = build(cfg, randomSource{rand.New(rand.NewPCG(7, 8))})
	})
	if smallErr != nil {
		b.Fatal(smallErr)
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
}

// BenchmarkForwardGPT2Small128 is a GPT-2-small-shaped model (random
// weights) on 128 tokens up to blocks.8.hook_resid_pre.
func BenchmarkForwardGPT2Small128(b *testing.B) {
	m := gpt2Small(b)
	benchForward(b, m, 128, []string{"blocks.8.hook_resid_pre"})
}
