package transformer

import (
	"sync"

	"saex/internal/compute/kernel"
)

// norm is one normalisation's parameters: w (already 1+w for Gemma's
// RMSNorm) and b (nil for RMSNorm).
type norm struct{ w, b []float32 }

// layer holds one block's weights in the family-independent form the
// forward pass runs: matmul weights packed once for the kernel as [in, out].
type layer struct {
	ln1          norm           // input norm (attention's, and the MLP's too under a parallel residual's second norm below)
	qkv          *kernel.Packed // [d, qDim+2·kvDim]: Q | K | V, heads in order
	qkvB         []float32      // nil when the family has no q/k/v bias
	qNorm, kNorm []float32      // [head_dim] per-head RMSNorm weights (QKNorm)
	o            *kernel.Packed // [qDim, d]
	oB           []float32
	postAttn     norm           // SandwichNorms: after the attention output
	ln2          norm           // the MLP's input norm
	up           *kernel.Packed // [d, n_inner], or [d, 2·n_inner] gate | up for a gated MLP
	upB          []float32
	down         *kernel.Packed // [n_inner, d]
	downB        []float32
	postMLP      norm // SandwichNorms: after the MLP output
	attnScale    float32
	window       int // sliding window (0: full causal attention)
}

// Model is a loaded transformer of any supported family. It is immutable
// after loading and safe for concurrent Forward calls.
type Model struct {
	Cfg Config

	wte    matrix16  // [vocab, d] token embeddings
	wpe    []float32 // [n_positions, d] learned positions (GPT-2), else nil
	final  norm      // ln_f / model.norm / final_layer_norm
	layers []layer   // only the first built layers are loaded
	built  int       // number of loaded layers
	head   bool      // final norm and unembedding loaded

	unembedW    matrix16 // [vocab, d]: wte when tied, else lm_head / embed_out
	unembedOnce sync.Once
	unembed     *kernel.Packed // [d, vocab], packed on first use
	wutOnce     sync.Once
	wut         []float32 // unembedW as float32, made on first use
	invFreq     []float64 // rotary inverse frequencies, RotaryDim/2 of them
	zeros       []float32 // the absent bias of RMSNorm and of biasless projections

	pool sync.Pool // *workspace
}

// WUT returns the unembedding transposed, [vocab, d_model] row-major
// (row t is the direction whose dot product with ln_final gives logit t,
// before any final soft-cap): the embeddings when tied, else lm_head.
// It is widened to float32 on first use when stored 16-bit.
func (m *Model) WUT() []float32 {
	m.wutOnce.Do(func() { m.wut = m.unembedW.float32s() })
	return m.wut
}

// WU returns the unembedding W_U [d_model, vocab], packed for
// kernel.MatMul; it is packed on first use.
func (m *Model) WU() *kernel.Packed {
	m.unembedOnce.Do(func() {
		if w := m.unembedW; w.u16 != nil {
			m.unembed = pack16(w.u16, w.dt, m.Cfg.NEmbd, m.Cfg.VocabSize, true)
			if w.release != nil {
				w.release() // packing read every page; lookups fault back only the rows they need
			}
		} else {
			m.unembed = kernel.PackTransposed(w.f32, m.Cfg.NEmbd, m.Cfg.VocabSize)
		}
	})
	return m.unembed
}

// LnFinal returns the final norm's effective weight and bias, [d_model]
// each; the weight already includes Gemma's 1 +, and the bias is nil for
// RMSNorm families.
func (m *Model) LnFinal() (w, b []float32) { return m.final.w, m.final.b }

// ApplyLnFinal applies the final norm (with its weight) to each
// d_model-wide row of x in place.
func (m *Model) ApplyLnFinal(x []float32) {
	d := m.Cfg.NEmbd
	for r := 0; r+d <= len(x); r += d {
		m.normRow(x[r:r+d], x[r:r+d], m.final)
	}
}
