// Package transformer runs decoder-only language models on the CPU in
// float32 and records their activations at TransformerLens hook points.
// It loads Hugging Face checkpoint directories (config.json plus
// model.safetensors or the shards of model.safetensors.index.json; F32,
// F16 or BF16 weights) of these families, detected from model_type or
// architectures:
//
//   - gpt2: LayerNorm, learned positions, Conv1D weights, tanh GELU.
//   - llama (Llama 3.x): RMSNorm, RoPE (default, linear or llama3
//     scaling), grouped-query attention, SwiGLU, tied or untied lm_head.
//   - qwen2: Llama plus q/k/v biases.
//   - qwen3: Llama plus per-head RMSNorm of queries and keys before RoPE,
//     head_dim independent of hidden_size.
//   - gemma2: embeddings times sqrt(d_model), RMSNorm with (1 + w),
//     query_pre_attn_scalar, attention and final logit soft-capping,
//     sliding-window attention on even layers, norms after attention and
//     around the MLP, GeGLU (tanh), tied embeddings.
//   - gpt_neox (Pythia): LayerNorm, fused per-head query_key_value,
//     partial rotary (rotary_pct), parallel or sequential residual, exact
//     GELU, untied embed_out.
//
// # One block with switches
//
// Every family runs through one forward pass (forward.go, block.go,
// attention.go, mlp.go) steered by Config: norm kind, gated MLP, parallel
// residual, sandwich norms, query/key norms, rotary width, soft-caps,
// sliding window, embedding scale. Families differ only in their config
// fields and checkpoint names, which load_families.go maps onto one
// layer layout (Q | K | V fused into one product, gate | up into another,
// weights packed [in, out] for the kernel). This is TransformerLens's
// choice rather than llama.cpp's graph builder per architecture: the
// families share far more than they differ, the optimised pieces
// (attention, fused GELU, norms) then serve all of them, and a new family
// is a config parser and a name mapping, tested against a reference.
//
// Hooks (hooks.go) are TransformerLens's: blocks.L.{hook_resid_pre,
// attn.hook_z, hook_attn_out, hook_resid_mid, mlp.hook_pre,
// mlp.hook_pre_linear (gated MLPs), mlp.hook_post, hook_mlp_out, hook_resid_post}, hook_embed,
// hook_pos_embed, ln_final.hook_normalized and logits; Forward runs only
// the layers up to the deepest requested hook.
//
// The element-wise helpers (norm moments, softmax, GELU) have AVX-512 and
// AVX2 assembly (simd_amd64.go) following the kernel package's choice of
// instruction set, and plain Go versions.
package transformer
