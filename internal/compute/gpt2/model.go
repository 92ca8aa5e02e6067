// Package gpt2 runs the GPT-2 architecture on the CPU in float32: it loads
// a Hugging Face checkpoint directory (config.json + model.safetensors)
// and computes the activations at TransformerLens hook points.
package gpt2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"saex/internal/compute/kernel"
	"saex/internal/compute/tensor"
)

// layer holds one transformer block's weights; matmul weights are packed
// once for the kernel (Conv1D weights are already [in, out]).
type layer struct {
	ln1W, ln1B []float32
	attn       *kernel.Packed // [d, 3d]: Q | K | V
	attnB      []float32
	proj       *kernel.Packed // [d, d]
	projB      []float32
	ln2W, ln2B []float32
	fc         *kernel.Packed // [d, n_inner]
	fcB        []float32
	fcProj     *kernel.Packed // [n_inner, d]
	fcProjB    []float32
	attnScale  float32
}

// Model is a loaded GPT-2. It is immutable after Load and safe for
// concurrent Forward calls.
type Model struct {
	Cfg Config

	wte, wpe   []float32 // [vocab, d], [n_positions, d]
	lnfW, lnfB []float32
	layers     []layer
	unembedT   []float32 // [vocab, d]: wte when tied, else lm_head.weight

	unembedOnce sync.Once
	unembed     *kernel.Packed // [d, vocab], packed on first use

	pool sync.Pool // *workspace
}

// WE returns the token embedding wte, [vocab, d_model] row-major. The
// caller must not modify it.
func (m *Model) WE() []float32 { return m.wte }

// WPos returns the position embedding wpe, [n_positions, d_model].
func (m *Model) WPos() []float32 { return m.wpe }

// WUT returns the unembedding transposed, [vocab, d_model] row-major
// (row t is the direction whose dot product with ln_final gives logit t):
// wte when the embeddings are tied, else lm_head.weight.
func (m *Model) WUT() []float32 { return m.unembedT }

// WU returns the unembedding W_U [d_model, vocab], packed for
// kernel.MatMul (so that logits = kernel.MatMul(ln_final, WU)). It is
// packed on first use.
func (m *Model) WU() *kernel.Packed {
	m.unembedOnce.Do(func() {
		m.unembed = kernel.PackTransposed(m.unembedT, m.Cfg.NEmbd, m.Cfg.VocabSize)
	})
	return m.unembed
}

// LnFinal returns the final layer norm's weight and bias, [d_model] each.
func (m *Model) LnFinal() (w, b []float32) { return m.lnfW, m.lnfB }

// ApplyLnFinal applies the final layer norm (with its affine part) to each
// d_model-wide row of x in place.
func (m *Model) ApplyLnFinal(x []float32) {
	d := m.Cfg.NEmbd
	for r := 0; r+d <= len(x); r += d {
		layerNorm(x[r:r+d], x[r:r+d], m.lnfW, m.lnfB, m.Cfg.LayerNormEpsilon)
	}
}

// weightSource fetches a tensor by its checkpoint name, converted to
// float32, with its shape checked.
type weightSource interface {
	has(name string) bool
	get(name string, shape ...int) ([]float32, error)
}

// Load reads config.json and model.safetensors (or the shards listed in
// model.safetensors.index.json) from a Hugging Face GPT-2 directory.
// Tensor names may carry the "transformer." prefix or not; weights may be
// F32, F16 or BF16 and are converted to float32 once.
func Load(dir string) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	src, err := openWeights(dir)
	if err != nil {
		return nil, err
	}
	defer src.close()
	return build(cfg, src)
}

// fileSet is one or more safetensors files with a tensor-name index.
type fileSet struct {
	files []*tensor.File
	where map[string]*tensor.File
}

func (s *fileSet) close() {
	for _, f := range s.files {
		f.Close()
	}
}

func (s *fileSet) has(name string) bool { _, ok := s.where[name]; return ok }

func (s *fileSet) get(name string, shape ...int) ([]float32, error) {
	f, ok := s.where[name]
	if !ok {
		return nil, fmt.Errorf("gpt2: tensor %q is missing", name)
	}
	return f.Float32(name, shape...)
}

func openWeights(dir string) (*fileSet, error) {
	s := &fileSet{where: map[string]*tensor.File{}}
	single := filepath.Join(dir, "model.safetensors")
	var paths []string
	if _, err := os.Stat(single); err == nil {
		paths = []string{single}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else {
		idx := filepath.Join(dir, "model.safetensors.index.json")
		data, err := os.ReadFile(idx)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("gpt2: %s has neither model.safetensors nor model.safetensors.index.json (pytorch_model.bin is not supported)", dir)
		}
		if err != nil {
			return nil, err
		}
		var index struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(data, &index); err != nil {
			return nil, fmt.Errorf("gpt2: %s: %w", idx, err)
		}
		seen := map[string]bool{}
		for name, shard := range index.WeightMap {
			if shard != filepath.Base(shard) || shard == "" || shard == "." || shard == ".." {
				return nil, fmt.Errorf("gpt2: %s: tensor %q: shard %q is not a file name in the directory", idx, name, shard)
			}
			if !seen[shard] {
				seen[shard] = true
				paths = append(paths, filepath.Join(dir, shard))
			}
		}
		sort.Strings(paths)
		if len(paths) == 0 {
			return nil, fmt.Errorf("gpt2: %s: weight_map is empty", idx)
		}
	}
	for _, p := range paths {
		f, err := tensor.OpenSafetensors(p)
		if err != nil {
			s.close()
			return nil, err
		}
		s.files = append(s.files, f)
		for _, n := range f.Names() {
			s.where[n] = f
		}
	}
	return s, nil
}

// build reads every weight through src; names are tried with and without
// the "transformer." prefix.
func build(cfg Config, src weightSource) (*Model, error) {
	d, inner, v := cfg.NEmbd, cfg.NInner, cfg.VocabSize
	prefix := ""
	if !src.has("wte.weight") && src.has("transformer.wte.weight") {
		prefix = "transformer."
	}
	var firstErr error
	get := func(name string, shape ...int) []float32 {
		if firstErr != nil {
			return nil
		}
		w, err := src.get(prefix+name, shape...)
		if err != nil {
			firstErr = err
		}
		return w
	}
	m := &Model{Cfg: cfg}
	m.wte = get("wte.weight", v, d)
	m.wpe = get("wpe.weight", cfg.NPositions, d)
	m.lnfW = get("ln_f.weight", d)
	m.lnfB = get("ln_f.bias", d)
	scale := float32(1)
	m.layers = make([]layer, cfg.NLayer)
	for i := range m.layers {
		p := fmt.Sprintf("h.%d.", i)
		l := &m.layers[i]
		l.ln1W = get(p+"ln_1.weight", d)
		l.ln1B = get(p+"ln_1.bias", d)
		l.attn = pack(get(p+"attn.c_attn.weight", d, 3*d), d, 3*d)
		l.attnB = get(p+"attn.c_attn.bias", 3*d)
		l.proj = pack(get(p+"attn.c_proj.weight", d, d), d, d)
		l.projB = get(p+"attn.c_proj.bias", d)
		l.ln2W = get(p+"ln_2.weight", d)
		l.ln2B = get(p+"ln_2.bias", d)
		l.fc = pack(get(p+"mlp.c_fc.weight", d, inner), d, inner)
		l.fcB = get(p+"mlp.c_fc.bias", inner)
		l.fcProj = pack(get(p+"mlp.c_proj.weight", inner, d), inner, d)
		l.fcProjB = get(p+"mlp.c_proj.bias", d)
		scale = 1
		if cfg.ScaleAttnWeights {
			scale /= float32(sqrt(float64(cfg.DHead())))
		}
		if cfg.ScaleAttnByInverseLayerIdx {
			scale /= float32(i + 1)
		}
		l.attnScale = scale
	}
	m.unembedT = m.wte
	if !cfg.TieWordEmbeddings {
		// lm_head lives outside the transformer. prefix; nn.Linear layout [vocab, d].
		if !src.has("lm_head.weight") {
			if firstErr == nil {
				firstErr = errors.New("gpt2: tie_word_embeddings is false but tensor \"lm_head.weight\" is missing")
			}
		} else if firstErr == nil {
			m.unembedT, firstErr = src.get("lm_head.weight", v, d)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return m, nil
}

func pack(w []float32, k, n int) *kernel.Packed {
	if w == nil {
		return nil
	}
	return kernel.Pack(w, k, n)
}
