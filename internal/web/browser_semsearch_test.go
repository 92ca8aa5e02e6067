package web_test

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"saex/internal/features/semsearch"
	"saex/internal/llm"
	"saex/internal/store/storetest"
	"saex/internal/web"
	"saex/internal/web/webtest"
	"saex/templates"
)

// hashEmbeddings speaks the embeddings protocol: a text's 32-d vector is
// seeded by its hash, so an explanation and a query worded alike embed
// alike.
func hashEmbeddings(w http.ResponseWriter, r *http.Request) {
	var body struct{ Input []string }
	if json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	var data []any
	for i, text := range body.Input {
		h := fnv.New64a()
		h.Write([]byte(text))
		rng := rand.New(rand.NewPCG(h.Sum64(), 3))
		v := make([]float64, 32)
		for j := range v {
			v[j] = rng.NormFloat64()
		}
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": v})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "model": "x", "data": data, "usage": map[string]any{"prompt_tokens": 1}})
}

// With an embeddings endpoint the search page says it ranks semantically
// and shows each hit's cosine similarity; the best hit of a query worded as
// an explanation is that explanation.
func TestBrowserSemanticSearch(t *testing.T) {
	ep := httptest.NewServer(http.HandlerFunc(hashEmbeddings))
	defer ep.Close()
	db := storetest.NewDB(t)
	webtest.Seed(t, db)
	e, err := llm.NewEmbedder(llm.Config{BaseURL: ep.URL + "/v1", Model: "hash-32"})
	if err != nil {
		t.Fatal(err)
	}
	svc := &semsearch.Service{Store: db, Embedder: e, Model: "hash-32"}
	if _, err := svc.Backfill(context.Background(), 500, nil); err != nil {
		t.Fatal(err)
	}
	env := webtest.NewOver(t, db, func(s *web.Server) { s.Explanations = svc })
	ctx := newBrowser(t)
	must(t, "open", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+"/search"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=q]`)),
	))
	ranking, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#search-ranking")))
	must(t, "read ranking", err)
	must(t, "search", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), webtest.SeededExplanation),
		chromedp.Submit(chromedp.CSS(`input[name=q]`)),
		chromedp.WaitVisible(chromedp.CSS("a.hit-link")),
	))
	if !strings.Contains(ranking, "semantic") {
		t.Errorf("ranking line %q", ranking)
	}
	hits, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('a.hit-link')].map(a => a.getAttribute('href'))`))
	must(t, "read hits", err)
	sims, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.similarity')].map(s => s.textContent)`))
	must(t, "read similarities", err)
	want := templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.SeededIndex)
	// Semantic search ranks every embedded explanation: a full page.
	if len(hits) != 20 || hits[0] != want || len(sims) != 20 || sims[0] != "cosine 1.000" || sims[1] >= sims[0] {
		t.Fatalf("hits %v (want %s first), similarities %v", hits, want, sims)
	}
}
