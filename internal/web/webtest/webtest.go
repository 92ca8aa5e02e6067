// Package webtest runs saex's web server in tests over a real, freshly
// migrated PostgreSQL database (storetest) seeded with the project's
// fixtures: the Neuronpedia export of a Gemma feature, the SAEDashboard
// batch of GPT-2 small features and a synthetic source whose tokens are
// hostile (markup, quotes, NUL, invalid UTF-8) and whose explanations are
// known, so tests can search for them.
package webtest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/inference"
	"saex/internal/npexport"
	"saex/internal/store"
	"saex/internal/store/storetest"
	"saex/internal/testenv"
	"saex/internal/web"
)

// Seeded identities.
const (
	GemmaModel  = "gemma-2-2b"
	GemmaSource = "20-gemmascope-res-131k"
	GemmaIndex  = 81408

	GPT2Model  = "gpt2-small"
	GPT2Source = "0-res-jb"

	TestModel    = "webtest-model"
	TestSource   = "0-res-webtest"
	TestFeatures = 60 // synthetic features 0..59; 59 is dead
	// HostileIndex is the synthetic feature whose example has hostile tokens.
	HostileIndex = 7
	// SeededExplanation is the explanation of synthetic feature SeededIndex.
	SeededExplanation = "mentions of stegosaurus fossils"
	SeededIndex       = 12
)

// HostileTokens are the tokens of the hostile example, in order.
var HostileTokens = []string{"<script>alert(1)</script>", `"quoted" & 'single'`, "nul\x00byte", "bad\xff\xfeutf8", "line\nbreak", " tab\there", "</span><b>bold</b>"}

// Env is a running test server.
type Env struct {
	DB     *store.DB
	Server *web.Server
	HTTP   *httptest.Server
	URL    string
}

// New starts a server over a fresh seeded database. configure, when not
// nil, adjusts the server (e.g. sets Inference) before its handler is built.
func New(tb testing.TB, configure func(*web.Server)) *Env {
	tb.Helper()
	db := storetest.NewDB(tb)
	Seed(tb, db)
	return NewOver(tb, db, configure)
}

// NewOver starts a server over db, which the caller has seeded (and may
// have wrapped in configure, e.g. with a semantic explanation search).
func NewOver(tb testing.TB, db *store.DB, configure func(*web.Server)) *Env {
	tb.Helper()
	srv := web.NewServer()
	srv.Catalog, srv.Features, srv.Explanations = db, db, db
	srv.Writer, srv.APIKeys, srv.Ready = db, db, db
	srv.Registry, srv.Lists, srv.Vectors = db, db, db
	srv.Versions = db // as serve: pages and feature JSON through the response cache
	srv.Scheduler = inference.NewScheduler(0, 0)
	if configure != nil {
		configure(srv)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return &Env{DB: db, Server: srv, HTTP: ts, URL: ts.URL}
}

// Seed loads the fixtures and the synthetic source into db.
func Seed(tb testing.TB, db *store.DB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := testenv.RepoRoot(tb)
	if err := seedExport(ctx, db, filepath.Join(root, "testdata/neuronpedia-export", GemmaModel, GemmaSource)); err != nil {
		tb.Fatalf("webtest: seed Neuronpedia export: %v", err)
	}
	if err := seedDashboard(ctx, db, filepath.Join(root, "testdata/saedashboard/gpt2-small-0-res-jb/batch-0.json")); err != nil {
		tb.Fatalf("webtest: seed SAEDashboard batch: %v", err)
	}
	if err := SeedSynthetic(ctx, db, TestModel, TestSource); err != nil {
		tb.Fatalf("webtest: seed synthetic source: %v", err)
	}
}

// seedExport writes one Neuronpedia export source folder.
func seedExport(ctx context.Context, db *store.DB, dir string) error {
	meta, fs, err := npexport.LoadSource(dir)
	if err != nil {
		return err
	}
	if meta.Release != nil {
		if err := db.UpsertRelease(ctx, meta.Release); err != nil {
			return err
		}
	}
	if err := db.UpsertModel(ctx, meta.Model); err != nil {
		return err
	}
	if err := db.UpsertSourceSet(ctx, meta.SourceSet); err != nil {
		return err
	}
	if err := db.UpsertSource(ctx, meta.Source); err != nil {
		return err
	}
	return db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: meta.Model.ID, SourceID: meta.Source.ID, Features: fs, ReplaceExamples: true})
}

// seedDashboard writes one SAEDashboard batch under a minimal catalog.
func seedDashboard(ctx context.Context, db *store.DB, path string) error {
	f, err := npexport.ReadFile(path)
	if err != nil {
		return err
	}
	d, err := npexport.ParseDashboard(f, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return err
	}
	if err := ensureCatalog(ctx, db, d.ModelID, d.SourceID, 12, 768, 24576); err != nil {
		return err
	}
	return db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: d.ModelID, SourceID: d.SourceID, Features: d.Features, ReplaceExamples: true})
}

// ensureCatalog creates a model, the source's set and the source.
func ensureCatalog(ctx context.Context, db *store.DB, modelID, sourceID string, layers, dim, width int) error {
	_, set := features.SourceLayer(sourceID)
	if err := db.UpsertModel(ctx, &features.Model{
		ID: modelID, DisplayName: modelID, DisplayNameShort: modelID, CreatorID: "webtest",
		Dimension: dim, Layers: layers, Visibility: "PUBLIC", Owner: "webtest",
	}); err != nil {
		return err
	}
	if err := db.UpsertSourceSet(ctx, &features.SourceSet{
		ModelID: modelID, Name: set, Description: "test set", Type: "sae", CreatorName: "webtest",
		CreatorID: "webtest", HasDashboards: true, Visibility: "PUBLIC", URLs: []string{},
	}); err != nil {
		return err
	}
	return db.UpsertSource(ctx, &features.Source{
		ID: sourceID, ModelID: modelID, SetName: set, CreatorID: "webtest", HasDashboards: true,
		Visibility: "PUBLIC", NumFeatures: width,
	})
}

// SeedSynthetic writes TestFeatures synthetic features under modelID /
// sourceID: feature i has max activation i+1 (59 is dead), density i/1000,
// histograms, logits, cosine neighbours and two examples; feature
// HostileIndex's top example holds HostileTokens; feature SeededIndex has
// the explanation SeededExplanation and every other live feature one
// explanation "synthetic feature N".
func SeedSynthetic(ctx context.Context, db *store.DB, modelID, sourceID string) error {
	if err := ensureCatalog(ctx, db, modelID, sourceID, 4, 64, TestFeatures); err != nil {
		return err
	}
	created := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	var fs []*features.Feature
	for i := range TestFeatures {
		dead := i == TestFeatures-1
		maxAct := float64(i + 1)
		if dead {
			maxAct = 0
		}
		f := &features.Feature{
			ModelID: modelID, SourceID: sourceID, Index: i, CreatedAt: created,
			MaxActApprox: maxAct, FracNonzero: float64(i) / 1000,
			TopkCosSimIndices: []int{i, (i + 1) % TestFeatures, (i + 2) % TestFeatures},
			TopkCosSimValues:  []float64{1, 0.5, 0.25},
			NegStr:            []string{" no", " never", "<neg>"},
			NegValues:         []float64{-0.9, -0.5, -0.1},
			PosStr:            []string{" yes", " always", "<pos>"},
			PosValues:         []float64{0.9, 0.5, 0.1},
			FreqHistHeights:   []float64{5, 3, 1, 0, 1},
			FreqHistValues:    []float64{0.1 * maxAct, 0.3 * maxAct, 0.5 * maxAct, 0.7 * maxAct, 0.9 * maxAct},
			LogitsHistHeights: []float64{1, 4, 9, 4, 1},
			LogitsHistValues:  []float64{-1, -0.5, 0, 0.5, 1},
		}
		if !dead {
			toks := []string{"The", " quick", " brown", " fox", " jumps", "\n", " over", " the", " lazy", " dog"}
			vals := []float32{0, 0.1, 0, float32(maxAct), 0.5, 0, 0, 0, 0.2, 0}
			if i == HostileIndex {
				toks = HostileTokens
				vals = []float32{float32(maxAct), 0.5, 0.25, 0.1, 0, 0.3, 0.6}
			}
			top := float64(features.TopBin)
			lo, hi, contains := 0.0, maxAct/2, 0.25
			f.Activations = []*features.Activation{
				{Tokens: toks, Values: vals, MaxValue: maxAct, MaxValueTokenIndex: maxIndex(vals), BinMin: &top, BinMax: &maxAct, BinContains: &top, CreatedAt: created},
				{Tokens: []string{"A", " second", " example"}, Values: []float32{0, float32(hi), 0}, MaxValue: hi, MaxValueTokenIndex: 1, BinMin: &lo, BinMax: &hi, BinContains: &contains, CreatedAt: created},
			}
			desc := fmt.Sprintf("synthetic feature %d", i)
			if i == SeededIndex {
				desc = SeededExplanation
			}
			f.Explanations = []*features.Explanation{{
				Description: desc, TypeName: "oai_token-act-pair", ExplanationModelName: "gpt-4o-mini",
				AuthorID: "webtest", ScoreV1: 0.5, CreatedAt: created, Scores: []*features.ExplanationScore{},
			}}
		}
		fs = append(fs, f)
	}
	return db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: modelID, SourceID: sourceID, Features: fs, ReplaceExamples: true})
}

func maxIndex(vals []float32) int {
	best := 0
	for i, v := range vals {
		if v > vals[best] {
			best = i
		}
	}
	return best
}
