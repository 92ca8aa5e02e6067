package semsearch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"saex/internal/features"
	"saex/internal/features/semsearch"
	"saex/internal/llm"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

const (
	dims        = features.EmbeddingDim
	perSource   = 40
	secretKey   = "sk-semsearch-SECRET-0123456789"
	secretQuery = "token=QUERYSECRET42"
)

// place is one fixture source and what the search filters see of it.
type place struct{ model, source, set, release string }

var places = []place{
	{"ma", "0-res", "res", "r1"},
	{"ma", "1-res", "res", "r1"},
	{"ma", "0-att", "att", ""},
	{"mb", "0-res", "res", ""},
}

// vectorOf is the test endpoint's embedding of text: a pseudo-random
// vector seeded by the text's hash, so equal texts embed equally.
func vectorOf(text string, n int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	r := rand.New(rand.NewPCG(h.Sum64(), 7))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// endpoint speaks the embeddings protocol with vectorOf, checks the key
// and can be told to fail.
type endpoint struct {
	mu       sync.Mutex
	requests int
	failFrom int // fail requests numbered >= failFrom (1-based) when > 0
	dims     int
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.requests++
	n, failFrom := e.requests, e.failFrom
	e.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+secretKey {
		http.Error(w, `{"error":{"message":"bad key"}}`, http.StatusUnauthorized)
		return
	}
	if failFrom > 0 && n >= failFrom {
		// A careless server echoes the key: it must not reach our errors.
		http.Error(w, `{"error":{"message":"overloaded, key `+secretKey+`"}}`, http.StatusBadRequest)
		return
	}
	var body struct {
		Input      []string `json:"input"`
		Dimensions int      `json:"dimensions"`
	}
	if r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	size := body.Dimensions
	if size == 0 {
		size = e.dims
	}
	var data []any
	for i, text := range body.Input {
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": vectorOf(text, size)})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "model": "e", "data": data, "usage": map[string]any{"prompt_tokens": 3, "total_tokens": 3}})
}

// fixture is a database with explanations carrying imported embeddings in
// four sources of two models, and an endpoint to embed queries.
type fixture struct {
	db  *store.DB
	ep  *endpoint
	srv *httptest.Server
	// vecs and where hold every stored embedding and its source.
	vecs  map[string][]float32
	where map[string]place
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: storetest.NewDB(t), ep: &endpoint{dims: dims}, vecs: map[string][]float32{}, where: map[string]place{}}
	f.srv = httptest.NewServer(f.ep)
	t.Cleanup(f.srv.Close)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.db.UpsertRelease(ctx, &features.Release{Name: "r1"}))
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range places {
		must(f.db.UpsertModel(ctx, &features.Model{ID: p.model}))
		ss := &features.SourceSet{ModelID: p.model, Name: p.set}
		if p.release != "" {
			ss.ReleaseName = &p.release
		}
		must(f.db.UpsertSourceSet(ctx, ss))
		must(f.db.UpsertSource(ctx, &features.Source{ModelID: p.model, ID: p.source, SetName: p.set}))
		var fs []*features.Feature
		for i := range perSource {
			id := fmt.Sprintf("x-%s-%s-%02d", p.model, p.source, i)
			v := make([]float32, dims)
			for j := range v {
				v[j] = float32(r.NormFloat64())
			}
			fs = append(fs, &features.Feature{ModelID: p.model, SourceID: p.source, Index: i,
				Explanations: []*features.Explanation{{ID: id, ModelID: p.model, SourceID: p.source, Index: i,
					Description: "label " + id, Embedding: v}}})
			f.vecs[id], f.where[id] = v, p
		}
		must(f.db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: p.model, SourceID: p.source, Features: fs}))
	}
	return f
}

func (f *fixture) service(t *testing.T, model string, size int) *semsearch.Service {
	t.Helper()
	e, err := llm.NewEmbedder(llm.Config{BaseURL: f.srv.URL + "/v1", APIKey: secretKey, Model: model, MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	e.Dimensions = size
	return &semsearch.Service{Store: f.db, Embedder: e, Model: model, Dims: size}
}

// bruteForce ranks the fixture's embeddings against query in float64 and
// returns the page q asks for and the total.
func (f *fixture) bruteForce(q features.ExplanationQuery, query []float32) ([]string, []float64, int) {
	type hit struct {
		id  string
		cos float64
	}
	var hits []hit
	for id, v := range f.vecs {
		p := f.where[id]
		if q.ModelID != "" && p.model != q.ModelID || q.ReleaseName != "" && p.release != q.ReleaseName ||
			len(q.SourceIDs) > 0 && !slices.Contains(q.SourceIDs, p.source) {
			continue
		}
		var dot, na, nb float64
		for i := range v {
			dot += float64(v[i]) * float64(query[i])
			na += float64(v[i]) * float64(v[i])
			nb += float64(query[i]) * float64(query[i])
		}
		hits = append(hits, hit{id, dot / math.Sqrt(na*nb)})
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.cos != b.cos {
			if a.cos > b.cos {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	total := len(hits)
	hits = hits[min(q.Offset, len(hits)):]
	hits = hits[:min(q.Limit, len(hits))]
	ids := make([]string, len(hits))
	coss := make([]float64, len(hits))
	for i, h := range hits {
		ids[i], coss[i] = h.id, h.cos
	}
	return ids, coss, total
}
