package transformer

import (
	"fmt"
	"path/filepath"
	"runtime"

	"saex/internal/compute/kernel"
	"saex/internal/compute/tensor"
)

// Load reads config.json and the weights (model.safetensors, or the shards
// of model.safetensors.index.json) of a Hugging Face checkpoint directory
// of any supported family.
//
// BF16 and F16 weights stay 16-bit: matrices are packed 16-bit (the
// kernel widens them as it reads them, exactly, so results equal the
// float32 path, at the float32 path's speed since the kernel's 16-bit
// micro-kernels) and embeddings are read in place from the mapped file, a
// row at a time (the model then keeps the file mapped). F32 weights are
// packed as float32.
func Load(dir string) (*Model, error) {
	return loadDir(dir, func(Config) bool { return true })
}

// bigModel is the float32 size of a model's weights above which loading
// collects garbage between layers (see loader.layerDone). At 1 GiB a
// Pythia-160M shape (650 MB) built 16-bit peaked at 1.45x its weight bytes.
const bigModel = 64 << 20

// float32Bytes is the size of the model's weights in float32.
func (c Config) float32Bytes() int64 {
	d := int64(c.NEmbd)
	embed := int64(c.VocabSize) * d
	if !c.TieWordEmbeddings {
		embed *= 2
	}
	mlp := 2 * d * int64(c.NInner)
	if c.GatedMLP {
		mlp = 3 * d * int64(c.NInner)
	}
	perLayer := d*int64(c.qDim()+2*c.kvDim()) + int64(c.qDim())*d + mlp
	return 4 * (embed + int64(c.NLayer)*perLayer)
}

// loadDir is Load with the choice of keeping 16-bit weights 16-bit.
func loadDir(dir string, keep16 func(Config) bool) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		return nil, fmt.Errorf("transformer: %w", err)
	}
	m, err := build(cfg, checkpointSource{ck}, cfg.NLayer, true, keep16(cfg))
	if err != nil || m.wte.u16 == nil && m.unembedW.u16 == nil {
		ck.Close()
	}
	return m, err
}

// loader reads tensors through a weightSource, keeping the first error so
// that a family's mapping reads as a plain list of names.
type loader struct {
	src    weightSource
	prefix string
	keep16 bool // pack BF16/F16 matrices 16-bit, read 16-bit embeddings in place
	big    bool // over bigModel: collect garbage between layers
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

// layerDone runs the garbage collector between layers of a large model:
// packing leaves each layer's unpacked copies behind, and without a
// collection per layer they pile up to the size of the packed weights
// (GOGC) before the heap is reused. The packed panels hold no pointers, so
// a collection is cheap.
func (l *loader) layerDone() {
	if l.big {
		runtime.GC()
	}
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
	return l.packed(in, []string{name}, []int{out}, false)
}

// stacked reads several nn.Linear weights with the same input width and
// packs them side by side as one [in, Σout] matrix (one product for Q, K
// and V, or for gate and up).
func (l *loader) stacked(in int, names []string, outs []int) *kernel.Packed {
	return l.packed(in, names, outs, false)
}

// conv1d reads a GPT-2 Conv1D weight, already [in, out].
func (l *loader) conv1d(name string, in, out int) *kernel.Packed {
	return l.packed(in, []string{name}, []int{out}, true)
}

// packed reads weights with the same input width, stacked on the output
// axis, and packs them as one [in, Σout] matrix: 16-bit when all of them
// are stored so (and of one dtype), float32 otherwise. nn.Linear weights
// are [out, in]; a Conv1D weight (conv, one name) is [in, out]. The mapped
// pages of 16-bit tensors are released once packed.
func (l *loader) packed(in int, names []string, outs []int, conv bool) *kernel.Packed {
	if l.err != nil {
		return nil
	}
	total := 0
	shapes := make([][]int, len(names))
	for i, o := range outs {
		total += o
		shapes[i] = []int{o, in}
		if conv {
			shapes[i] = []int{in, o}
		}
	}
	var raws [][]uint16
	var dt tensor.DType
	for i, n := range names {
		if !l.keep16 {
			break
		}
		raw, d, ok, err := l.src.half(l.prefix+n, shapes[i]...)
		if err != nil {
			l.err = err
			return nil
		}
		if !ok || (dt != "" && d != dt) {
			raws = nil
			break
		}
		dt, raws = d, append(raws, raw)
	}
	if raws != nil {
		var p *kernel.Packed
		switch {
		case len(raws) == 1:
			p = pack16(raws[0], dt, in, total, !conv)
		case dt == tensor.BF16: // stacked Linear weights, packed from their parts without a copy
			p = kernel.PackBF16TransposedConcat(raws, in, total)
		default:
			p = kernel.PackF16TransposedConcat(raws, in, total)
		}
		for _, n := range names {
			l.src.release(l.prefix + n)
		}
		return p
	}
	var cat []float32
	for i, n := range names {
		cat = append(cat, l.get(n, shapes[i]...)...)
	}
	if l.err != nil {
		return nil
	}
	if conv {
		return kernel.Pack(cat, in, total)
	}
	return kernel.PackTransposed(cat, in, total)
}

// pack16 packs a [k, n] 16-bit matrix (given transposed, [n, k], when
// transposed is set).
func pack16(raw []uint16, dt tensor.DType, k, n int, transposed bool) *kernel.Packed {
	switch {
	case dt == tensor.BF16 && transposed:
		return kernel.PackBF16Transposed(raw, k, n)
	case dt == tensor.BF16:
		return kernel.PackBF16(raw, k, n)
	case transposed:
		return kernel.PackF16Transposed(raw, k, n)
	}
	return kernel.PackF16(raw, k, n)
}

// matrix reads a [rows, cols] matrix read by rows (embeddings, an untied
// unembedding) as stored: a 16-bit view or float32.
func (l *loader) matrix(name string, rows, cols int) matrix16 {
	if l.err != nil {
		return matrix16{}
	}
	if !l.keep16 {
		return matrix16{f32: l.get(name, rows, cols)}
	}
	raw, dt, ok, err := l.src.half(l.prefix+name, rows, cols)
	if err != nil {
		l.err = err
		return matrix16{}
	}
	if ok {
		src, full := l.src, l.prefix+name
		return matrix16{u16: raw, dt: dt, release: func() { src.release(full) }}
	}
	return matrix16{f32: l.get(name, rows, cols)}
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
func (l *loader) unembed(name string, v, d int) matrix16 {
	if l.err != nil {
		return matrix16{}
	}
	if !l.src.has(name) {
		l.err = fmt.Errorf("transformer: %s: tensor %q is missing (config.json has tie_word_embeddings false)", l.src.origin(), name)
		return matrix16{}
	}
	prefix := l.prefix
	l.prefix = ""
	defer func() { l.prefix = prefix }()
	return l.matrix(name, v, d)
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
func build(cfg Config, src weightSource, nLayers int, head, keep16 bool) (*Model, error) {
	m := &Model{Cfg: cfg, layers: make([]layer, cfg.NLayer), built: nLayers, head: head,
		zeros: make([]float32, max(cfg.NEmbd, cfg.NInner, cfg.HeadDim))}
	if !cfg.LearnedPositions {
		m.invFreq = invFreq(cfg.RotaryDim, cfg.Rope)
	}
	var err error
	l := &loader{src: src, keep16: keep16, big: cfg.float32Bytes() > bigModel}
	switch cfg.Family {
	case GPT2:
		err = m.loadGPT2(l)
	case NeoX:
		err = m.loadNeoX(l)
	default:
		err = m.loadDecoder(l)
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
	if m.unembedW.isNil() && head {
		m.unembedW = m.wte
	}
	return m, nil
}
