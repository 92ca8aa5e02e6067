package main

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

const embedSecret = "sk-embed-SECRET-31313131"

// hashEmbedder speaks the embeddings protocol: a text's vector is seeded by
// its hash, so an explanation and a query worded alike embed alike. It
// wants embedSecret and can be switched to failing (echoing the key).
type hashEmbedder struct {
	failing  atomic.Bool
	requests atomic.Int32
}

func (h *hashEmbedder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+embedSecret || r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":{"message":"no"}}`, http.StatusUnauthorized)
		return
	}
	if h.failing.Load() {
		http.Error(w, `{"error":{"message":"broken for key `+embedSecret+`"}}`, http.StatusBadRequest)
		return
	}
	var body struct {
		Input      []string `json:"input"`
		Dimensions int      `json:"dimensions"`
	}
	if json.NewDecoder(r.Body).Decode(&body) != nil || body.Dimensions != 64 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	var data []any
	for i, text := range body.Input {
		f := fnv.New64a()
		f.Write([]byte(text))
		rng := rand.New(rand.NewPCG(f.Sum64(), 1))
		v := make([]float64, body.Dimensions)
		for j := range v {
			v[j] = rng.NormFloat64()
		}
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": v})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "model": "x", "data": data, "usage": map[string]any{"prompt_tokens": 1, "total_tokens": 1}})
}

// TestEmbedExplanationsAndSemanticSearch: embed-explanations fills in the
// embeddings (and resumes), then serve with the SAEX_EMBED_* environment
// ranks the search routes and page by cosine similarity; the key and the
// base URL's secret appear in no response, page, log line or metric.
// Without the environment search stays full text.
func TestEmbedExplanationsAndSemanticSearch(t *testing.T) {
	url := storetest.NewURL(t)
	ctx := context.Background()
	db, err := store.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seedWords(t, db, 4)
	descs := []string{"closing brackets in code", "the word fossils", "numbers in dates", "names of rivers"}
	for i, d := range descs {
		if err := db.CreateExplanation(ctx, &features.Explanation{ModelID: "m", SourceID: "0-res", Index: i, Description: d}); err != nil {
			t.Fatal(err)
		}
	}
	ep := &hashEmbedder{}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	chat := httptest.NewServer(&wordEndpoint{})
	defer chat.Close()
	apiKey, _, err := db.CreateAPIKey(ctx, "semantic test")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"SAEX_EMBED_BASE_URL": srv.URL + "/v1?api-key=ESECRET777", "SAEX_EMBED_MODEL": "emb-h",
		"SAEX_EMBED_API_KEY": embedSecret, "SAEX_EMBED_DIMENSIONS": "64", "DATABASE_URL": url,
		"SAEX_LLM_BASE_URL": chat.URL + "/v1", "SAEX_LLM_MODEL": "explainer-w", "SAEX_LLM_API_KEY": explainSecret}
	var logs bytes.Buffer
	mkEnv := func(vars map[string]string) *Env {
		return &Env{Stdout: &logs, Stderr: &logs, Getenv: func(k string) string { return vars[k] }}
	}
	// A failing endpoint stops the command with a resumable error.
	ep.failing.Store(true)
	err = run(ctx, []string{"embed-explanations", "--batch", "2"}, mkEnv(vars))
	if err == nil || !strings.Contains(err.Error(), "rerun") {
		t.Fatalf("failing endpoint: %v", err)
	}
	errText := err.Error()
	ep.failing.Store(false)
	if err := run(ctx, []string{"embed-explanations", "--batch", "3"}, mkEnv(vars)); err != nil {
		t.Fatal(err)
	}
	if left, err := db.ExplanationsToEmbed(ctx, "emb-h", 64, "", 10); err != nil || len(left) != 0 {
		t.Fatalf("left to embed: %d, %v", len(left), err)
	}
	serve := func(vars map[string]string) *httptest.Server {
		env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
		// No background group: nothing outlives the handler (an auto-interp
		// job runner would), and the index loads on the first search.
		return serveTest(ctx, t, &serveDeps{DB: db, Env: env,
			Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Harden: &hardenConfig{Metrics: true}})
	}
	call := func(ts *httptest.Server, method, path, body string) (int, string) {
		return callJSON(t, ts, method, path, apiKey, body)
	}
	type result struct {
		Description string   `json:"description"`
		Cosine      *float64 `json:"cosine_similarity"`
		TextRank    float64  `json:"textRank"`
	}
	type response struct {
		Results    []result `json:"results"`
		TotalCount int      `json:"totalCount"`
	}
	search := func(ts *httptest.Server, query string) response {
		t.Helper()
		st, b := call(ts, "POST", "/api/explanation/search-all", `{"query":"`+query+`"}`)
		var r response
		if st != 200 || json.Unmarshal([]byte(b), &r) != nil {
			t.Fatalf("search %q: %d %s", query, st, b)
		}
		return r
	}
	ts := serve(vars)
	r := search(ts, "names of rivers")
	if r.TotalCount != len(descs) || r.Results[0].Description != "names of rivers" || r.Results[0].Cosine == nil ||
		*r.Results[0].Cosine < 0.9999 || r.Results[1].Cosine == nil || *r.Results[1].Cosine >= *r.Results[0].Cosine ||
		r.Results[0].TextRank != *r.Results[0].Cosine {
		t.Fatalf("semantic search: %+v", r)
	}
	// Auto-interp's explanations are embedded as they are written.
	if st, b := call(ts, "POST", "/api/explanation/generate", `{"modelId":"m","layer":"0-res","index":3}`); st != 200 || !strings.Contains(b, "the word w3") {
		t.Fatalf("generate: %d %s", st, b)
	}
	if r := search(ts, "the word w3"); r.TotalCount != len(descs)+1 || r.Results[0].Description != "the word w3" || *r.Results[0].Cosine < 0.9999 {
		t.Fatalf("generated explanation not found first: %+v", r)
	}
	st, page := call(ts, "GET", "/search?q=names+of+rivers", "")
	if st != 200 || !strings.Contains(page, `data-ranking="semantic"`) || !strings.Contains(page, "cosine 1.000") {
		t.Errorf("search page: %d, semantic ranking not shown", st)
	}
	// The endpoint fails: 503 naming the model, no secrets.
	ep.failing.Store(true)
	st, failed := call(ts, "POST", "/api/explanation/search-all", `{"query":"names of rivers"}`)
	if st != 503 || !strings.Contains(failed, "emb-h") {
		t.Errorf("endpoint down: %d %s", st, failed)
	}
	_, failedPage := call(ts, "GET", "/search?q=rivers", "")
	ep.failing.Store(false)
	_, metrics := call(ts, "GET", "/metrics", "")
	for what, s := range map[string]string{"command error": errText, "response": failed, "page": page + failedPage,
		"logs": logs.String(), "metrics": metrics} {
		for _, secret := range []string{embedSecret, "ESECRET777", explainSecret} {
			if strings.Contains(s, secret) {
				t.Errorf("%s contain a secret: %s", what, s)
			}
		}
	}
	if !strings.Contains(logs.String(), "semantic search on") || !strings.Contains(logs.String(), "backend=go-scan") {
		t.Errorf("logs do not say semantic search is on: %s", logs.String())
	}
	// Without an endpoint: full text, as before.
	off := serve(map[string]string{})
	r = search(off, "names of rivers")
	if len(r.Results) != 1 || r.Results[0].Description != "names of rivers" || r.Results[0].Cosine != nil {
		t.Errorf("full-text search: %+v", r)
	}
	if _, page := call(off, "GET", "/search?q=rivers", ""); !strings.Contains(page, `data-ranking="full-text"`) {
		t.Error("search page does not say full-text")
	}
}
