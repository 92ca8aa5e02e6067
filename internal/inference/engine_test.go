package inference

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"saex/internal/features"
	"strings"
	"sync"
	"testing"
	"time"

	"saex/internal/compute/tensor"
)

const (
	demoDir = "../../demo/demo-gpt2-4l"
	refDir  = "../../testdata/golden/demo-reference"
)

var demoSources = []string{"1-res-topk", "2-res-topk", "3-res-topk"}

var (
	demoEngineOnce sync.Once
	demoEngine     *Engine
	demoEngineErr  error
)

// loadDemoEngine loads the demo model and its three SAEs once per test binary.
func loadDemoEngine(tb testing.TB) *Engine {
	tb.Helper()
	demoEngineOnce.Do(func() {
		// Four compute slots and no result cache: the tests run prompts
		// concurrently through the model itself.
		e := NewEngine(NewScheduler(4, -1), 0)
		if err := e.AddModel("demo-gpt2-4l", demoDir+"/model"); err != nil {
			demoEngineErr = err
			return
		}
		for i, id := range demoSources {
			if err := e.AddSource("demo-gpt2-4l", id, fmt.Sprintf("%s/saes/blocks.%d.hook_resid_pre", demoDir, i+1)); err != nil {
				demoEngineErr = err
				return
			}
		}
		demoEngine = e
	})
	if demoEngineErr != nil {
		tb.Fatal(demoEngineErr)
	}
	return demoEngine
}

type refPrompt struct {
	Index   int    `json:"index"`
	Text    string `json:"text"`
	NTokens int    `json:"n_tokens"`
}

func TestEngineMatchesReference(t *testing.T) {
	e := loadDemoEngine(t)
	var ref struct {
		Prompts []refPrompt `json:"prompts"`
	}
	data, err := os.ReadFile(refDir + "/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	f, err := tensor.OpenSafetensors(refDir + "/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range ref.Prompts {
		res, err := e.RunPrompt(context.Background(), "demo-gpt2-4l", nil, p.Text)
		if err != nil {
			t.Fatalf("prompt %d: %v", p.Index, err)
		}
		wantTok, err := f.Int64(fmt.Sprintf("p%d.tokens", p.Index))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.TokenIDs) != len(wantTok) || !res.HasBOS || res.Tokens[0] != "<|endoftext|>" {
			t.Fatalf("prompt %d: %d tokens (BOS %v, %q), want %d", p.Index, len(res.TokenIDs), res.HasBOS, res.Tokens[0], len(wantTok))
		}
		for i, id := range wantTok {
			if int64(res.TokenIDs[i]) != id {
				t.Fatalf("prompt %d token %d: id %d, want %d", p.Index, i, res.TokenIDs[i], id)
			}
		}
		if strings.Join(res.Tokens[1:], "") != p.Text {
			t.Errorf("prompt %d: display tokens %q do not spell the text", p.Index, res.Tokens)
		}
		if len(res.Sources) != 3 {
			t.Fatalf("prompt %d: %d sources", p.Index, len(res.Sources))
		}
		n := len(wantTok)
		for li, src := range res.Sources {
			if src.SourceID != demoSources[li] || len(src.Rows) != n {
				t.Fatalf("prompt %d source %d: %s with %d rows", p.Index, li, src.SourceID, len(src.Rows))
			}
			key := fmt.Sprintf("p%d.sae.blocks.%d.hook_resid_pre", p.Index, li+1)
			wi, err := f.Int64(key+".top_indices", n, 32)
			if err != nil {
				t.Fatal(err)
			}
			wv, err := f.Float32(key+".top_values", n, 32)
			if err != nil {
				t.Fatal(err)
			}
			for r := 0; r < n; r++ {
				compareRow(t, fmt.Sprintf("%s row %d", key, r), src.Rows[r], wi[r*32:(r+1)*32], wv[r*32:(r+1)*32])
			}
		}
	}
}

// compareRow checks one token's sparse code against the reference's 32
// kept features: values within 1e-4 relative, indices identical except
// where neighbouring reference values are within 1e-4 (an order swap).
// Zero values in the reference are features ReLU removed: we omit them.
func compareRow(t *testing.T, what string, got features.SparseRow, wi []int64, wv []float32) {
	t.Helper()
	j := 0
	for k := range wi {
		if wv[k] <= 0 {
			continue
		}
		if j >= len(got.Indices) {
			t.Errorf("%s: only %d features, reference has more (rank %d = %d: %v)", what, len(got.Indices), k, wi[k], wv[k])
			return
		}
		tol := 1e-4 * math.Max(math.Abs(float64(wv[k])), 1)
		if d := math.Abs(float64(got.Values[j] - wv[k])); d > tol {
			t.Errorf("%s rank %d: value %v, want %v", what, k, got.Values[j], wv[k])
		}
		if int64(got.Indices[j]) != wi[k] {
			near := (k > 0 && math.Abs(float64(wv[k]-wv[k-1])) < 1e-4) || (k+1 < len(wv) && math.Abs(float64(wv[k]-wv[k+1])) < 1e-4)
			if !near {
				t.Errorf("%s rank %d: index %d, want %d (value %v)", what, k, got.Indices[j], wi[k], wv[k])
			}
		}
		j++
	}
	if j != len(got.Indices) {
		t.Errorf("%s: %d features, reference has %d positive", what, len(got.Indices), j)
	}
}

func TestEngineErrors(t *testing.T) {
	e := loadDemoEngine(t)
	ctx := context.Background()
	if _, err := e.RunPrompt(ctx, "nope", nil, "hi"); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("unknown model: %v", err)
	}
	if _, err := e.RunPrompt(ctx, "demo-gpt2-4l", []string{"9-res-topk"}, "hi"); features.ErrorCode(err) != features.ENOTFOUND || !strings.Contains(err.Error(), "9-res-topk") {
		t.Errorf("unknown source: %v", err)
	}
	long := strings.Repeat(" a", 300)
	_, err := e.RunPrompt(ctx, "demo-gpt2-4l", nil, long)
	if features.ErrorCode(err) != features.EUNPROCESSABLE || !strings.Contains(err.Error(), "256") {
		t.Errorf("long prompt: %v", err)
	}
	if !e.CanRun("demo-gpt2-4l", "") || !e.CanRun("demo-gpt2-4l", "2-res-topk") || e.CanRun("demo-gpt2-4l", "x") || e.CanRun("x", "") {
		t.Error("CanRun")
	}
	if e.MaxTokens("demo-gpt2-4l") != 256 || e.MaxTokens("x") != 0 {
		t.Error("MaxTokens")
	}
	// Exactly at the limit is fine: 255 tokens plus BOS.
	ok := strings.Repeat(" a", 255)
	if r, err := e.RunPrompt(ctx, "demo-gpt2-4l", []string{"3-res-topk"}, ok); err != nil || len(r.TokenIDs) != 256 || len(r.Sources[0].Rows) != 256 {
		t.Errorf("prompt at the limit: %v", err)
	}
	// The empty prompt is BOS alone.
	if r, err := e.RunPrompt(ctx, "demo-gpt2-4l", []string{"1-res-topk", "1-res-topk"}, ""); err != nil || len(r.TokenIDs) != 1 || len(r.Sources) != 1 || len(r.Sources[0].Rows) != 1 {
		t.Errorf("empty prompt: %+v, %v", r, err)
	}
	if err := e.AddSource("demo-gpt2-4l", "bad/id", demoDir+"/saes/blocks.1.hook_resid_pre"); features.ErrorCode(err) != features.EINVALID {
		t.Errorf("bad source id: %v", err)
	}
	if err := e.AddSource("nope", "1-x", demoDir+"/saes/blocks.1.hook_resid_pre"); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("source of unknown model: %v", err)
	}
	if err := e.AddModel("m", demoDir); err == nil {
		t.Error("model from a folder without config.json")
	}
}

func TestEngineSaturated(t *testing.T) {
	e := loadDemoEngine(t)
	// Fill every slot, then a prompt whose deadline passes while waiting
	// must give up with features.EUNAVAILABLE.
	_, slots := e.Scheduler().ComputeSlots()
	for range slots {
		release, err := e.Scheduler().AcquireCompute(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.RunPrompt(ctx, "demo-gpt2-4l", nil, "hello saturated"); features.ErrorCode(err) != features.EUNAVAILABLE {
		t.Fatalf("saturated pool: %v", err)
	}
}

func TestEngineConcurrentPrompts(t *testing.T) {
	e := loadDemoEngine(t)
	want, err := e.RunPrompt(context.Background(), "demo-gpt2-4l", nil, "The quick brown fox")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			got, err := e.RunPrompt(context.Background(), "demo-gpt2-4l", nil, "The quick brown fox")
			if err != nil {
				errs <- err
				return
			}
			for s := range got.Sources {
				for r, row := range got.Sources[s].Rows {
					w := want.Sources[s].Rows[r]
					if fmt.Sprint(row) != fmt.Sprint(w) {
						errs <- fmt.Errorf("source %d row %d differs under concurrency", s, r)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestEngineMixedBOS: a source whose SAE does not prepend BOS runs on the
// prompt without it; its rows line up with the BOS sequence's tokens
// behind an empty row at position 0.
func TestEngineMixedBOS(t *testing.T) {
	e := NewEngine(nil, 0)
	if err := e.AddModel("m", demoDir+"/model"); err != nil {
		t.Fatal(err)
	}
	if err := e.AddSource("m", "1-bos", demoDir+"/saes/blocks.1.hook_resid_pre"); err != nil {
		t.Fatal(err)
	}
	s, _ := e.SAE("m", "1-bos")
	plain := *s
	plain.Cfg.PrependBOS = false
	if err := e.AddLoadedSource("m", "1-plain", &plain); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	both, err := e.RunPrompt(ctx, "m", nil, "hello world")
	if err != nil {
		t.Fatal(err)
	}
	alone, err := e.RunPrompt(ctx, "m", []string{"1-plain"}, "hello world")
	if err != nil {
		t.Fatal(err)
	}
	if alone.HasBOS || len(alone.TokenIDs) != len(both.TokenIDs)-1 || !both.HasBOS {
		t.Fatalf("tokens: alone %v (BOS %v), both %v", alone.TokenIDs, alone.HasBOS, both.TokenIDs)
	}
	rows := both.Source("1-plain").Rows
	if len(rows) != len(both.TokenIDs) || len(rows[0].Indices) != 0 {
		t.Fatalf("plain source in a BOS result: %d rows, row 0 %v", len(rows), rows[0])
	}
	for i, r := range alone.Sources[0].Rows {
		if fmt.Sprint(r) != fmt.Sprint(rows[i+1]) {
			t.Errorf("row %d differs from the prompt run without BOS", i)
		}
	}
	if fmt.Sprint(both.Source("1-bos").Rows[1]) == fmt.Sprint(rows[1]) {
		t.Error("with and without BOS gave the same first-token features; the BOS should change them")
	}
	if ids := e.ModelIDs(); len(ids) != 1 || ids[0] != "m" {
		t.Errorf("ModelIDs: %v", ids)
	}
}

// TestEngineKeepsRecentResults: a repeated prompt is served from the kept
// results without a compute slot; the least recently used result goes
// first; replacing a source forgets them all.
func TestEngineKeepsRecentResults(t *testing.T) {
	base := loadDemoEngine(t)
	model, tok, _ := base.Model("demo-gpt2-4l")
	e := NewEngine(NewScheduler(1, -1), 2)
	if err := e.AddLoadedModel("m", "", model, tok); err != nil {
		t.Fatal(err)
	}
	s1, _ := base.SAE("demo-gpt2-4l", demoSources[0])
	if err := e.AddLoadedSource("m", "1-a", s1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(text string) *features.PromptResult {
		t.Helper()
		res, err := e.RunPrompt(ctx, "m", nil, text)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run("a"), run("b")
	// With the only compute slot taken, kept results still come back.
	release, err := e.Scheduler().AcquireCompute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run("a") != a { // a is now the most recent
		t.Fatal("a was not kept")
	}
	release()
	run("c") // evicts b, the least recently used
	if run("a") != a {
		t.Error("a evicted though recently used")
	}
	if run("b") == b {
		t.Error("b kept past the cache size")
	}
	if err := e.AddLoadedSource("m", "1-a", s1); err != nil {
		t.Fatal(err)
	}
	if run("a") == a {
		t.Error("a result kept after its source was replaced")
	}
	if promptKey("m", []string{"1-a", "2-a"}, "t") == promptKey("m", []string{"1-a"}, "2-a\x00t") {
		t.Error("prompt keys collide")
	}
	off := NewEngine(nil, 0)
	if err := off.AddLoadedModel("m", "", model, tok); err != nil {
		t.Fatal(err)
	}
	if err := off.AddLoadedSource("m", "1-a", s1); err != nil {
		t.Fatal(err)
	}
	r1, _ := off.RunPrompt(ctx, "m", nil, "a")
	if r2, _ := off.RunPrompt(ctx, "m", nil, "a"); r1 == r2 {
		t.Error("an engine without a result cache kept a result")
	}
}
