package transformer

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"saex/internal/compute/tensor"
)

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func randomIDs(r *rand.Rand, n, vocab int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = r.IntN(vocab)
	}
	return ids
}

// Every hook must be consistent with its neighbours, as formats.md 4.2
// defines them.
func TestHookRelations(t *testing.T) {
	m := mustLoad(t, demoDir)
	ids := randomIDs(rand.New(rand.NewPCG(1, 2)), 40, m.Cfg.VocabSize)
	hooks := []string{"hook_embed", "hook_pos_embed", "ln_final.hook_normalized", "logits"}
	for L := range m.Cfg.NLayer {
		for p := range blockHookNames {
			if p == "mlp.hook_pre_linear" { // gated MLPs only
				continue
			}
			hooks = append(hooks, "blocks."+itoa(L)+"."+p)
		}
	}
	acts, err := m.Forward([][]int{ids}, hooks)
	if err != nil {
		t.Fatal(err)
	}
	get := func(h string) []float32 {
		v := acts.Get(h, 0)
		if v == nil {
			t.Fatalf("hook %s not recorded", h)
		}
		if len(v) != len(ids)*acts.Width(h) {
			t.Fatalf("hook %s: %d values, width %d", h, len(v), acts.Width(h))
		}
		return v
	}
	sum := func(a, b []float32) []float32 {
		out := make([]float32, len(a))
		for i := range a {
			out[i] = a[i] + b[i]
		}
		return out
	}
	check := func(what string, got, want []float32, tol float64) {
		t.Helper()
		if d := maxAbsDiff(got, want); !(d <= tol) {
			t.Errorf("%s: max diff %g", what, d)
		}
	}
	check("embed+pos = resid_pre 0", sum(get("hook_embed"), get("hook_pos_embed")), get("blocks.0.hook_resid_pre"), 0)
	for L := range m.Cfg.NLayer {
		b := "blocks." + itoa(L) + "."
		check(b+"resid_mid", sum(get(b+"hook_resid_pre"), get(b+"hook_attn_out")), get(b+"hook_resid_mid"), 0)
		check(b+"resid_post", sum(get(b+"hook_resid_mid"), get(b+"hook_mlp_out")), get(b+"hook_resid_post"), 0)
		pre, post := get(b+"mlp.hook_pre"), get(b+"mlp.hook_post")
		want := make([]float32, len(pre))
		for i, u := range pre {
			x := float64(u)
			want[i] = float32(0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))))
		}
		check(b+"mlp.hook_post = gelu_new(mlp.hook_pre)", post, want, 1e-5)
		if L+1 < m.Cfg.NLayer {
			check(b+"resid_post = next resid_pre", get(b+"hook_resid_post"), get("blocks."+itoa(L+1)+".hook_resid_pre"), 0)
		}
	}
	// Logits = ln_final @ W_U, checked with a float64 dot product.
	lnf, logits := get("ln_final.hook_normalized"), get("logits")
	d, v := m.Cfg.NEmbd, m.Cfg.VocabSize
	wut := m.WUT()
	worst := 0.0
	for r := range ids {
		for tok := 0; tok < v; tok += 7 {
			var s float64
			for j := range d {
				s += float64(lnf[r*d+j]) * float64(wut[tok*d+j])
			}
			worst = max(worst, math.Abs(s-float64(logits[r*v+tok])))
		}
	}
	if worst > 1e-3 {
		t.Errorf("logits vs ln_final @ W_U: max diff %g", worst)
	}
	// ApplyLnFinal on the last resid_post reproduces ln_final.
	x := slices.Clone(get("blocks." + itoa(m.Cfg.NLayer-1) + ".hook_resid_post"))
	m.ApplyLnFinal(x)
	check("ApplyLnFinal", x, lnf, 0)
}

func itoa(i int) string { return strconv.Itoa(i) }

// A batch must give each sequence exactly what it gets alone, and the pass
// must stop at the deepest requested hook (no other hooks recorded).
func TestBatchingAndEarlyStop(t *testing.T) {
	m := mustLoad(t, demoDir)
	r := rand.New(rand.NewPCG(3, 4))
	batch := [][]int{randomIDs(r, 7, 4096), randomIDs(r, 1, 4096), randomIDs(r, 33, 4096), randomIDs(r, 256, 4096)}
	hooks := []string{"blocks.1.attn.hook_z", "blocks.2.hook_resid_mid", "logits"}
	all, err := m.Forward(batch, hooks)
	if err != nil {
		t.Fatal(err)
	}
	for s, ids := range batch {
		one, err := m.Forward([][]int{ids}, hooks)
		if err != nil {
			t.Fatal(err)
		}
		if all.Len(s) != len(ids) {
			t.Errorf("Len(%d) = %d", s, all.Len(s))
		}
		for _, h := range hooks {
			// Different row counts take different kernel paths (GEMV for one
			// row), so only the float32 accumulation order may differ.
			got, want := all.Get(h, s), one.Get(h, 0)
			scale := 1.0
			for _, v := range want {
				scale = max(scale, math.Abs(float64(v)))
			}
			if d := maxAbsDiff(got, want); d > 1e-5*scale {
				t.Errorf("seq %d %s: batched vs alone differ by %g", s, h, d)
			}
		}
	}
	early, err := m.Forward(batch, []string{"blocks.1.hook_resid_mid"})
	if err != nil {
		t.Fatal(err)
	}
	if len(early.data) != 1 || early.Get("blocks.1.hook_resid_mid", 3) == nil || early.Get("logits", 0) != nil {
		t.Errorf("early stop recorded %d hooks", len(early.data))
	}
	if early.Get("blocks.1.hook_resid_mid", 4) != nil || early.Get("nope", 0) != nil {
		t.Error("Get out of range should be nil")
	}
	// Causality: changing the last token leaves earlier positions alone.
	a := slices.Clone(batch[2])
	b := slices.Clone(a)
	b[len(b)-1] = (b[len(b)-1] + 1) % 4096
	ra, _ := m.Forward([][]int{a}, []string{"blocks.3.hook_resid_post"})
	rb, _ := m.Forward([][]int{b}, []string{"blocks.3.hook_resid_post"})
	d := m.Cfg.NEmbd
	if diff := maxAbsDiff(ra.Get("blocks.3.hook_resid_post", 0)[:(len(a)-1)*d], rb.Get("blocks.3.hook_resid_post", 0)[:(len(a)-1)*d]); diff != 0 {
		t.Errorf("earlier positions changed by %g", diff)
	}
}

func TestForwardErrors(t *testing.T) {
	m := mustLoad(t, tinyDir)
	long := make([]int, m.Cfg.NPositions+1)
	for name, c := range map[string]struct {
		batch [][]int
		hooks []string
		want  string
	}{
		"no hooks":     {[][]int{{1}}, nil, "no hook"},
		"unknown hook": {[][]int{{1}}, []string{"blocks.0.hook_q"}, "unknown point"},
		"bad layer":    {[][]int{{1}}, []string{"blocks.2.hook_resid_pre"}, "out of range"},
		"bad name":     {[][]int{{1}}, []string{"resid"}, "unknown hook"},
		"leading zero": {[][]int{{1}}, []string{"blocks.01.hook_resid_pre"}, "want blocks"},
		"empty batch":  {nil, []string{"logits"}, "empty batch"},
		"empty seq":    {[][]int{{1}, {}}, []string{"logits"}, "sequence 1 is empty"},
		"too long":     {[][]int{long}, []string{"logits"}, "n_positions"},
		"id too large": {[][]int{{1, 512}}, []string{"logits"}, "position 1: token id 512"},
		"negative id":  {[][]int{{-1}}, []string{"logits"}, "token id -1"},
	} {
		_, err := m.Forward(c.batch, c.hooks)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
	for _, name := range []string{"hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre", "blocks.11.mlp.hook_post", "ln_final.hook_normalized", "logits"} {
		h, err := ParseHook(name)
		if err != nil || h.String() != name {
			t.Errorf("ParseHook(%q) = %v, %v", name, h, err)
		}
	}
}

// rawTensor is a tensor to write in a given dtype.
type rawTensor struct {
	dtype string // F32, F16 or BF16
	shape []int
	data  []float32
}

// writeSafetensors writes tensors in their dtypes (test helper; the
// tensor package's writer only emits F32).
func writeSafetensors(t *testing.T, path string, ts map[string]rawTensor) {
	t.Helper()
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	var buf []byte
	for _, n := range names {
		rt := ts[n]
		begin := len(buf)
		for _, v := range rt.data {
			switch rt.dtype {
			case "F32":
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			case "BF16":
				buf = binary.LittleEndian.AppendUint16(buf, uint16(math.Float32bits(v)>>16))
			default:
				t.Fatalf("dtype %s", rt.dtype)
			}
		}
		header[n] = map[string]any{"dtype": rt.dtype, "shape": rt.shape, "data_offsets": []int{begin, len(buf)}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), buf...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The tiny checkpoint re-saved as BF16 with the "transformer." prefix and
// a separate lm_head must load and agree with the F32 original (with the
// same BF16-rounded weights) on every hidden state, and its logits must
// come from lm_head.
func TestBF16PrefixedUntiedCheckpoint(t *testing.T) {
	src, err := tensor.OpenSafetensors(filepath.Join(tinyDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f32, bf16 := map[string]rawTensor{}, map[string]rawTensor{}
	for _, n := range src.Names() {
		info, _ := src.Info(n)
		data, err := src.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range data {
			data[i] = math.Float32frombits(math.Float32bits(v) &^ 0xFFFF) // BF16-exact
		}
		f32[n] = rawTensor{"F32", info.Shape, data}
		bf16["transformer."+n] = rawTensor{"BF16", info.Shape, data}
	}
	cfgData, err := os.ReadFile(filepath.Join(tinyDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		t.Fatal(err)
	}
	wte := f32["wte.weight"]
	lmHead := make([]float32, len(wte.data))
	r := rand.New(rand.NewPCG(5, 6))
	for i := range lmHead {
		lmHead[i] = math.Float32frombits(math.Float32bits(float32(r.NormFloat64())) &^ 0xFFFF)
	}
	bf16["lm_head.weight"] = rawTensor{"BF16", wte.shape, lmHead}

	dirA, dirB := t.TempDir(), t.TempDir()
	writeSafetensors(t, filepath.Join(dirA, "model.safetensors"), f32)
	writeSafetensors(t, filepath.Join(dirB, "model.safetensors"), bf16)
	if err := os.WriteFile(filepath.Join(dirA, "config.json"), cfgData, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg["tie_word_embeddings"] = false
	untied, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dirB, "config.json"), untied, 0o644); err != nil {
		t.Fatal(err)
	}
	ma, mb := mustLoad(t, dirA), mustLoad(t, dirB)
	ids := []int{5, 100, 7, 300, 2}
	hooks := []string{"blocks.1.hook_resid_post", "ln_final.hook_normalized", "logits"}
	aa, err := ma.Forward([][]int{ids}, hooks)
	if err != nil {
		t.Fatal(err)
	}
	ab, err := mb.Forward([][]int{ids}, hooks)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks[:2] {
		if !reflect.DeepEqual(aa.Get(h, 0), ab.Get(h, 0)) {
			t.Errorf("%s differs between F32 and BF16 checkpoints", h)
		}
	}
	if reflect.DeepEqual(aa.Get("logits", 0), ab.Get("logits", 0)) {
		t.Error("untied model used wte for logits")
	}
	if !reflect.DeepEqual(mb.WUT(), lmHead) {
		t.Error("WUT is not lm_head.weight")
	}

	// Missing lm_head with tie_word_embeddings false is an error naming it.
	delete(bf16, "lm_head.weight")
	writeSafetensors(t, filepath.Join(dirB, "model.safetensors"), bf16)
	if _, err := Load(dirB); err == nil || !strings.Contains(err.Error(), "lm_head.weight") {
		t.Errorf("missing lm_head: %v", err)
	}
	// A missing layer tensor is named.
	delete(f32, "h.1.mlp.c_fc.bias")
	writeSafetensors(t, filepath.Join(dirA, "model.safetensors"), f32)
	if _, err := Load(dirA); err == nil || !strings.Contains(err.Error(), "h.1.mlp.c_fc.bias") {
		t.Errorf("missing tensor: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	base := `"vocab_size":10,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2`
	for body, want := range map[string]string{
		`{`:                                   "config.json",
		`{"model_type":"mamba",` + base + `}`: "model_type",
		`{"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2}`:                 "vocab_size is missing",
		`{"vocab_size":10,"n_positions":8,"n_embd":9,"n_layer":1,"n_head":2}`: "multiple",
		`{"activation_function":"relu2",` + base + `}`:                        "activation_function",
		`{"vocab_size":-1,"n_positions":8,"n_embd":8,"n_layer":1,"n_head":2}`: "vocab_size = -1",
	} {
		if _, err := ParseConfig("config.json", []byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", body, err, want)
		}
	}
	c, err := ParseConfig("config.json", []byte(`{"hidden_size":8,"max_position_embeddings":4,"num_hidden_layers":1,"num_attention_heads":2,"vocab_size":3,"n_inner":null}`))
	if err != nil || c.NEmbd != 8 || c.NPositions != 4 || c.NInner != 32 || c.BOSTokenID != -1 || !c.TieWordEmbeddings {
		t.Errorf("aliases: %+v, %v", c, err)
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("empty dir loaded")
	}
}

func TestFastExpAndGelu(t *testing.T) {
	for x := -100.0; x <= 80; x += 0.01237 {
		got, want := fastExp(x), math.Exp(x)
		if math.Abs(got-want) > 1e-9*want {
			t.Fatalf("fastExp(%g) = %g, want %g", x, got, want)
		}
	}
	if fastExp(-1e9) > 1e-300 || fastExp(1e9) < 1e300 || !math.IsNaN(fastExp(math.NaN())) {
		t.Error("fastExp edge cases")
	}
	for u := float32(-30); u <= 30; u += 0.0173 {
		x := float64(u)
		want := 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		if got := float64(geluNew(u)); math.Abs(got-want) > 1e-6*max(1, math.Abs(want)) {
			t.Fatalf("geluNew(%g) = %g, want %g", u, got, want)
		}
	}
}

// Concurrent calls share the model and its scratch pool; each must get
// exactly what a lone call gets.
func TestConcurrentForward(t *testing.T) {
	m := mustLoad(t, demoDir)
	r := rand.New(rand.NewPCG(15, 16))
	inputs := make([][]int, 8)
	want := make([][]float32, len(inputs))
	for i := range inputs {
		inputs[i] = randomIDs(r, 10+i*9, m.Cfg.VocabSize)
		a, err := m.Forward([][]int{inputs[i]}, []string{"logits"})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = a.Get("logits", 0)
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(inputs)*3)
	for rep := range 3 {
		for i := range inputs {
			wg.Go(func() {
				a, err := m.Forward([][]int{inputs[i]}, []string{"logits"})
				if err != nil {
					errs <- err.Error()
					return
				}
				if !reflect.DeepEqual(a.Get("logits", 0), want[i]) {
					errs <- "input " + itoa(i) + " rep " + itoa(rep) + ": logits differ from a lone call"
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
