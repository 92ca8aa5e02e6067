package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"saex/internal/compute/tensor"
	"saex/internal/compute/tokenizer"
	"saex/internal/features"
	"saex/internal/store/storetest"
)

// randomFamilyModel writes a small random-weight checkpoint of a family
// (hidden 32, 2 layers) whose vocabulary is that of a real tokenizer from
// testdata/tokenizers, which it copies alongside, and returns its folder.
func randomFamilyModel(t *testing.T, family, tok string) (string, *tokenizer.Tokenizer) {
	t.Helper()
	dir := t.TempDir()
	gz, err := os.ReadFile(filepath.Join("..", "..", "testdata", "tokenizers", tok, "tokenizer.json.gz"))
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
	const d, inner, layers = 32, 64, 2
	v := tk.VocabSize()
	cfg := map[string]any{"model_type": family, "vocab_size": v, "hidden_size": d, "intermediate_size": inner,
		"num_hidden_layers": layers, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
		"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "bos_token_id": bos, "tie_word_embeddings": true}
	if family == "gemma2" {
		cfg["head_dim"], cfg["query_pre_attn_scalar"], cfg["sliding_window"] = 16, 16, 4
		cfg["attn_logit_softcapping"], cfg["final_logit_softcapping"] = 50.0, 30.0
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
	if family == "gemma2" {
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

// activations and encode run Llama- and Gemma-2-shaped models with their
// real tokenizers: the text's ids are the tokenizer's, BOS in front when
// asked (activations) or when the SAE was trained with it (encode).
func TestCommandsOnOtherFamilies(t *testing.T) {
	const text = "Sparse autoencoders, ça marche? 12345 ✓"
	for _, c := range []struct{ family, tok string }{{"llama", "llama3_1"}, {"gemma2", "gemma3"}} {
		t.Run(c.family, func(t *testing.T) {
			dir, tk := randomFamilyModel(t, c.family, c.tok)
			withBOS, _ := tk.EncodeSpecial(text)
			out, err := execEncodeCLI("activations", "--model", dir, "--text", text, "--hook", "blocks.1.hook_resid_post", "--prepend-bos")
			if err != nil {
				t.Fatal(err)
			}
			got := decodeActivations(t, out)
			if !slices.Equal(got.TokenIDs, withBOS) || len(got.Values) != len(withBOS) || len(got.Values[0]) != 32 {
				t.Fatalf("ids %v (want tokenizer(text) = %v), %d rows", got.TokenIDs, withBOS, len(got.Values))
			}
			for _, row := range got.Values {
				for _, x := range row {
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
						t.Fatal("non-finite activation")
					}
				}
			}
			saeDir := randomSAE(t, 32, "blocks.1.hook_resid_post")
			out, err = execEncodeCLI("encode", "--sae", saeDir, "--model", dir, "--text", text)
			if err != nil {
				t.Fatal(err)
			}
			var enc struct {
				FeatureActs []json.RawMessage `json:"feature_acts"`
			}
			if err := json.Unmarshal([]byte(out), &enc); err != nil {
				t.Fatal(err)
			}
			if len(enc.FeatureActs) != len(withBOS) {
				t.Errorf("encode: %d rows, want %d (BOS prepended)", len(enc.FeatureActs), len(withBOS))
			}
		})
	}
}

// randomSAE writes a SAELens standard SAE folder of width 64 on hook.
func randomSAE(t *testing.T, din int, hook string) string {
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

// build makes dashboards for an SAE on a Llama-shaped random model with
// the real Llama 3.1 tokenizer.
func TestBuildCommandOtherFamily(t *testing.T) {
	url := storetest.NewURL(t)
	dir, _ := randomFamilyModel(t, "llama", "llama3_1")
	saeDir := randomSAE(t, 32, "blocks.1.hook_resid_post")
	args := []string{"build", "--model", dir, "--model-id", "tiny-llama", "--sae", saeDir,
		"--corpus", demoRoot + "/corpus/eval.jsonl.gz", "--contexts", "8", "--chunk", "4", "--context-size", "32",
		"--database-url", url, "--work-dir", t.TempDir()}
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if !strings.Contains(out, "dashboards built") {
		t.Errorf("no summary line:\n%s", out)
	}
	ctx := context.Background()
	sdb, cleanup, err := openDatabase(ctx, &Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}, dbConfig{DatabaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	srcs, err := sdb.ListSources(ctx, "tiny-llama")
	if err != nil || len(srcs) != 1 {
		t.Fatalf("sources: %v, %v", srcs, err)
	}
	s := srcs[0]
	if s.Build == nil || s.Build.State != features.BuildDone || s.NumFeatures != 64 {
		t.Errorf("source after build: %+v (build %+v)", s, s.Build)
	}
}
