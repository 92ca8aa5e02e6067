package web_test

import (
	"net/http"
	"strings"
	"testing"

	"saex/internal/web/webtest"
)

func TestAPIExplanationNew(t *testing.T) {
	env := webtest.New(t, nil)
	u := env.URL + "/api/explanation/new"
	st, b := postJSON(t, u, map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 4,
		"text": "  closing brackets in Go code  "})
	wantStatus(t, "create", st, http.StatusOK, b)
	e := obj(t, b)
	if e["description"] != "closing brackets in Go code" || e["typeName"] != "human" || e["explanationModelName"] != "human" || e["id"] == "" {
		t.Fatalf("created explanation: %s", truncate(b))
	}
	// It is on the feature and found by the search.
	st, b = get(t, env.URL+"/api/feature/"+webtest.TestModel+"/"+webtest.TestSource+"/4")
	wantStatus(t, "feature", st, 200, b)
	if !strings.Contains(string(b), "closing brackets in Go code") {
		t.Errorf("explanation missing from the feature: %s", truncate(b))
	}
	st, b = postJSON(t, env.URL+"/api/explanation/search", map[string]any{"query": "closing brackets"})
	if st != 200 || !strings.Contains(string(b), "closing brackets in Go code") {
		t.Errorf("explanation not found by search: %d %s", st, truncate(b))
	}

	for _, c := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"empty text", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 4, "description": "  "}, 400},
		{"too long", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 4, "description": strings.Repeat("x", 513)}, 400},
		{"NUL", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 4, "description": "a\x00b"}, 400},
		{"bad index", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": "four", "description": "x"}, 400},
		{"bad model id", map[string]any{"modelId": "a/b", "source": webtest.TestSource, "index": 4, "description": "x"}, 400},
		{"missing feature", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 99999, "description": "x"}, 404},
		{"missing source", map[string]any{"modelId": webtest.TestModel, "source": "7-nothing", "index": 1, "description": "x"}, 404},
	} {
		st, b := postJSON(t, u, c.body)
		wantStatus(t, c.name, st, c.want, b)
	}

	// Neuronpedia's body, as SAELens sends it, and Neuronpedia's reply.
	st, b = postJSON(t, u, map[string]any{"feature": map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 5,
		"explanation": "tokens after an opening quote", "explanationModel": "gpt-4o-mini"}})
	wantStatus(t, "Neuronpedia body", st, http.StatusOK, b)
	m := obj(t, b)
	if m["message"] == nil || !strings.HasSuffix(m["url"].(string), "/"+webtest.TestModel+"/"+webtest.TestSource+"/5") {
		t.Errorf("Neuronpedia reply: %s, want {message, url}", b)
	}
	st, b = get(t, env.URL+"/api/feature/"+webtest.TestModel+"/"+webtest.TestSource+"/5")
	if st != 200 || !strings.Contains(string(b), "tokens after an opening quote") || !strings.Contains(string(b), `"explanationModelName":"gpt-4o-mini"`) {
		t.Errorf("explanation from Neuronpedia's body missing: %s", truncate(b))
	}
	for _, c := range []struct {
		body map[string]any
		want int
		msg  string
	}{
		{map[string]any{"feature": map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 5}}, 400, "feature.explanation"},
		{map[string]any{"feature": map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": "x", "explanation": "abc"}}, 400, "feature.index"},
		{map[string]any{"feature": map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 99999, "explanation": "abc"}}, 404, ""},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, "Neuronpedia body", st, b, c.want, c.msg)
	}
}
