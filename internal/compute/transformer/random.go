package transformer

import (
	"math"
	"math/rand/v2"
	"strings"
)

// NewRandom builds a model of cfg with random weights (uniform, standard
// deviation 0.02; norm weights near 1) for benchmarks, loading only what
// the deepest of hooks needs: the layers up to it, and the final norm and
// unembedding only for ln_final or logits.
//
// bf16 rounds every weight to bfloat16 (as a checkpoint stored in bf16
// holds them).
func NewRandom(cfg Config, seed uint64, hooks []string, bf16 bool) (*Model, error) {
	layers, logits, err := cfg.LayersFor(hooks)
	if err != nil {
		return nil, err
	}
	head := logits
	for _, h := range hooks {
		head = head || h == "ln_final.hook_normalized"
	}
	return build(cfg, &randomSource{cfg: cfg, bf16: bf16, r: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}, layers, head)
}

// randomSource serves random weights of whatever shape is asked for, under
// the family's names; biases exist where the family always has them.
type randomSource struct {
	cfg  Config
	bf16 bool
	r    *rand.PCG
}

func (s *randomSource) origin() string { return "random weights" }

func (s *randomSource) has(name string) bool {
	switch s.cfg.Family {
	case GPT2:
		return !strings.HasPrefix(name, "transformer.") && name != "lm_head.weight"
	case NeoX:
		return strings.HasPrefix(name, "gpt_neox.") || name == "embed_out.weight"
	case Qwen2:
		if strings.HasSuffix(name, "_proj.bias") {
			return strings.Contains(name, ".q_proj.") || strings.Contains(name, ".k_proj.") || strings.Contains(name, ".v_proj.")
		}
	}
	return !strings.HasSuffix(name, ".bias") && (strings.HasPrefix(name, "model.") || name == "lm_head.weight")
}

func (s *randomSource) get(name string, shape ...int) ([]float32, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	w := make([]float32, n)
	base := float32(0)
	if (strings.Contains(name, "norm") || strings.Contains(name, "ln_")) && !s.cfg.NormPlusOne {
		base = 1 // norm gains near 1, as in a trained model
	}
	// Uniform on ±0.02·√3 (standard deviation 0.02), two values per draw:
	// billions of weights for the larger shapes.
	const scale = 0.034641016151377546 / (1 << 31) // 0.02·√3 / 2³¹
	for i := 0; i < n; i += 2 {
		u := s.r.Uint64()
		w[i] = base + float32(float64(int32(u))*scale)
		if i+1 < n {
			w[i+1] = base + float32(float64(int32(u>>32))*scale)
		}
	}
	if s.bf16 {
		for i, v := range w {
			w[i] = math.Float32frombits(math.Float32bits(v) &^ 0xFFFF)
		}
	}
	return w, nil
}
