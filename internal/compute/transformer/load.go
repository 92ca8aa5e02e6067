package transformer

import (
	"fmt"
	"path/filepath"

	"saex/internal/compute/kernel"
)

// Load reads config.json and the weights (model.safetensors, or the shards
// of model.safetensors.index.json) of a Hugging Face checkpoint directory
// of any supported family. Weights may be F32, F16 or BF16.
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
	return build(cfg, src, cfg.NLayer, true)
}

// loader reads tensors through a weightSource, keeping the first error so
// that a family's mapping reads as a plain list of names.
type loader struct {
	src    weightSource
	prefix string
	err    error
}

func (l *loader) get(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	w, err := l.src.get(l.prefix+name, shape...)
	if err != nil {
		l.err = err
	}
	return w
}

// opt reads a tensor that a family may or may not have (biases).
func (l *loader) opt(name string, shape ...int) []float32 {
	if l.err != nil || !l.src.has(l.prefix+name) {
		return nil
	}
	return l.get(name, shape...)
}

// linear reads an nn.Linear weight [out, in] and packs it as [in, out].
func (l *loader) linear(name string, in, out int) *kernel.Packed {
	w := l.get(name, out, in)
	if w == nil {
		return nil
	}
	return kernel.PackTransposed(w, in, out)
}

// stacked reads several nn.Linear weights with the same input width and
// packs them side by side as one [in, Σout] matrix (one product for Q, K
// and V, or for gate and up).
func (l *loader) stacked(in int, names []string, outs []int) *kernel.Packed {
	var cat []float32
	total := 0
	for i, n := range names {
		cat = append(cat, l.get(n, outs[i], in)...)
		total += outs[i]
	}
	if l.err != nil {
		return nil
	}
	return kernel.PackTransposed(cat, in, total)
}

// stackedBias concatenates optional biases; nil when none exists, an error
// naming the missing one when only some do.
func (l *loader) stackedBias(names []string, outs []int) []float32 {
	var cat []float32
	n := 0
	for i, name := range names {
		if b := l.opt(name, outs[i]); b != nil {
			cat = append(cat, b...)
			n++
		}
	}
	if n == 0 || l.err != nil {
		return nil
	}
	if n != len(names) {
		for _, name := range names {
			if !l.src.has(l.prefix + name) {
				l.err = fmt.Errorf("transformer: %s: tensor %q is missing (its siblings have biases)", l.src.origin(), l.prefix+name)
			}
		}
		return nil
	}
	return cat
}

// unembed reads an untied unembedding, which lives outside the model's
// prefix ([vocab, d], nn.Linear layout).
func (l *loader) unembed(name string, v, d int) []float32 {
	if l.err != nil {
		return nil
	}
	if !l.src.has(name) {
		l.err = fmt.Errorf("transformer: %s: tensor %q is missing (config.json has tie_word_embeddings false)", l.src.origin(), name)
		return nil
	}
	prefix := l.prefix
	l.prefix = ""
	defer func() { l.prefix = prefix }()
	return l.get(name, v, d)
}

// rmsWeight reads an RMSNorm weight, adding Gemma's 1 once here (in
// float32, as transformers computes 1 + weight.float()).
func (l *loader) rmsWeight(name string, n int, plusOne bool) []float32 {
	w := l.get(name, n)
	if plusOne {
		for i := range w {
			w[i] += 1
		}
	}
	return w
}

// build reads the weights of the first nLayers layers (and of the final
// norm and unembedding when head is set) through the family's mapping.
func build(cfg Config, src weightSource, nLayers int, head bool) (*Model, error) {
	m := &Model{Cfg: cfg, layers: make([]layer, cfg.NLayer), built: nLayers, head: head,
		zeros: make([]float32, max(cfg.NEmbd, cfg.NInner, cfg.HeadDim))}
	if !cfg.LearnedPositions {
		m.invFreq = invFreq(cfg.RotaryDim, cfg.Rope)
	}
	var err error
	switch cfg.Family {
	case GPT2:
		err = m.loadGPT2(src)
	case NeoX:
		err = m.loadNeoX(src)
	default:
		err = m.loadDecoder(src)
	}
	if err != nil {
		return nil, err
	}
	for i := range nLayers {
		l := &m.layers[i]
		l.attnScale = float32(cfg.AttnScale)
		if cfg.ScaleAttnByInverseLayerIdx {
			l.attnScale = float32(cfg.AttnScale / float64(i+1))
		}
		if cfg.SlidingWindow > 0 && i%2 == 0 { // Gemma-2: sliding on even layers
			l.window = cfg.SlidingWindow
		}
	}
	if m.unembedT == nil && head {
		m.unembedT = m.wte
	}
	return m, nil
}
