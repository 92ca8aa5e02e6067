package transformer

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyCase copies a family fixture's checkpoint (not its references) to a
// temporary directory.
func copyCase(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "families", name)
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "reference") || strings.HasSuffix(e.Name(), ".py") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// editConfig rewrites one config.json field (nil deletes it).
func editConfig(t *testing.T, dir string, edits map[string]any) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, v := range edits {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	data, _ = json.Marshal(cfg)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rewriteTensors rewrites dir/file keeping its tensors as F32, after edit.
func rewriteTensors(t *testing.T, dir, file string, edit func(map[string]rawTensor)) {
	t.Helper()
	path := filepath.Join(dir, file)
	f := openRef(t, path)
	ts := map[string]rawTensor{}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		data, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		ts[n] = rawTensor{"F32", info.Shape, data}
	}
	edit(ts)
	writeSafetensors(t, path, ts)
}

func wantLoadError(t *testing.T, dir string, wants ...string) {
	t.Helper()
	_, err := Load(dir)
	if err == nil {
		t.Fatalf("loaded; want an error naming %q", wants)
	}
	t.Log(err)
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
}

// Malformed configs and checkpoints fail with a message naming the file
// and the field or tensor.
func TestMalformedCheckpoints(t *testing.T) {
	t.Run("unknown model_type", func(t *testing.T) {
		dir := copyCase(t, "llama3-gqa")
		editConfig(t, dir, map[string]any{"model_type": "mamba"})
		wantLoadError(t, dir, "config.json", `model_type "mamba"`)
	})
	t.Run("unknown architecture", func(t *testing.T) {
		dir := copyCase(t, "llama3-gqa")
		editConfig(t, dir, map[string]any{"model_type": nil, "architectures": []string{"MambaForCausalLM"}})
		wantLoadError(t, dir, "config.json", "architectures")
	})
	t.Run("heads do not divide hidden", func(t *testing.T) {
		dir := copyCase(t, "llama3-gqa")
		editConfig(t, dir, map[string]any{"num_attention_heads": 3, "num_key_value_heads": 3})
		wantLoadError(t, dir, "config.json", "hidden_size 64 is not a multiple of num_attention_heads 3")
	})
	t.Run("kv heads do not divide heads", func(t *testing.T) {
		dir := copyCase(t, "qwen2-bias")
		editConfig(t, dir, map[string]any{"num_key_value_heads": 3})
		wantLoadError(t, dir, "config.json", "num_key_value_heads 3")
	})
	t.Run("bad rope_scaling", func(t *testing.T) {
		dir := copyCase(t, "llama3-gqa")
		editConfig(t, dir, map[string]any{"rope_scaling": map[string]any{"rope_type": "yarn", "factor": 2}})
		wantLoadError(t, dir, "config.json", "rope_scaling", "yarn")
	})
	t.Run("bad rotary_pct", func(t *testing.T) {
		dir := copyCase(t, "pythia-parallel")
		editConfig(t, dir, map[string]any{"rotary_pct": 1.5})
		wantLoadError(t, dir, "config.json", "rotary_pct")
	})
	t.Run("missing tensor", func(t *testing.T) {
		dir := copyCase(t, "gemma2-softcap-window")
		rewriteTensors(t, dir, "model.safetensors", func(ts map[string]rawTensor) {
			delete(ts, "model.layers.2.post_feedforward_layernorm.weight")
		})
		wantLoadError(t, dir, "model.safetensors", "model.layers.2.post_feedforward_layernorm.weight")
	})
	t.Run("missing untied lm_head", func(t *testing.T) {
		dir := copyCase(t, "qwen3-qknorm")
		rewriteTensors(t, dir, "model.safetensors", func(ts map[string]rawTensor) { delete(ts, "lm_head.weight") })
		wantLoadError(t, dir, "model.safetensors", "tie_word_embeddings", "lm_head.weight")
	})
	t.Run("missing one of the q/k/v biases", func(t *testing.T) {
		dir := copyCase(t, "qwen2-bias")
		rewriteTensors(t, dir, "model.safetensors", func(ts map[string]rawTensor) { delete(ts, "model.layers.1.self_attn.k_proj.bias") })
		wantLoadError(t, dir, "model.safetensors", "model.layers.1.self_attn.k_proj.bias")
	})
	t.Run("wrong shape", func(t *testing.T) {
		dir := copyCase(t, "pythia-parallel")
		rewriteTensors(t, dir, "model.safetensors", func(ts map[string]rawTensor) {
			w := ts["gpt_neox.layers.0.attention.query_key_value.weight"]
			w.shape = []int{w.shape[1], w.shape[0]}
			ts["gpt_neox.layers.0.attention.query_key_value.weight"] = w
		})
		wantLoadError(t, dir, "model.safetensors", "gpt_neox.layers.0.attention.query_key_value.weight", "shape")
	})
	sharded := "llama3-ropeparams-bf16-sharded"
	t.Run("index is not JSON", func(t *testing.T) {
		dir := copyCase(t, sharded)
		os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": [`), 0o644)
		wantLoadError(t, dir, "model.safetensors.index.json")
	})
	t.Run("index without weight_map", func(t *testing.T) {
		dir := copyCase(t, sharded)
		os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"metadata": {}}`), 0o644)
		wantLoadError(t, dir, "model.safetensors.index.json", "weight_map")
	})
	t.Run("index names a path outside the directory", func(t *testing.T) {
		dir := copyCase(t, sharded)
		os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {"model.norm.weight": "../x.safetensors"}}`), 0o644)
		wantLoadError(t, dir, "model.safetensors.index.json", "model.norm.weight", "../x.safetensors")
	})
	t.Run("index names a missing shard", func(t *testing.T) {
		dir := copyCase(t, sharded)
		os.Remove(filepath.Join(dir, "model-00002-of-00003.safetensors"))
		wantLoadError(t, dir, "model-00002-of-00003.safetensors", "model.safetensors.index.json")
	})
	t.Run("index puts a tensor in the wrong shard", func(t *testing.T) {
		dir := copyCase(t, sharded)
		path := filepath.Join(dir, "model.safetensors.index.json")
		data, _ := os.ReadFile(path)
		var idx map[string]map[string]any
		json.Unmarshal(data, &idx)
		wm := idx["weight_map"]
		for name, shard := range wm {
			if shard == "model-00001-of-00003.safetensors" {
				wm[name] = "model-00002-of-00003.safetensors"
				data, _ = json.Marshal(idx)
				os.WriteFile(path, data, 0o644)
				wantLoadError(t, dir, "model.safetensors.index.json", name, "model-00002-of-00003.safetensors")
				return
			}
		}
		t.Fatal("no tensor in shard 1")
	})
	t.Run("truncated shard", func(t *testing.T) {
		dir := copyCase(t, sharded)
		path := filepath.Join(dir, "model-00003-of-00003.safetensors")
		data, _ := os.ReadFile(path)
		os.WriteFile(path, data[:len(data)-100], 0o644)
		wantLoadError(t, dir, "model-00003-of-00003.safetensors")
	})
	t.Run("no weights", func(t *testing.T) {
		dir := copyCase(t, "llama3-gqa")
		os.Remove(filepath.Join(dir, "model.safetensors"))
		wantLoadError(t, dir, "model.safetensors.index.json")
	})
}

// Parallel-residual NeoX has no hook_resid_mid, rotary models no
// hook_pos_embed, ungated MLPs no mlp.hook_pre_linear: each is a clear
// error.
func TestFamilyHookErrors(t *testing.T) {
	for name, c := range map[string]struct{ dir, hook, want string }{
		"parallel resid_mid": {"pythia-parallel", "blocks.0.hook_resid_mid", "use_parallel_residual"},
		"rotary pos_embed":   {"llama3-gqa", "hook_pos_embed", "rotary"},
		"ungated pre_linear": {"pythia-parallel", "blocks.1.mlp.hook_pre_linear", "gated"},
		"layer out of range": {"qwen3-qknorm", "blocks.2.hook_resid_post", "out of range"},
	} {
		m := mustLoad(t, filepath.Join("testdata", "families", c.dir))
		if _, err := m.Forward([][]int{{3, 4}}, []string{c.hook}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
	// Sequential NeoX does have it, and it is resid_pre + attn_out.
	m := mustLoad(t, filepath.Join("testdata", "families", "pythia-sequential-buffers"))
	acts, err := m.Forward([][]int{{3, 4, 5}}, []string{"blocks.1.hook_resid_pre", "blocks.1.hook_attn_out", "blocks.1.hook_resid_mid"})
	if err != nil {
		t.Fatal(err)
	}
	pre, out, mid := acts.Get("blocks.1.hook_resid_pre", 0), acts.Get("blocks.1.hook_attn_out", 0), acts.Get("blocks.1.hook_resid_mid", 0)
	for i := range mid {
		if mid[i] != pre[i]+out[i] {
			t.Fatalf("resid_mid[%d] = %g, want %g + %g", i, mid[i], pre[i], out[i])
		}
	}
}

// A gated MLP's mlp.hook_post is act(mlp.hook_pre) * mlp.hook_pre_linear.
func TestGatedMLPHooks(t *testing.T) {
	for _, c := range []struct {
		dir string
		act func(float64) float64
	}{
		{"llama3-gqa", func(x float64) float64 { return x / (1 + math.Exp(-x)) }},
		{"gemma2-softcap-window", func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}},
	} {
		m := mustLoad(t, filepath.Join("testdata", "families", c.dir))
		hooks := []string{"blocks.1.mlp.hook_pre", "blocks.1.mlp.hook_pre_linear", "blocks.1.mlp.hook_post"}
		acts, err := m.Forward([][]int{{3, 40, 5, 300}, {7}}, hooks)
		if err != nil {
			t.Fatal(err)
		}
		for s := range 2 {
			pre, lin, post := acts.Get(hooks[0], s), acts.Get(hooks[1], s), acts.Get(hooks[2], s)
			if len(pre) != len(post) || len(lin) != len(post) || len(post) != acts.Len(s)*m.Cfg.NInner {
				t.Fatalf("%s: widths %d %d %d", c.dir, len(pre), len(lin), len(post))
			}
			for i := range post {
				want := c.act(float64(pre[i])) * float64(lin[i])
				if math.Abs(float64(post[i])-want) > 1e-5*max(1, math.Abs(want)) {
					t.Fatalf("%s seq %d [%d]: post %g, want act(%g)*%g = %g", c.dir, s, i, post[i], pre[i], lin[i], want)
				}
			}
		}
	}
}
