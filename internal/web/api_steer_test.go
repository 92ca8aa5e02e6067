package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"saex/internal/compute/transformer/transformertest"
	"saex/internal/features"
	"saex/internal/inference"
	"saex/internal/testenv"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

func steerBody(edit func(map[string]any)) map[string]any {
	b := map[string]any{
		"prompt": "The quick brown fox", "modelId": webtest.DemoModel,
		"features":    []any{map[string]any{"modelId": webtest.DemoModel, "layer": "2-res-topk", "index": 5, "strength": 4}},
		"temperature": 0, "n_tokens": 10, "seed": 16, "strength_multiplier": 2,
		"steer_method": "SIMPLE_ADDITIVE", "freq_penalty": 1, "stream": false,
	}
	if edit != nil {
		edit(b)
	}
	return b
}

// Neuronpedia's request shape answers with its response shape: STEERED and
// DEFAULT completions (generated text only) that differ, the same on a
// rerun with the same seed; a vector given inline at the SAE's hook with
// the same direction steers the same way.
func TestAPISteer(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	u := env.URL + "/api/steer"
	st, b := postJSON(t, u, steerBody(nil))
	wantStatus(t, "steer", st, 200, b)
	res := obj(t, b)
	hasKeys(t, "steer", res, "STEERED", "DEFAULT", "steeredLogProbs", "defaultLogProbs", "id", "shareUrl", "limit")
	steered, def := res["STEERED"].(string), res["DEFAULT"].(string)
	if steered == def || steered == "" || def == "" {
		t.Fatalf("steering changed nothing: %s", b)
	}
	if strings.HasPrefix(def, "The quick brown fox") {
		t.Fatalf("DEFAULT repeats the prompt: %q", def)
	}
	sampled := steerBody(func(m map[string]any) { m["temperature"] = 0.7 })
	_, b1 := postJSON(t, u, sampled)
	_, b2 := postJSON(t, u, sampled)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("seeded runs differ: %s vs %s", b1, b2)
	}
	// The demo SAE's W_dec row 5, inline, at its hook.
	eng := webtest.DemoEngine(t, nil)
	s, _ := eng.SAE(webtest.DemoModel, "2-res-topk")
	row := make([]float64, s.Cfg.DIn)
	for i := range row {
		row[i] = float64(s.WDec[5*s.Cfg.DIn+i])
	}
	st, b = postJSON(t, u, steerBody(func(m map[string]any) {
		delete(m, "features")
		m["vectors"] = []any{map[string]any{"vector": row, "strength": 4, "hook": "blocks.2.hook_resid_pre"}}
	}))
	wantStatus(t, "steer with an inline vector", st, 200, b)
	if got := obj(t, b)["STEERED"]; got != steered {
		t.Fatalf("inline vector steered %q, feature %q", got, steered)
	}
}

// stream: true answers with server-sent events whose data grows to the
// plain response.
func TestAPISteerStream(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	u := env.URL + "/api/steer"
	_, plain := postJSON(t, u, steerBody(nil))
	raw, _ := json.Marshal(steerBody(func(m map[string]any) { m["stream"] = true }))
	resp, err := http.Post(u, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var frames []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			frames = append(frames, d)
		}
	}
	if len(frames) < 3 {
		t.Fatalf("%d frames", len(frames))
	}
	var last, want map[string]any
	if err := json.Unmarshal([]byte(frames[len(frames)-1]), &last); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(plain, &want)
	if last["STEERED"] != want["STEERED"] || last["DEFAULT"] != want["DEFAULT"] {
		t.Fatalf("last frame %v, plain %v", last, want)
	}
}

// Bad input answers 400 naming the field; an unknown model 404.
func TestAPISteerBadInput(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	u := env.URL + "/api/steer"
	feat := func(k string, v any) func(map[string]any) {
		return func(m map[string]any) { m["features"].([]any)[0].(map[string]any)[k] = v }
	}
	for _, c := range []struct {
		edit   func(map[string]any)
		status int
		want   string
	}{
		{feat("layer", "0-res-none"), 400, "features[0].layer"},
		{feat("index", 99999), 400, "features[0].index"},
		{feat("strength", 1e300), 400, "features[0].strength"},
		{feat("strength", nil), 400, "features[0].strength"},
		{feat("modelId", "other-model"), 400, "features[0].modelId"},
		{func(m map[string]any) { m["n_tokens"] = 257 }, 400, "n_tokens"},
		{func(m map[string]any) { m["n_tokens"] = 2.5 }, 400, "n_tokens"},
		{func(m map[string]any) { m["temperature"] = 3 }, 400, "temperature"},
		{func(m map[string]any) { m["strength_multiplier"] = 11 }, 400, "strength_multiplier"},
		{func(m map[string]any) { m["seed"] = 1e9 }, 400, "seed"},
		{func(m map[string]any) { m["steer_method"] = "PROJECTION_CAP" }, 400, "steer_method"},
		{func(m map[string]any) { m["prompt"] = strings.Repeat("fox ", 300) }, 400, "prompt"},
		{func(m map[string]any) { m["prompt"] = strings.Repeat("x", 2049) }, 400, "prompt"},
		{func(m map[string]any) { delete(m, "features") }, 400, "features"},
		{func(m map[string]any) {
			m["vectors"] = []any{map[string]any{"vector": []float64{1, 2}, "strength": 1, "hook": "blocks.1.hook_resid_pre"}}
		}, 400, "vectors[0].vector"},
		{func(m map[string]any) {
			m["modelId"] = "no-such-model"
			delete(m["features"].([]any)[0].(map[string]any), "modelId")
		}, 404, "no-such-model"},
	} {
		st, b := postJSON(t, u, steerBody(c.edit))
		wantError(t, c.want, st, b, c.status, c.want)
	}
	st, b := postJSON(t, u, `{"prompt": "a", "modelId": "`+webtest.DemoModel+`", "features": [{"layer": "2-res-topk", "index": 1, "strength": NaN}]}`)
	wantStatus(t, "NaN strength", st, 400, b)
}

// The Python client's SteerCompletionRequest.steer(model_id, vectors,
// prompt, ...) names stored vectors as features (source, index,
// default strength) and sends no steer_method or freq_penalty: the stored
// vector is steered at its hook, as the same vector given inline is.
func TestAPISteerStoredVector(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	eng := webtest.DemoEngine(t, nil)
	s, _ := eng.SAE(webtest.DemoModel, "1-res-topk")
	row := make([]float64, s.Cfg.DIn)
	for i := range row {
		row[i] = float64(s.WDec[7*s.Cfg.DIn+i])
	}
	f, err := env.DB.CreateVector(context.Background(), &features.NewVector{ModelID: webtest.DemoModel, Layer: 1,
		HookType: "hook_resid_pre", Values: row, Label: "seven", DefaultSteerStrength: 6})
	if err != nil {
		t.Fatal(err)
	}
	client := map[string]any{
		"modelId":  webtest.DemoModel,
		"features": []any{map[string]any{"modelId": webtest.DemoModel, "layer": f.SourceID, "index": f.Index, "strength": 6}},
		"prompt":   "The quick brown fox", "temperature": 0, "n_tokens": 12, "seed": 42, "strength_multiplier": 4,
	}
	st, b := postJSON(t, env.URL+"/api/steer", client)
	wantStatus(t, "steer with a stored vector", st, 200, b)
	got := obj(t, b)
	delete(client, "features")
	client["vectors"] = []any{map[string]any{"vector": row, "strength": 6, "hook": "blocks.1.hook_resid_pre"}}
	st, b = postJSON(t, env.URL+"/api/steer", client)
	wantStatus(t, "steer inline", st, 200, b)
	want := obj(t, b)
	if got["STEERED"] != want["STEERED"] || got["DEFAULT"] != want["DEFAULT"] || got["STEERED"] == got["DEFAULT"] {
		t.Fatalf("stored vector %v, inline %v", got, want)
	}
	// A stored vector and an SAE feature together: refused, as Neuronpedia does.
	client["features"] = []any{
		map[string]any{"layer": f.SourceID, "index": f.Index, "strength": 6},
		map[string]any{"layer": "1-res-topk", "index": 7, "strength": 6},
	}
	delete(client, "vectors")
	st, b = postJSON(t, env.URL+"/api/steer", client)
	wantError(t, "mixed", st, b, 400, "both vectors and SAE features")
}

// Neuronpedia's own Python client (vendored unchanged under
// testdata/neuronpedia-client) steers through SteerCompletionRequest and
// NPVector.steer_completion against the demo.
func TestNeuronpediaPythonClientSteer(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import requests, dotenv").Run()
	}
	if err != nil {
		testenv.Missing(t, pythonClient, err)
	}
	// A chat model beside the demo: random Qwen3-shaped weights with
	// Qwen3's tokenizer and chat template, registered in the catalog so
	// that its vector can be stored.
	tokDir := filepath.Join(testenv.RepoRoot(t), "testdata", "tokenizers", "qwen3")
	chatDir, _ := transformertest.Model(t, tokDir, "qwen3")
	tc, err := os.ReadFile(filepath.Join(tokDir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(chatDir, "tokenizer_config.json"), tc, 0o644); err != nil {
		t.Fatal(err)
	}
	env := webtest.NewDemo(t, func(s *web.Server) {
		if err := s.Inference.(*inference.Engine).AddModel("qchat", chatDir); err != nil {
			t.Fatal(err)
		}
	})
	if err := env.DB.CreateModel(context.Background(), &features.Model{ID: "qchat", Layers: 2, DisplayName: "qchat", Dimension: transformertest.Width, Visibility: "PUBLIC", InferenceEnabled: true}); err != nil {
		t.Fatal(err)
	}
	eng := webtest.DemoEngine(t, nil)
	s, _ := eng.SAE(webtest.DemoModel, "1-res-topk")
	row := make([]float64, s.Cfg.DIn)
	for i := range row {
		row[i] = float64(s.WDec[7*s.Cfg.DIn+i])
	}
	f, err := env.DB.CreateVector(context.Background(), &features.NewVector{ModelID: webtest.DemoModel, Layer: 1,
		HookType: "hook_resid_pre", Values: row, Label: "seven", DefaultSteerStrength: 6})
	if err != nil {
		t.Fatal(err)
	}
	cv := make([]float64, transformertest.Width)
	for i := range cv {
		cv[i] = float64(i%5) - 2
	}
	cf, err := env.DB.CreateVector(context.Background(), &features.NewVector{ModelID: "qchat", Layer: 0,
		HookType: "hook_resid_pre", Values: cv, Label: "chat", DefaultSteerStrength: 20})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "neuronpedia-client")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-B", filepath.Join(dir, "run_steer_against_saex.py"), env.URL+"/api", "sk-np-any",
		webtest.DemoModel, "2-res-topk", f.SourceID, strconv.Itoa(f.Index), "qchat", cf.SourceID, strconv.Itoa(cf.Index))
	cmd.Env = append(cmd.Environ(), "PYTHONPATH="+dir, "PYTHONDONTWRITEBYTECODE=1", "NEURONPEDIA_API_KEY=")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the client failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "steering ran end to end") {
		t.Fatalf("the client did not finish:\n%s", out)
	}
}
