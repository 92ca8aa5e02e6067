// Package transformertest writes small random-weight model checkpoints and
// SAE folders for tests of the packages that run models: every family the
// transformer package supports, with a real tokenizer.
package transformertest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"saex/internal/compute/tensor"
	"saex/internal/compute/tokenizer"
)

// Width is the hidden size of the models Model writes.
const Width = 32

// Model writes a small random-weight checkpoint of a family (llama, qwen2,
// qwen3 or gemma2; hidden 32, 2 layers, F32) whose vocabulary is that of
// the real tokenizer in tokenizerDir (tokenizer.json.gz), which it copies
// alongside, and returns the folder and the tokenizer.
func Model(t testing.TB, tokenizerDir, family string) (string, *tokenizer.Tokenizer) {
	t.Helper()
	dir := t.TempDir()
	gz, err := os.ReadFile(filepath.Join(tokenizerDir, "tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json.gz"), gz, 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	bos, _ := tk.BOS()
	const d, inner, layers = Width, 64, 2
	v := tk.VocabSize()
	cfg := map[string]any{"model_type": family, "vocab_size": v, "hidden_size": d, "intermediate_size": inner,
		"num_hidden_layers": layers, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
		"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "bos_token_id": bos, "tie_word_embeddings": true}
	switch family {
	case "gemma2":
		cfg["head_dim"], cfg["query_pre_attn_scalar"], cfg["sliding_window"] = 16, 16, 4
		cfg["attn_logit_softcapping"], cfg["final_logit_softcapping"] = 50.0, 30.0
	case "qwen3":
		cfg["head_dim"] = 16
	}
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	ts := map[string]tensor.Tensor32{}
	add := func(name string, base float32, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		w := make([]float32, n)
		for i := range w {
			w[i] = base + float32(r.NormFloat64()*0.1)
		}
		ts[name] = tensor.Tensor32{Shape: shape, Data: w}
	}
	hd := d / 4
	if family == "gemma2" || family == "qwen3" {
		hd = 16
	}
	add("model.embed_tokens.weight", 0, v, d)
	add("model.norm.weight", 1, d)
	norms := []string{"input_layernorm", "post_attention_layernorm"}
	if family == "gemma2" {
		norms = append(norms, "pre_feedforward_layernorm", "post_feedforward_layernorm")
	}
	for L := range layers {
		p := fmt.Sprintf("model.layers.%d.", L)
		for _, n := range norms {
			add(p+n+".weight", 1, d)
		}
		add(p+"self_attn.q_proj.weight", 0, 4*hd, d)
		add(p+"self_attn.k_proj.weight", 0, 2*hd, d)
		add(p+"self_attn.v_proj.weight", 0, 2*hd, d)
		add(p+"self_attn.o_proj.weight", 0, d, 4*hd)
		add(p+"mlp.gate_proj.weight", 0, inner, d)
		add(p+"mlp.up_proj.weight", 0, inner, d)
		add(p+"mlp.down_proj.weight", 0, d, inner)
		switch family {
		case "qwen2":
			add(p+"self_attn.q_proj.bias", 0, 4*hd)
			add(p+"self_attn.k_proj.bias", 0, 2*hd)
			add(p+"self_attn.v_proj.bias", 0, 2*hd)
		case "qwen3":
			add(p+"self_attn.q_norm.weight", 1, hd)
			add(p+"self_attn.k_norm.weight", 1, hd)
		}
	}
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tensor.WriteSafetensors(f, ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir, tk
}

// SAE writes a random SAELens standard SAE folder (d_sae 64,
// prepend_bos true) reading hook, d_in wide, and returns it.
func SAE(t testing.TB, din int, hook string) string {
	t.Helper()
	dir := t.TempDir()
	const dsae = 64
	cfg := fmt.Sprintf(`{"d_in": %d, "d_sae": %d, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": true,
		"normalize_activations": "none", "reshape_activations": "none", "architecture": "standard",
		"metadata": {"sae_lens_version": "6.18.0", "hook_name": %q, "prepend_bos": true, "context_size": 128}}`, din, dsae, hook)
	if err := os.WriteFile(filepath.Join(dir, "cfg.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	rnd := func(shape ...int) tensor.Tensor32 {
		n := 1
		for _, s := range shape {
			n *= s
		}
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(r.NormFloat64() * 0.2)
		}
		return tensor.Tensor32{Shape: shape, Data: w}
	}
	f, err := os.Create(filepath.Join(dir, "sae_weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts := map[string]tensor.Tensor32{"W_enc": rnd(din, dsae), "b_enc": rnd(dsae), "W_dec": rnd(dsae, din), "b_dec": rnd(din)}
	if err := tensor.WriteSafetensors(f, ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}
