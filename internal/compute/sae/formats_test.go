package sae

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"saex/internal/compute/kernel"
)

// releasedCases are the small random cases of the released formats in
// testdata/formats (written by make_formats.py) with what Load must derive.
var releasedCases = []struct {
	dir                       string
	format, arch, hook, model string
	layer, k                  int
	bdecIn                    bool
}{
	{"llama-scope/Llama3_1-8B-Base-L5R-8x", "llama-scope", JumpReLU, "blocks.5.hook_resid_post", "meta-llama/Llama-3.1-8B", 5, 0, false},
	{"llama-scope-bdec/Llama3_1-8B-Base-L5R-8x", "llama-scope", JumpReLU, "blocks.5.hook_resid_post", "meta-llama/Llama-3.1-8B", 5, 0, true},
	{"eleuther-pythia/layers.3", "eleuther", TopK, "blocks.3.hook_resid_post", "", 3, 8, true},
	{"eleuther-llama/layers.5.mlp", "eleuther", TopK, "blocks.5.hook_mlp_out", "", 5, 8, true},
	{"eleuther-layer/layer_2", "eleuther", TopK, "blocks.2.hook_resid_pre", "", 2, 8, true},
	{"gemma-scope-2b-pt-res/layer_3/width_16k/average_l0_7", "gemma-scope", JumpReLU, "blocks.3.hook_resid_post", "gemma-2-2b", 3, 0, false},
	{"gemma-scope-2b-pt-res/embedding/width_4k/average_l0_6", "gemma-scope", JumpReLU, "hook_embed", "gemma-2-2b", -1, 0, false},
	{"gemma-scope-saelens-pre6", "saelens", JumpReLU, "blocks.3.hook_resid_post", "gemma-2-2b", 3, 0, false},
	{"gemma-scope-saelens-v6", "saelens", JumpReLU, "blocks.3.hook_resid_post", "gemma-2-2b", 3, 0, false},
}

const formatsDir = "testdata/formats/"

// TestReleasedFormats loads each released layout and checks encode and
// reconstruction against the numpy transcription (float64, stored float32)
// on the kernel this process dispatches to; TestReleasedFormatsEveryKernel
// reruns it on the others.
func TestReleasedFormats(t *testing.T) {
	t.Logf("kernel %s", kernel.Impl())
	for _, c := range releasedCases {
		t.Run(c.dir, func(t *testing.T) {
			dir := formatsDir + c.dir
			s, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.Cfg
			if cfg.Format != c.format || cfg.Architecture != c.arch || cfg.HookName != c.hook || cfg.HookLayer != c.layer ||
				cfg.ModelName != c.model || cfg.K != c.k || cfg.ApplyBDecToInput != c.bdecIn || cfg.DIn != 16 || cfg.DSAE != 64 {
				t.Errorf("config %+v", cfg)
			}
			in, wantActs, wantRecon, n := readExpected(t, dir)
			dense, err := s.EncodeDense(in, n)
			if err != nil {
				t.Fatal(err)
			}
			const tol = 1e-4 // the fixtures keep every decision 1e-3 from its threshold
			if e, at := elemErr(dense, wantActs); e > tol {
				t.Errorf("feature_acts: element %d (row %d feature %d) relative error %.3g > %g: got %v want %v",
					at, at/cfg.DSAE, at%cfg.DSAE, e, tol, dense[at], wantActs[at])
			}
			for i := range wantActs {
				if (wantActs[i] == 0) != (dense[i] == 0) {
					t.Errorf("row %d feature %d: got %v, want %v", i/cfg.DSAE, i%cfg.DSAE, dense[i], wantActs[i])
				}
			}
			sparse, err := s.EncodeSparse(in, n)
			if err != nil {
				t.Fatal(err)
			}
			checkSorted(t, sparse)
			if got := s.Densify(sparse); relErr(got, dense) != 0 {
				t.Error("sparse and dense encodes differ")
			}
			recon, err := s.Reconstruct(in, n)
			if err != nil {
				t.Fatal(err)
			}
			if e, at := elemErr(recon, wantRecon); e > tol {
				t.Errorf("reconstruction: element %d relative error %.3g > %g", at, e, tol)
			}
		})
	}
}

// TestReleasedFormatsEveryKernel reruns TestReleasedFormats in child
// processes with SAEX_KERNEL set to each implementation this CPU has (the
// purego build tag is covered by scripts/test.sh's purego pass).
func TestReleasedFormatsEveryKernel(t *testing.T) {
	if os.Getenv("SAEX_KERNEL") != "" {
		t.Skip("already forced to one kernel")
	}
	if testing.Short() {
		t.Skip("short")
	}
	for _, impl := range []string{"avx512", "avx2", "purego"} {
		t.Run(impl, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestReleasedFormats$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "SAEX_KERNEL="+impl)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// An implementation this CPU lacks falls back to the best one.
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "kernel ") {
					t.Log(strings.TrimSpace(line))
					break
				}
			}
		})
	}
}

func TestEleutherHook(t *testing.T) {
	cases := []struct {
		folder, hook string
		layer        int
	}{
		{"layers.10", "blocks.10.hook_resid_post", 10},
		{"model.layers.7", "blocks.7.hook_resid_post", 7},
		{"gpt_neox.layers.2", "blocks.2.hook_resid_post", 2},
		{"h.0", "blocks.0.hook_resid_post", 0},
		{"layers.23.mlp", "blocks.23.hook_mlp_out", 23},
		{"h.4.mlp", "blocks.4.hook_mlp_out", 4},
		{"layers.1.self_attn", "blocks.1.hook_attn_out", 1},
		{"layers.1.attention", "blocks.1.hook_attn_out", 1},
		{"h.3.attn", "blocks.3.hook_attn_out", 3},
		{"layers.5.mlp.act", "blocks.5.mlp.hook_post", 5},
		{"h.5.mlp.act", "blocks.5.mlp.hook_post", 5},
		{"layer_0", "blocks.0.hook_resid_pre", 0},
		{"layer_31", "blocks.31.hook_resid_pre", 31},
		{"embed_tokens", "hook_embed", -1},
		{"embed_in", "hook_embed", -1},
	}
	for _, c := range cases {
		hook, layer, ok := EleutherHook(c.folder)
		if !ok || hook != c.hook || layer != c.layer {
			t.Errorf("EleutherHook(%q) = %q, %d, %v; want %q, %d", c.folder, hook, layer, ok, c.hook, c.layer)
		}
	}
	for _, bad := range []string{"", "layers", "layers.x", "layers.1.mlp.act_fn", "layers.1.mlp.down_proj", "layer_1.mlp", "checkpoints", "layers.99999999999999999999"} {
		if hook, _, ok := EleutherHook(bad); ok {
			t.Errorf("EleutherHook(%q) = %q, want no hook", bad, hook)
		}
	}
}

func TestGemmaScopeHook(t *testing.T) {
	cases := []struct{ path, model, hook string }{
		{"/hf/gemma-scope-2b-pt-res/layer_20/width_16k/average_l0_71/params.npz", "gemma-2-2b", "blocks.20.hook_resid_post"},
		{"/hf/gemma-scope-2b-pt-res-canonical/layer_20/width_16k/canonical/params.npz", "gemma-2-2b", "blocks.20.hook_resid_post"},
		{"/hf/gemma-scope-9b-it-res/layer_9/width_131k/average_l0_12/params.npz", "gemma-2-9b-it", "blocks.9.hook_resid_post"},
		{"/hf/gemma-scope-9b-pt-mlp/layer_4/width_16k/average_l0_10/params.npz", "gemma-2-9b", "blocks.4.hook_mlp_out"},
		{"/hf/gemma-scope-27b-pt-att/layer_0/width_16k/average_l0_8/params.npz", "gemma-2-27b", "blocks.0.attn.hook_z"},
		{"/hf/gemma-scope-2b-pt-res/embedding/width_4k/average_l0_6/params.npz", "gemma-2-2b", "hook_embed"},
		{"/tmp/some/params.npz", "", ""},
	}
	for _, c := range cases {
		model, hook, _, _ := gemmaScopeHook(c.path)
		if model != c.model || hook != c.hook {
			t.Errorf("gemmaScopeHook(%q) = %q, %q; want %q, %q", c.path, model, hook, c.model, c.hook)
		}
	}
}

// copyCase copies a testdata/formats case into a temporary directory of the
// same base name so a test can break one file.
func copyCase(t *testing.T, rel string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(rel))
	src := formatsDir + rel
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, r), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, r), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestReleasedFormatErrors(t *testing.T) {
	edit := func(t *testing.T, path string, from, to string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), from) {
			t.Fatalf("%s has no %q", path, from)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const llama = "llama-scope/Llama3_1-8B-Base-L5R-8x"
	const pythia = "eleuther-pythia/layers.3"
	cases := []struct {
		name, rel, file, from, to string
		want                      []string
	}{
		{"llama bad d_model", llama, "hyperparams.json", `"d_model": 16`, `"d_model": "16"`, []string{"hyperparams.json", "field d_model"}},
		{"llama no threshold", llama, "hyperparams.json", `"jump_relu_threshold"`, `"jump_threshold"`, []string{"hyperparams.json", "field jump_relu_threshold: missing"}},
		{"llama threshold not a number", llama, "hyperparams.json", `"jump_relu_threshold": 0.35`, `"jump_relu_threshold": "x"`, []string{"hyperparams.json", "field jump_relu_threshold"}},
		{"llama zero norm", llama, "hyperparams.json", `"in": 11.0`, `"in": 0`, []string{"hyperparams.json", "dataset_average_activation_norm.in"}},
		{"llama no norm in", llama, "hyperparams.json", `"in": 11.0,`, ``, []string{"hyperparams.json", "dataset_average_activation_norm.in: missing"}},
		{"llama transcoder", llama, "hyperparams.json", `"hook_point_out": "blocks.5.hook_resid_post"`, `"hook_point_out": "blocks.5.hook_mlp_out"`, []string{"hyperparams.json", "field hook_point_out", "transcoders"}},
		{"llama token-wise", llama, "hyperparams.json", `"dataset-wise"`, `"token-wise"`, []string{"hyperparams.json", "field norm_activation"}},
		{"llama wrong d_sae", llama, "hyperparams.json", `"d_sae": 64`, `"d_sae": 65`, []string{"final.safetensors", `"encoder.weight"`, "shape"}},
		{"llama missing tensor", llama, "checkpoints/final.safetensors", `"decoder.bias"`, `"decoder.bxas"`, []string{"final.safetensors", `"decoder.bias" missing`}},
		{"llama not json", llama, "hyperparams.json", `{`, `[`, []string{"hyperparams.json", "not a JSON object"}},
		{"eleuther no k", pythia, "cfg.json", `"k": 8`, `"kk": 8`, []string{"cfg.json", "field k: missing"}},
		{"eleuther k too big", pythia, "cfg.json", `"k": 8`, `"k": 65`, []string{"cfg.json", "field k"}},
		{"eleuther bad d_in", pythia, "cfg.json", `"d_in": 16`, `"d_in": 1.5`, []string{"cfg.json", "field d_in"}},
		{"eleuther transcoder", pythia, "cfg.json", `"transcode": false`, `"transcode": true`, []string{"cfg.json", "field transcode"}},
		{"eleuther skip", pythia, "cfg.json", `"skip_connection": false`, `"skip_connection": true`, []string{"cfg.json", "field skip_connection"}},
		{"eleuther groupmax", pythia, "cfg.json", `"activation": "topk"`, `"activation": "groupmax"`, []string{"cfg.json", "field activation", "groupmax"}},
		{"eleuther wrong latents", pythia, "cfg.json", `"num_latents": 64`, `"num_latents": 32`, []string{"sae.safetensors", `"encoder.weight"`, "shape"}},
		{"eleuther bad expansion", "eleuther-llama/layers.5.mlp", "cfg.json", `"expansion_factor": 4`, `"expansion_factor": -4`, []string{"cfg.json", "field expansion_factor"}},
		{"llama no width", llama, "hyperparams.json", "\"d_sae\": 64,\n \"expansion_factor\": 4,", ``, []string{"hyperparams.json", "field d_sae: missing"}},
		{"eleuther missing W_dec", pythia, "sae.safetensors", `"W_dec"`, `"W_dxc"`, []string{"sae.safetensors", `"W_dec" missing`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyCase(t, c.rel)
			edit(t, filepath.Join(dir, c.file), c.from, c.to)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("llama no checkpoint", func(t *testing.T) {
		dir := copyCase(t, llama)
		if err := os.Remove(filepath.Join(dir, "checkpoints", "final.safetensors")); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "final.safetensors") {
			t.Errorf("error %v does not name final.safetensors", err)
		}
	})
	t.Run("eleuther truncated weights", func(t *testing.T) {
		dir := copyCase(t, pythia)
		p := filepath.Join(dir, "sae.safetensors")
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, b[:len(b)-100], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "sae.safetensors") {
			t.Errorf("error %v does not name sae.safetensors", err)
		}
	})
	t.Run("eleuther unknown folder", func(t *testing.T) {
		dir := copyCase(t, pythia)
		other := filepath.Join(filepath.Dir(dir), "final")
		if err := os.Rename(dir, other); err != nil {
			t.Fatal(err)
		}
		s, err := Load(other)
		if err != nil {
			t.Fatal(err)
		}
		if s.Cfg.HookName != "" || s.Cfg.HookLayer != -1 {
			t.Errorf("hook %q layer %d from folder %q", s.Cfg.HookName, s.Cfg.HookLayer, "final")
		}
	})
}
