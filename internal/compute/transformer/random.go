package transformer

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"

	"saex/internal/compute/tensor"
)

// NewRandom builds a model of cfg with random weights (uniform, standard
// deviation 0.02; norm weights near 1) for benchmarks, loading only what
// the deepest of hooks needs: the layers up to it, and the final norm and
// unembedding only for ln_final or logits.
//
// bf16 stores the matrices and embeddings as bfloat16, as a checkpoint
// saved in bf16 holds them (norm weights and biases stay float32).
func NewRandom(cfg Config, seed uint64, hooks []string, bf16 bool) (*Model, error) {
	layers, logits, err := cfg.LayersFor(hooks)
	if err != nil {
		return nil, err
	}
	head := logits
	for _, h := range hooks {
		head = head || h == "ln_final.hook_normalized"
	}
	return build(cfg, &randomSource{cfg: cfg, bf16: bf16, r: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}, layers, head, bf16)
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

// release runs after a matrix is packed from the halves half returned.
// They live on the heap (a checkpoint's are mapped), so a large model
// collects them at once: between layers only, one layer's copies (gate and
// up of a Llama-3.1-8B shape: 470 MB) piled up on top of the packed weights
// (bench forward's peak RSS, two such layers: 1.25x the weights).
func (s *randomSource) release(string) {
	if s.bf16 && s.cfg.float32Bytes() > bigModel {
		runtime.GC()
	}
}

// half serves BF16 matrices when the model is built 16-bit, generated
// straight into 16 bits (no float32 copy of a multi-GB embedding).
func (s *randomSource) half(name string, shape ...int) ([]uint16, tensor.DType, bool, error) {
	if !s.bf16 {
		return nil, "", false, nil
	}
	raw := make([]uint16, numel(shape))
	s.fill(name, len(raw), func(i int, v float32) { raw[i] = uint16(math.Float32bits(v) >> 16) })
	return raw, tensor.BF16, true, nil
}

func (s *randomSource) get(name string, shape ...int) ([]float32, error) {
	w := make([]float32, numel(shape))
	s.fill(name, len(w), func(i int, v float32) {
		if s.bf16 {
			v = math.Float32frombits(math.Float32bits(v) &^ 0xFFFF)
		}
		w[i] = v
	})
	return w, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// fill emits n random values for the named tensor: uniform on ±0.02·√3
// (standard deviation 0.02), two per draw since the larger shapes have
// billions; norm gains near 1, as in a trained model (near 0 where the
// family scales by 1 + w).
func (s *randomSource) fill(name string, n int, emit func(i int, v float32)) {
	base := float32(0)
	if (strings.Contains(name, "norm") || strings.Contains(name, "ln_")) && !s.cfg.NormPlusOne {
		base = 1
	}
	const scale = 0.034641016151377546 / (1 << 31) // 0.02·√3 / 2³¹
	for i := 0; i < n; i += 2 {
		u := s.r.Uint64()
		emit(i, base+float32(float64(int32(u))*scale))
		if i+1 < n {
			emit(i+1, base+float32(float64(int32(u>>32))*scale))
		}
	}
}
