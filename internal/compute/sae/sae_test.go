package sae

import (
	"archive/zip"
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"saex/internal/compute/kernel"
	"saex/internal/compute/tensor"
)

func TestParseConfigPre6(t *testing.T) {
	c, err := ParseConfig("cfg.json", []byte(`{"model_name":"gpt2-small","hook_point":"blocks.8.hook_resid_pre","hook_point_layer":8,
		"hook_point_head_index":null,"d_in":768,"d_sae":24576,"dtype":"torch.float32","context_size":128,
		"normalize_activations":true,"model_from_pretrained_kwargs":{"center_writing_weights":true},
		"activation_fn_str":"topk","activation_fn_kwargs":{"k":32},"neuronpedia_id":"gpt2-small/8-res-jb","lr":0.0004}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Architecture: TopK, DIn: 768, DSAE: 24576, K: 32, ApplyBDecToInput: true,
		NormalizeActivations: NormExpectedAvgOnlyIn, ReshapeActivations: "none", HookName: "blocks.8.hook_resid_pre",
		HookLayer: 8, ModelName: "gpt2-small", PrependBOS: true, ContextSize: 128, NeuronpediaID: "gpt2-small/8-res-jb",
		CenterWritingWeights: true, DType: "torch.float32", Format: "saelens"}
	if !equalConfig(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if !c.CentersInput() {
		t.Error("CentersInput = false for a resid_pre SAE with center_writing_weights")
	}
	// Defaults: relu -> standard, normalize false -> none, hook_z reshape, layer from the name.
	c, err = ParseConfig("cfg.json", []byte(`{"hook_name":"blocks.3.attn.hook_z","d_in":64,"d_sae":128,"normalize_activations":false,"prepend_bos":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Architecture != Standard || c.NormalizeActivations != NormNone || c.ReshapeActivations != "hook_z" || c.HookLayer != 3 || c.PrependBOS || !c.ApplyBDecToInput {
		t.Errorf("defaults: %+v", c)
	}
}

func equalConfig(a, b Config) bool {
	if (a.HookHeadIndex == nil) != (b.HookHeadIndex == nil) {
		return false
	}
	a.HookHeadIndex, b.HookHeadIndex = nil, nil
	return a == b
}

func TestParseConfigV6(t *testing.T) {
	c, err := ParseConfig("cfg.json", []byte(`{"d_in":256,"d_sae":4096,"architecture":"topk","k":32,"normalize_activations":"layer_norm",
		"metadata":{"sae_lens_version":"6.18.0","hook_name":"blocks.11.hook_resid_post","hook_head_index":2,"prepend_bos":false,"context_size":64,
		"model_from_pretrained_kwargs":{"center_writing_weights":false}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.K != 32 || c.HookLayer != 11 || c.PrependBOS || c.ContextSize != 64 || c.NormalizeActivations != NormLayerNorm ||
		c.CenterWritingWeights || c.HookHeadIndex == nil || *c.HookHeadIndex != 2 || c.SAELensVersion != "6.18.0" {
		t.Errorf("%+v", c)
	}
	c, err = ParseConfig("cfg.json", []byte(`{"d_in":4,"d_sae":200,"architecture":"topk","metadata":{"sae_lens_version":"6.0.0-rc.1"}}`))
	if err != nil || c.K != 100 {
		t.Errorf("k default: %+v %v", c, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct{ cfg, want string }{
		{`{"d_in":4,"d_sae":8,"architecture":"transcoder","metadata":{"sae_lens_version":"6.1.0"}}`, `unknown architecture "transcoder"`},
		{`{"d_in":4,"d_sae":8,"architecture":"magic"}`, `unknown architecture "magic"`},
		{`{"d_in":4,"d_sae":8,"architecture":"topk","k":9,"metadata":{"sae_lens_version":"6.1.0"}}`, "field k"},
		{`{"d_in":"four","d_sae":8}`, "field d_in"},
		{`{"d_in":4.5,"d_sae":8}`, "field d_in"},
		{`{"d_in":0,"d_sae":8}`, "field d_in"},
		{`{"d_in":4}`, "field d_sae"},
		{`{"d_in":4,"d_sae":8,"normalize_activations":"weird"}`, "normalize_activations"},
		{`{"d_in":4,"d_sae":8,"metadata":{"sae_lens_version":"6.1.0"},"rescale_acts_by_decoder_norm":true}`, "rescale_acts_by_decoder_norm"},
		{`[1]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`{"d_in":4,"d_sae":8,"metadata":[1]}`, "metadata"},
		{`{"d_in":4,"d_sae":8,"prepend_bos":"yes"}`, "prepend_bos"},
	}
	for _, c := range cases {
		_, err := ParseConfig("x/cfg.json", []byte(c.cfg))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "x/cfg.json") {
			t.Errorf("%s: error %v, want one naming the file and %q", c.cfg, err, c.want)
		}
	}
}

// copyDir copies a fixture directory so a test can damage it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func writeWeights(t *testing.T, path string, ts map[string]tensor.Tensor32) {
	t.Helper()
	var buf bytes.Buffer
	if err := tensor.WriteSafetensors(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	fixture := root + "testdata/golden/sae-formats/"
	expectErr := func(t *testing.T, dir string, want ...string) {
		t.Helper()
		_, err := Load(dir)
		if err == nil {
			t.Fatal("Load succeeded")
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}
	t.Run("not an SAE dir", func(t *testing.T) { expectErr(t, t.TempDir(), "no cfg.json") })
	t.Run("unknown architecture", func(t *testing.T) {
		d := copyDir(t, fixture+"topk")
		b, _ := os.ReadFile(filepath.Join(d, "cfg.json"))
		os.WriteFile(filepath.Join(d, "cfg.json"), bytes.Replace(b, []byte(`"architecture": "topk"`), []byte(`"architecture": "skip_transcoder"`), 1), 0o644)
		expectErr(t, d, "cfg.json", `unknown architecture "skip_transcoder"`)
	})
	t.Run("truncated weights", func(t *testing.T) {
		d := copyDir(t, fixture+"standard-relu")
		p := filepath.Join(d, "sae_weights.safetensors")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)-100], 0o644)
		expectErr(t, d, "sae_weights.safetensors", "out of range")
	})
	t.Run("wrong shape", func(t *testing.T) {
		d := copyDir(t, fixture+"standard-relu")
		f, _ := tensor.OpenSafetensors(filepath.Join(d, "sae_weights.safetensors"))
		ts := map[string]tensor.Tensor32{}
		for _, n := range f.Names() {
			info, _ := f.Info(n)
			v, _ := f.Float32(n)
			ts[n] = tensor.Tensor32{Shape: info.Shape, Data: v}
		}
		f.Close()
		ts["W_enc"] = tensor.Tensor32{Shape: []int{96, 24}, Data: ts["W_enc"].Data}
		writeWeights(t, filepath.Join(d, "sae_weights.safetensors"), ts)
		expectErr(t, d, "sae_weights.safetensors", `"W_enc"`, "[96 24]", "[24 96]")
	})
	t.Run("wrong dtype", func(t *testing.T) {
		d := copyDir(t, fixture+"standard-relu")
		p := filepath.Join(d, "sae_weights.safetensors")
		b, _ := os.ReadFile(p)
		// Same byte size, integer dtype: I32 for the F32 b_enc.
		i := bytes.Index(b, []byte(`"b_enc":{"dtype":"F32"`))
		if i < 0 {
			t.Skip("fixture header layout differs")
		}
		copy(b[i:], `"b_enc":{"dtype":"I32"`)
		os.WriteFile(p, b, 0o644)
		expectErr(t, d, "sae_weights.safetensors", `"b_enc"`, "I32")
	})
	t.Run("missing tensor", func(t *testing.T) {
		d := copyDir(t, fixture+"jumprelu")
		f, _ := tensor.OpenSafetensors(filepath.Join(d, "sae_weights.safetensors"))
		ts := map[string]tensor.Tensor32{}
		for _, n := range f.Names() {
			if n == "threshold" {
				continue
			}
			info, _ := f.Info(n)
			v, _ := f.Float32(n)
			ts[n] = tensor.Tensor32{Shape: info.Shape, Data: v}
		}
		f.Close()
		writeWeights(t, filepath.Join(d, "sae_weights.safetensors"), ts)
		expectErr(t, d, `"threshold" missing`, "jumprelu")
	})
	t.Run("npz member missing", func(t *testing.T) {
		d := t.TempDir()
		zr, err := zip.OpenReader(fixture + "gemma-scope-npz/params.npz")
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range zr.File {
			if f.Name == "threshold.npy" {
				continue
			}
			w, _ := zw.Create(f.Name)
			r, _ := f.Open()
			b := new(bytes.Buffer)
			b.ReadFrom(r)
			r.Close()
			w.Write(b.Bytes())
		}
		zw.Close()
		os.WriteFile(filepath.Join(d, "params.npz"), buf.Bytes(), 0o644)
		expectErr(t, d, "params.npz", `"threshold" missing`)
	})
	t.Run("bad sparsity", func(t *testing.T) {
		d := copyDir(t, fixture+"topk")
		writeWeights(t, filepath.Join(d, "sparsity.safetensors"), map[string]tensor.Tensor32{"sparsity": {Shape: []int{3}, Data: []float32{1, 2, 3}}})
		expectErr(t, d, "sparsity.safetensors", `"sparsity"`)
	})
}

// randomSAE builds an SAE with random weights for property tests.
func randomSAE(t testing.TB, cfg Config, seed uint64) *SAE {
	rng := rand.New(rand.NewPCG(seed, 1))
	vec := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
		}
		return v
	}
	din, dsae := cfg.DIn, cfg.DSAE
	w := Weights{WEnc: vec(din*dsae, 1/math.Sqrt(float64(din))), WDec: vec(dsae*din, 0.1), BDec: vec(din, 0.1), BEnc: vec(dsae, 0.1)}
	switch cfg.Architecture {
	case JumpReLU:
		w.Threshold = vec(dsae, 0.2)
	case Gated:
		w.BGate, w.BMag, w.RMag, w.BEnc = w.BEnc, vec(dsae, 0.1), vec(dsae, 0.1), nil
	}
	s, err := New(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// naiveEncode is the reference: float64 dense math, full sort.
func naiveEncode(s *SAE, x []float32, t int) []Sparse {
	din, dsae := s.Cfg.DIn, s.Cfg.DSAE
	in, _ := s.prepare(x, t)
	out := make([]Sparse, t)
	for r := 0; r < t; r++ {
		var cs []cand
		for j := 0; j < dsae; j++ {
			h := float64(s.BEnc[j])
			for i := 0; i < din; i++ {
				h += float64(in[r*din+i]) * float64(s.WEnc[i*dsae+j])
			}
			keep := h > 0
			if s.Cfg.Architecture == JumpReLU {
				keep = keep && h > float64(s.Threshold[j])
			}
			if keep {
				cs = append(cs, cand{float32(h), int32(j)})
			}
		}
		slices.SortFunc(cs, compareCand)
		limit := s.MaxPerToken
		if s.Cfg.Architecture == TopK {
			limit = s.Cfg.K
		}
		if limit > 0 && len(cs) > limit {
			cs = cs[:limit]
		}
		out[r] = toSparse(cs)
	}
	return out
}

func TestEncodeMatchesNaive(t *testing.T) {
	for _, threads := range []int{1, 3} {
		prev := kernel.SetThreads(threads)
		for _, c := range []struct {
			arch     string
			k, limit int
			t        int
		}{
			{TopK, 16, 0, 1}, {TopK, 16, 0, 37}, {TopK, 1, 0, 5}, {Standard, 0, 0, 19}, {Standard, 0, 7, 19}, {JumpReLU, 0, 0, 9},
		} {
			cfg := Config{Architecture: c.arch, DIn: 40, DSAE: 300, K: c.k, ApplyBDecToInput: true, NormalizeActivations: NormNone, ReshapeActivations: "none"}
			s := randomSAE(t, cfg, 7)
			s.MaxPerToken = c.limit
			x := randomSAE(t, Config{Architecture: Standard, DIn: c.t, DSAE: 40, NormalizeActivations: NormNone, ReshapeActivations: "none"}, 9).WEnc
			got, err := s.EncodeSparse(x, c.t)
			if err != nil {
				t.Fatal(err)
			}
			want := naiveEncode(s, x, c.t)
			for r := range want {
				if !slices.Equal(got[r].Indices, want[r].Indices) {
					t.Fatalf("threads %d %s k=%d limit=%d row %d: indices\n got %v\nwant %v", threads, c.arch, c.k, c.limit, r, got[r].Indices, want[r].Indices)
				}
				for j := range want[r].Values {
					if math.Abs(float64(got[r].Values[j]-want[r].Values[j])) > 1e-5 {
						t.Fatalf("row %d value %d: %v vs %v", r, j, got[r].Values[j], want[r].Values[j])
					}
				}
			}
		}
		kernel.SetThreads(prev)
	}
}

func TestTiesLowerIndexWins(t *testing.T) {
	// All pre-activations equal: top-k must be features 0..k-1.
	cfg := Config{Architecture: TopK, DIn: 2, DSAE: 200, K: 5, NormalizeActivations: NormNone, ReshapeActivations: "none"}
	w := Weights{WEnc: make([]float32, 2*200), WDec: make([]float32, 200*2), BDec: make([]float32, 2), BEnc: make([]float32, 200)}
	for i := range w.BEnc {
		w.BEnc[i] = 1
	}
	w.BEnc[150] = 2
	s, err := New(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, threads := range []int{1, 2, 4} {
		prev := kernel.SetThreads(threads)
		got, err := s.EncodeSparse([]float32{0, 0, 1, 1}, 2)
		kernel.SetThreads(prev)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			if !slices.Equal(g.Indices, []int32{150, 0, 1, 2, 3}) {
				t.Errorf("threads %d: indices %v, want [150 0 1 2 3]", threads, g.Indices)
			}
		}
	}
}

func TestCenterWritingWeights(t *testing.T) {
	cfg := Config{Architecture: TopK, DIn: 16, DSAE: 64, K: 4, ApplyBDecToInput: true, NormalizeActivations: NormNone,
		ReshapeActivations: "none", CenterWritingWeights: true, HookName: "blocks.8.hook_resid_pre"}
	s := randomSAE(t, cfg, 3)
	x := make([]float32, 16)
	xc := make([]float32, 16)
	var mean float32
	for i := range x {
		x[i] = float32(i)*0.3 - 1
		mean += x[i] / 16
	}
	for i := range x {
		xc[i] = x[i] + 5 // a different mean, same centred vector
	}
	a, _ := s.EncodeSparse(x, 1)
	b, _ := s.EncodeSparse(xc, 1)
	if !slices.Equal(a[0].Indices, b[0].Indices) {
		t.Errorf("centring: %v vs %v", a[0], b[0])
	}
	s.Cfg.CenterWritingWeights = false
	c, _ := s.EncodeSparse(xc, 1)
	if slices.Equal(c[0].Indices, b[0].Indices) && slices.Equal(c[0].Values, b[0].Values) {
		t.Error("CenterWritingWeights=false still centres")
	}
	s.Cfg.CenterWritingWeights, s.Cfg.HookName = true, "blocks.8.attn.hook_z"
	if s.Cfg.CentersInput() {
		t.Error("hook_z input centred")
	}
}

func TestBadInput(t *testing.T) {
	s := randomSAE(t, Config{Architecture: TopK, DIn: 8, DSAE: 32, K: 4, NormalizeActivations: NormNone, ReshapeActivations: "none"}, 1)
	if _, err := s.EncodeSparse(make([]float32, 9), 1); err == nil {
		t.Error("wrong input length accepted")
	}
	if f, err := s.EncodeSparse(nil, 0); err != nil || len(f) != 0 {
		t.Errorf("empty input: %v %v", f, err)
	}
	if _, err := s.DecodeSparse([]Sparse{{Indices: []int32{32}, Values: []float32{1}}}, nil); err == nil {
		t.Error("out-of-range index decoded")
	}
	if _, err := s.Decode(make([]float32, 31), 1, nil); err == nil {
		t.Error("wrong dense length decoded")
	}
	if _, err := New(s.Cfg, Weights{}); err == nil || !strings.Contains(err.Error(), "W_enc") {
		t.Errorf("New with no weights: %v", err)
	}
}

func TestDecodeDenseEqualsSparse(t *testing.T) {
	s := randomSAE(t, Config{Architecture: Standard, DIn: 12, DSAE: 48, NormalizeActivations: NormLayerNorm, ReshapeActivations: "none", ApplyBDecToInput: true}, 5)
	x := randomSAE(t, Config{Architecture: Standard, DIn: 3, DSAE: 12, NormalizeActivations: NormNone, ReshapeActivations: "none"}, 6).WEnc
	e, err := s.Encode(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.DecodeSparse(e.Features, e.Norms)
	b, _ := s.Decode(s.Densify(e.Features), 3, e.Norms)
	r, _ := s.Reconstruct(x, 3)
	if !slices.Equal(a, b) || !slices.Equal(a, r) {
		t.Error("sparse decode, dense decode and Reconstruct disagree")
	}
}
