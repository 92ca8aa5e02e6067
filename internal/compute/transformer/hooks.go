package transformer

import (
	"fmt"
	"strconv"
	"strings"
)

// HookKind is a TransformerLens hook point, independent of its layer.
type HookKind int

// Hook kinds, in the order a forward pass reaches them within a layer.
const (
	HookEmbed        HookKind = iota // hook_embed: wte[ids] (times Gemma's sqrt(d_model))
	HookPosEmbed                     // hook_pos_embed: wpe[positions] (learned positions only)
	HookResidPre                     // blocks.L.hook_resid_pre (L=0: embed + pos_embed)
	HookAttnZ                        // blocks.L.attn.hook_z, flattened [T, n_head*head_dim], value bias included
	HookAttnOut                      // blocks.L.hook_attn_out (Gemma-2: after the post-attention norm)
	HookResidMid                     // blocks.L.hook_resid_mid (not under a parallel residual)
	HookMLPPre                       // blocks.L.mlp.hook_pre, [T, n_inner]: the activation's input (the gate's, when gated)
	HookMLPPreLinear                 // blocks.L.mlp.hook_pre_linear, [T, n_inner]: a gated MLP's up projection
	HookMLPPost                      // blocks.L.mlp.hook_post, [T, n_inner]: act(gate)*up when gated
	HookMLPOut                       // blocks.L.hook_mlp_out (Gemma-2: after the post-feedforward norm)
	HookResidPost                    // blocks.L.hook_resid_post
	HookLnFinal                      // ln_final.hook_normalized (see Hook docs)
	HookLogits                       // logits, [T, vocab]
)

// Hook is one parsed hook point. Layer is meaningful for the blocks.L
// kinds only.
//
// ln_final.hook_normalized is the output of the final layer norm with its
// weight and bias applied, i.e. Hugging Face hidden_states[n_layer]; it is
// what TransformerLens reports for a model loaded with fold_ln, where the
// affine part lives in W_U.
type Hook struct {
	Kind  HookKind
	Layer int
}

var blockHookNames = map[string]HookKind{
	"hook_resid_pre":      HookResidPre,
	"attn.hook_z":         HookAttnZ,
	"hook_attn_out":       HookAttnOut,
	"hook_resid_mid":      HookResidMid,
	"mlp.hook_pre":        HookMLPPre,
	"mlp.hook_pre_linear": HookMLPPreLinear,
	"mlp.hook_post":       HookMLPPost,
	"hook_mlp_out":        HookMLPOut,
	"hook_resid_post":     HookResidPost,
}

// ParseHook parses a TransformerLens hook name: hook_embed,
// hook_pos_embed, blocks.L.{hook_resid_pre, attn.hook_z, hook_attn_out,
// hook_resid_mid, mlp.hook_pre, mlp.hook_pre_linear, mlp.hook_post, hook_mlp_out,
// hook_resid_post}, ln_final.hook_normalized or logits. The layer range is
// checked by the model (Model.CheckHook).
func ParseHook(name string) (Hook, error) {
	switch name {
	case "hook_embed":
		return Hook{Kind: HookEmbed}, nil
	case "hook_pos_embed":
		return Hook{Kind: HookPosEmbed}, nil
	case "ln_final.hook_normalized":
		return Hook{Kind: HookLnFinal}, nil
	case "logits":
		return Hook{Kind: HookLogits}, nil
	}
	rest, ok := strings.CutPrefix(name, "blocks.")
	if !ok {
		return Hook{}, fmt.Errorf("transformer: unknown hook %q", name)
	}
	num, point, ok := strings.Cut(rest, ".")
	layer, err := strconv.Atoi(num)
	if !ok || err != nil || layer < 0 || num != strconv.Itoa(layer) {
		return Hook{}, fmt.Errorf("transformer: hook %q: want blocks.<layer>.<point>", name)
	}
	kind, ok := blockHookNames[point]
	if !ok {
		return Hook{}, fmt.Errorf("transformer: hook %q: unknown point %q in block %d", name, point, layer)
	}
	return Hook{Kind: kind, Layer: layer}, nil
}

// String returns the TransformerLens name of h.
func (h Hook) String() string {
	switch h.Kind {
	case HookEmbed:
		return "hook_embed"
	case HookPosEmbed:
		return "hook_pos_embed"
	case HookLnFinal:
		return "ln_final.hook_normalized"
	case HookLogits:
		return "logits"
	}
	for p, k := range blockHookNames {
		if k == h.Kind {
			return "blocks." + strconv.Itoa(h.Layer) + "." + p
		}
	}
	return fmt.Sprintf("hook(%d,%d)", h.Kind, h.Layer)
}

// depth orders hooks by when a forward pass produces them; the pass stops
// after the deepest requested one. blocks.L.hook_resid_post and
// blocks.(L+1).hook_resid_pre have the same depth.
func (h Hook) depth(nLayer int) int {
	const perLayer = int(HookResidPost - HookResidPre)
	switch h.Kind {
	case HookEmbed, HookPosEmbed:
		return 0
	case HookLnFinal:
		return nLayer*perLayer + 1
	case HookLogits:
		return nLayer*perLayer + 2
	}
	return h.Layer*perLayer + int(h.Kind-HookResidPre)
}

// CheckHook reports an error when h does not exist in this model: a layer
// out of range or not loaded, resid_mid under a parallel residual,
// pos_embed without learned positions, mlp.hook_pre_linear of an ungated
// MLP.
func (m *Model) CheckHook(h Hook) error {
	c := m.Cfg
	switch {
	case h.Kind >= HookResidPre && h.Kind <= HookResidPost && h.Layer >= c.NLayer:
		return fmt.Errorf("transformer: hook %s: layer %d out of range (model has %d layers)", h, h.Layer, c.NLayer)
	case h.Kind >= HookResidPre && h.Kind <= HookResidPost && h.Layer >= m.built && !(h.Kind == HookResidPre && h.Layer == m.built):
		return fmt.Errorf("transformer: hook %s: only %d layers of this model were loaded", h, m.built)
	case (h.Kind == HookLnFinal || h.Kind == HookLogits) && !m.head:
		return fmt.Errorf("transformer: hook %s: the final norm and unembedding of this model were not loaded", h)
	case h.Kind == HookResidMid && c.ParallelResidual:
		return fmt.Errorf("transformer: hook %s does not exist in %s with use_parallel_residual (attention and MLP both read hook_resid_pre)", h, c.Family)
	case h.Kind == HookPosEmbed && !c.LearnedPositions:
		return fmt.Errorf("transformer: hook %s does not exist in %s (rotary positions)", h, c.Family)
	case h.Kind == HookMLPPreLinear && !c.GatedMLP:
		return fmt.Errorf("transformer: hook %s exists only for gated MLPs, and %s's is not gated", h, c.Family)
	}
	return nil
}

// HookWidth is the number of values per token at h.
func (m *Model) HookWidth(h Hook) int {
	switch h.Kind {
	case HookAttnZ:
		return m.Cfg.qDim()
	case HookMLPPre, HookMLPPreLinear, HookMLPPost:
		return m.Cfg.NInner
	case HookLogits:
		return m.Cfg.VocabSize
	}
	return m.Cfg.NEmbd
}
