package transformer

import (
	"strconv"

	"saex/internal/compute/kernel"
	"saex/internal/compute/tensor"
)

// Each family's checkpoint names and layouts, mapped onto layer. Biases a
// family may lack are read with opt.

// loadGPT2: Conv1D weights are already [in, out]; names with or without
// the "transformer." prefix.
func (m *Model) loadGPT2(l *loader) error {
	c := m.Cfg
	d, inner := c.NEmbd, c.NInner
	if !l.src.has("wte.weight") && l.src.has("transformer.wte.weight") {
		l.prefix = "transformer."
	}
	m.wte = l.matrix("wte.weight", c.VocabSize, d)
	m.wpe = l.get("wpe.weight", c.NPositions, d)
	for i := range m.built {
		l.layerDone()
		p := "h." + strconv.Itoa(i) + "."
		ly := &m.layers[i]
		ly.ln1 = norm{l.get(p+"ln_1.weight", d), l.get(p+"ln_1.bias", d)}
		ly.qkv = l.conv1d(p+"attn.c_attn.weight", d, 3*d)
		ly.qkvB = l.get(p+"attn.c_attn.bias", 3*d)
		ly.o = l.conv1d(p+"attn.c_proj.weight", d, d)
		ly.oB = l.get(p+"attn.c_proj.bias", d)
		ly.ln2 = norm{l.get(p+"ln_2.weight", d), l.get(p+"ln_2.bias", d)}
		ly.up = l.conv1d(p+"mlp.c_fc.weight", d, inner)
		ly.upB = l.get(p+"mlp.c_fc.bias", inner)
		ly.down = l.conv1d(p+"mlp.c_proj.weight", inner, d)
		ly.downB = l.get(p+"mlp.c_proj.bias", d)
	}
	l.layerDone()
	if m.head {
		m.final = norm{l.get("ln_f.weight", d), l.get("ln_f.bias", d)}
		if !c.TieWordEmbeddings { // lm_head lives outside the transformer. prefix
			m.unembedW = l.unembed("lm_head.weight", c.VocabSize, d)
		}
	}
	return l.err
}

// loadDecoder: Llama, Qwen2, Qwen3 and Gemma-2 (model.layers.L.*,
// nn.Linear [out, in]).
func (m *Model) loadDecoder(l *loader) error {
	c := m.Cfg
	d, inner, hd := c.NEmbd, c.NInner, c.HeadDim
	qd, kvd := c.qDim(), c.kvDim()
	l.prefix = "model."
	if !l.src.has("model.embed_tokens.weight") && l.src.has("embed_tokens.weight") {
		l.prefix = "" // a bare *Model checkpoint
	}
	plus := c.NormPlusOne
	m.wte = l.matrix("embed_tokens.weight", c.VocabSize, d)
	for i := range m.built {
		l.layerDone()
		p := "layers." + strconv.Itoa(i) + "."
		ly := &m.layers[i]
		qkv := []string{p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"}
		qkvB := []string{p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias", p + "self_attn.v_proj.bias"}
		outs := []int{qd, kvd, kvd}
		ly.ln1 = norm{w: l.rmsWeight(p+"input_layernorm.weight", d, plus)}
		ly.qkv = l.stacked(d, qkv, outs)
		ly.qkvB = l.stackedBias(qkvB, outs)
		if c.QKNorm {
			ly.qNorm = l.rmsWeight(p+"self_attn.q_norm.weight", hd, false)
			ly.kNorm = l.rmsWeight(p+"self_attn.k_norm.weight", hd, false)
		}
		ly.o = l.linear(p+"self_attn.o_proj.weight", qd, d)
		ly.oB = l.opt(p+"self_attn.o_proj.bias", d)
		if c.SandwichNorms {
			ly.postAttn = norm{w: l.rmsWeight(p+"post_attention_layernorm.weight", d, plus)}
			ly.ln2 = norm{w: l.rmsWeight(p+"pre_feedforward_layernorm.weight", d, plus)}
			ly.postMLP = norm{w: l.rmsWeight(p+"post_feedforward_layernorm.weight", d, plus)}
		} else {
			ly.ln2 = norm{w: l.rmsWeight(p+"post_attention_layernorm.weight", d, plus)}
		}
		gu := []string{p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}
		ly.up = l.stacked(d, gu, []int{inner, inner})
		ly.upB = l.stackedBias([]string{p + "mlp.gate_proj.bias", p + "mlp.up_proj.bias"}, []int{inner, inner})
		ly.down = l.linear(p+"mlp.down_proj.weight", inner, d)
		ly.downB = l.opt(p+"mlp.down_proj.bias", d)
	}
	l.layerDone()
	if m.head {
		m.final = norm{w: l.rmsWeight("norm.weight", d, plus)}
		if !c.TieWordEmbeddings {
			m.unembedW = l.unembed("lm_head.weight", c.VocabSize, d)
		}
	}
	return l.err
}

// loadNeoX: GPT-NeoX (Pythia). query_key_value interleaves each head's
// q, k and v rows ([heads, 3, head_dim] on the output axis); the rows are
// regrouped into Q | K | V here. The buffers older checkpoints carry
// (attention.bias, masked_bias, rotary_emb.inv_freq) are not read.
func (m *Model) loadNeoX(l *loader) error {
	c := m.Cfg
	d, inner, hd, nh := c.NEmbd, c.NInner, c.HeadDim, c.NHead
	l.prefix = "gpt_neox."
	if !l.src.has("gpt_neox.embed_in.weight") && l.src.has("embed_in.weight") {
		l.prefix = ""
	}
	m.wte = l.matrix("embed_in.weight", c.VocabSize, d)
	for i := range m.built {
		l.layerDone()
		p := "layers." + strconv.Itoa(i) + "."
		ly := &m.layers[i]
		ly.ln1 = norm{l.get(p+"input_layernorm.weight", d), l.get(p+"input_layernorm.bias", d)}
		ly.qkv = l.neoxQKV(p+"attention.query_key_value.weight", nh, hd, d)
		if b := l.opt(p+"attention.query_key_value.bias", 3*nh*hd); b != nil { // absent with attention_bias false
			ly.qkvB = neoxRegroup(b, nh, hd, 1)
		}
		ly.o = l.linear(p+"attention.dense.weight", nh*hd, d)
		ly.oB = l.opt(p+"attention.dense.bias", d)
		ly.ln2 = norm{l.get(p+"post_attention_layernorm.weight", d), l.get(p+"post_attention_layernorm.bias", d)}
		ly.up = l.linear(p+"mlp.dense_h_to_4h.weight", d, inner)
		ly.upB = l.get(p+"mlp.dense_h_to_4h.bias", inner)
		ly.down = l.linear(p+"mlp.dense_4h_to_h.weight", inner, d)
		ly.downB = l.get(p+"mlp.dense_4h_to_h.bias", d)
	}
	l.layerDone()
	if m.head {
		m.final = norm{l.get("final_layer_norm.weight", d), l.get("final_layer_norm.bias", d)}
		if !c.TieWordEmbeddings {
			m.unembedW = l.unembed("embed_out.weight", c.VocabSize, d)
		}
	}
	return l.err
}

// neoxQKV reads and packs query_key_value with its rows regrouped.
func (l *loader) neoxQKV(name string, nh, hd, d int) *kernel.Packed {
	if l.err != nil {
		return nil
	}
	var raw []uint16
	var dt tensor.DType
	var ok bool
	var err error
	if l.keep16 {
		raw, dt, ok, err = l.src.half(l.prefix+name, 3*nh*hd, d)
	}
	switch {
	case err != nil:
		l.err = err
		return nil
	case ok:
		p := pack16(neoxRegroup(raw, nh, hd, d), dt, d, 3*nh*hd, true)
		l.src.release(l.prefix + name)
		return p
	}
	w := l.get(name, 3*nh*hd, d)
	if w == nil {
		return nil
	}
	return kernel.PackTransposed(neoxRegroup(w, nh, hd, d), d, 3*nh*hd)
}

// neoxRegroup reorders rows of width w from [heads, 3, hd] to
// [3, heads, hd].
func neoxRegroup[T any](x []T, nh, hd, w int) []T {
	out := make([]T, len(x))
	for h := range nh {
		for part := range 3 {
			src := x[(h*3+part)*hd*w : (h*3+part+1)*hd*w]
			copy(out[(part*nh+h)*hd*w:], src)
		}
	}
	return out
}
