package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/llm"
	"saex/internal/store"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

const llmSecret = "sk-web-SECRET-42424242"

// chatServer answers explainer prompts with a fixed explanation and scorer
// prompts with alternating 1/0, or 500s (naming the key) when broken.
func chatServer(t *testing.T, broken *atomic.Bool) *httptest.Server {
	entries := regexp.MustCompile(`JSON array of (\d+) entries`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if broken.Load() {
			w.WriteHeader(500)
			fmt.Fprintf(w, `{"error":{"message":"upstream failed for key %s"}}`, llmSecret)
			return
		}
		content := "[EXPLANATION]: synthetic stegosaurus pattern"
		if m := entries.FindSubmatch(b); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			var out []string
			for i := range n {
				out = append(out, strconv.Itoa(i%2))
			}
			content = "[" + strings.Join(out, ",") + "]"
		}
		reply, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion", "created": 1, "model": "x",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
			"usage":   map[string]any{"prompt_tokens": 10, "completion_tokens": 5}})
		w.Write(reply)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAPIExplanationGenerateAndScore(t *testing.T) {
	var broken atomic.Bool
	chat := chatServer(t, &broken)
	env := webtest.New(t, func(s *web.Server) {
		c, err := llm.New(llm.Config{BaseURL: chat.URL + "/v1", APIKey: llmSecret, Model: "explainer-x", MaxRetries: -1, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s.AutoInterp = &autointerp.Service{Pipeline: &autointerp.Pipeline{Store: s.Features.(*store.DB),
			Explainer: &autointerp.Explainer{LLM: c, Model: "explainer-x"}, Scorer: &autointerp.Scorer{LLM: c, Model: "scorer-x"}}}
	})
	gen := env.URL + "/api/explanation/generate"
	body := map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": "6",
		"explanationType": autointerp.ExplainType, "explanationModelName": "", "useOpenRouter": false}
	st, b := postJSON(t, gen, body)
	wantStatus(t, "generate", st, 200, b)
	e := obj(t, b)
	if e["description"] != "synthetic stegosaurus pattern" || e["typeName"] != autointerp.ExplainType || e["explanationModelName"] != "explainer-x" {
		t.Fatalf("generated %s", truncate(b))
	}
	id := e["id"].(string)
	st, b = get(t, env.URL+"/api/feature/"+webtest.TestModel+"/"+webtest.TestSource+"/6")
	if st != 200 || !strings.Contains(string(b), "synthetic stegosaurus pattern") {
		t.Errorf("generated explanation not on the feature: %d %s", st, truncate(b))
	}
	// Feature 6's decoder neighbour 7 has other texts: its non-activating contexts.
	st, b = postJSON(t, gen, body)
	wantError(t, "duplicate", st, b, 409, "already has")

	st, b = postJSON(t, env.URL+"/api/explanation/score", map[string]any{"explanationId": id, "scorerType": "eleuther_recall", "scorerModel": ""})
	wantStatus(t, "score", st, 200, b)
	var sc struct {
		Score struct {
			ID, ExplanationID, ExplanationScoreTypeName, ExplanationScoreModelName, JSONDetails string
			Value                                                                               float64
		}
	}
	if err := json.Unmarshal(b, &sc); err != nil || sc.Score.ExplanationID != id || sc.Score.ExplanationScoreTypeName != "eleuther_recall" ||
		sc.Score.ExplanationScoreModelName != "scorer-x" || sc.Score.Value < 0 || sc.Score.Value > 1 || !strings.Contains(sc.Score.JSONDetails, "breakdown") {
		t.Fatalf("score %s (%v)", truncate(b), err)
	}
	st, b = get(t, env.URL+"/api/feature/"+webtest.TestModel+"/"+webtest.TestSource+"/6")
	if st != 200 || !strings.Contains(string(b), sc.Score.ID) {
		t.Errorf("score not on the feature: %s", truncate(b))
	}
	// The feature page shows the explanation with its score.
	st, b = get(t, env.URL+"/"+webtest.TestModel+"/"+webtest.TestSource+"/6")
	if st != 200 || !strings.Contains(string(b), "synthetic stegosaurus pattern") || !strings.Contains(string(b), "eleuther_recall") {
		t.Errorf("feature page lacks the explanation or its score: %d", st)
	}

	for _, c := range []struct {
		name string
		url  string
		body map[string]any
		want int
	}{
		{"unknown scorer", "/api/explanation/score", map[string]any{"explanationId": id, "scorerType": "simulation"}, 400},
		{"no scorer", "/api/explanation/score", map[string]any{"explanationId": id}, 400},
		{"unknown explanation", "/api/explanation/score", map[string]any{"explanationId": "nope", "scorerType": "eleuther_fuzz"}, 404},
		{"unknown type", "/api/explanation/generate", map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 5, "explanationType": "oai_token-act-pair"}, 400},
		{"missing feature", "/api/explanation/generate", map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 99999}, 404},
		{"dead feature", "/api/explanation/generate", map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": webtest.TestFeatures - 1}, 422},
		{"bad index", "/api/explanation/generate", map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": "x"}, 400},
	} {
		st, b := postJSON(t, env.URL+c.url, c.body)
		wantStatus(t, c.name, st, c.want, b)
	}

	// A failing endpoint is a 503 that never shows the key.
	broken.Store(true)
	st, b = postJSON(t, gen, map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 5})
	wantError(t, "endpoint down", st, b, 503, "500")
	if strings.Contains(string(b), llmSecret) {
		t.Errorf("the key leaked into the response: %s", b)
	}
}

func TestAPIAutoInterpUnconfigured(t *testing.T) {
	env := webtest.New(t, nil)
	for path, body := range map[string]map[string]any{
		"/api/explanation/generate": {"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 4},
		"/api/explanation/score":    {"explanationId": "some-explanation", "scorerType": "eleuther_recall"},
	} {
		st, b := postJSON(t, env.URL+path, body)
		wantError(t, path, st, b, 503, "SAEX_LLM_BASE_URL")
	}
	// Bad ids are 400 naming the field even with no endpoint configured.
	st, b := postJSON(t, env.URL+"/api/explanation/generate", map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": -1})
	wantError(t, "generate index -1", st, b, 400, "index")
	st, b = postJSON(t, env.URL+"/api/explanation/score", map[string]any{"scorerType": "eleuther_recall"})
	wantError(t, "score without explanationId", st, b, 400, "explanationId")
}

func TestAPIAutoInterpNeedsAWriteKey(t *testing.T) {
	e := newHardened(t, false, nil)
	reader := scopedKey(t, e, "reader", features.ScopeRead)
	body := fmt.Sprintf(`{"modelId":%q,"layer":%q,"index":4}`, webtest.TestModel, webtest.TestSource)
	for _, path := range []string{"/api/explanation/generate", "/api/explanation/score"} {
		st, _, b := e.call(t, http.MethodPost, path, body, jsonHdr())
		wantError(t, path+" without a key", st, b, http.StatusUnauthorized, "")
		st, _, b = e.call(t, http.MethodPost, path, body, jsonHdr("X-Api-Key", reader))
		wantError(t, path+" with a read key", st, b, http.StatusForbidden, "")
	}
}
