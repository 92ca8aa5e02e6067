package store_test

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/npexport"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

const fixtureSource = "../../testdata/neuronpedia-export/gemma-2-2b/20-gemmascope-res-131k"

var ctx = context.Background()

func loadMeta(t *testing.T, db *store.DB, m *npexport.Meta) {
	t.Helper()
	if m.Release != nil {
		if err := db.UpsertRelease(ctx, m.Release); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.UpsertModel(ctx, m.Model); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertSourceSet(ctx, m.SourceSet); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertSource(ctx, m.Source); err != nil {
		t.Fatal(err)
	}
}

func compareFeature(t *testing.T, want, got *features.Feature) {
	t.Helper()
	w := *want
	w.Activations = append([]*features.Activation(nil), want.Activations...)
	w.Explanations = append([]*features.Explanation(nil), want.Explanations...)
	storetest.OrderLike(&w, got)
	if len(w.Activations) != len(got.Activations) {
		t.Fatalf("%s: %d activations, want %d", want.Key(), len(got.Activations), len(w.Activations))
	}
	for i := range w.Activations {
		if !reflect.DeepEqual(w.Activations[i], got.Activations[i]) {
			t.Errorf("%s activation %d differs:\nwant %+v\ngot  %+v", want.Key(), i, w.Activations[i], got.Activations[i])
		}
	}
	if !reflect.DeepEqual(w.Explanations, got.Explanations) {
		t.Errorf("%s explanations differ:\nwant %+v\ngot  %+v", want.Key(), w.Explanations, got.Explanations)
	}
	w.Activations, w.Explanations = nil, nil
	g := *got
	g.Activations, g.Explanations = nil, nil
	if !reflect.DeepEqual(w, g) {
		t.Errorf("%s feature differs:\nwant %+v\ngot  %+v", want.Key(), w, g)
	}
}

func TestNeuronpediaFixtureRoundTrip(t *testing.T) {
	db := storetest.NewDB(t)
	meta, fs, err := npexport.LoadSource(fixtureSource)
	if err != nil {
		t.Fatal(err)
	}
	loadMeta(t, db, meta)
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "gemma-2-2b", SourceID: "20-gemmascope-res-131k", Features: fs,
		Checkpoint: &features.Checkpoint{Job: "test", Unit: "u", Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetFeature(ctx, fs[0].Key(), features.FeatureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	compareFeature(t, fs[0], got)

	m, err := db.GetModel(ctx, "gemma-2-2b")
	if err != nil || !reflect.DeepEqual(m, meta.Model) {
		t.Errorf("model: %v\n%+v\n%+v", err, m, meta.Model)
	}
	src, err := db.GetSource(ctx, "gemma-2-2b", "20-gemmascope-res-131k")
	if err != nil {
		t.Fatal(err)
	}
	src.NumFeatures = 0
	if !reflect.DeepEqual(src, meta.Source) {
		t.Errorf("source:\n%+v\n%+v", src, meta.Source)
	}
	sets, err := db.ListSourceSets(ctx, "gemma-2-2b")
	if err != nil || len(sets) != 1 || !reflect.DeepEqual(sets[0], meta.SourceSet) {
		t.Errorf("source sets: %v %+v", err, sets)
	}
	rel, err := db.GetRelease(ctx, meta.Release.Name)
	if err != nil || !reflect.DeepEqual(rel, meta.Release) {
		t.Errorf("release: %v\n%+v\n%+v", err, rel, meta.Release)
	}
	done, err := db.Done(ctx, features.Checkpoint{Job: "test", Unit: "u", Hash: "h"})
	if err != nil || !done {
		t.Errorf("checkpoint: %v %v", done, err)
	}
	if done, _ := db.Done(ctx, features.Checkpoint{Job: "test", Unit: "u", Hash: "other"}); done {
		t.Error("checkpoint with another hash reported done")
	}

	// MaxActivations keeps the top group first.
	few, err := db.GetFeature(ctx, fs[0].Key(), features.FeatureOptions{MaxActivations: 3, NoExplanations: true})
	if err != nil || len(few.Activations) != 3 || few.Explanations != nil || !few.Activations[0].InTopGroup() {
		t.Errorf("MaxActivations: %v %d", err, len(few.Activations))
	}
	if _, err := db.GetFeature(ctx, features.FeatureKey{ModelID: "gemma-2-2b", SourceID: "20-gemmascope-res-131k", Index: 1}, features.FeatureOptions{}); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("missing feature: %v", err)
	}
	if _, err := db.GetFeature(ctx, features.FeatureKey{ModelID: "nope", SourceID: "1-x", Index: 1}, features.FeatureOptions{}); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("missing source: %v", err)
	}
}

func writeDashboard(t *testing.T, db *store.DB, path string) *npexport.Dashboard {
	t.Helper()
	f, err := npexport.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := npexport.ParseDashboard(f, time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertModel(ctx, &features.Model{ID: d.ModelID}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: d.ModelID, Name: d.SetName}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertSource(ctx, &features.Source{ModelID: d.ModelID, ID: d.SourceID, SetName: d.SetName}); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: d.ModelID, SourceID: d.SourceID, Features: d.Features}); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSAEDashboardFixtures(t *testing.T) {
	db := storetest.NewDB(t)
	for _, p := range []string{"../../testdata/saedashboard/gpt2-small-0-res-jb/batch-0.json", "../../testdata/saedashboard/gemma-2-2b-feature-81408.json"} {
		d := writeDashboard(t, db, p)
		for _, want := range d.Features {
			got, err := db.GetFeature(ctx, want.Key(), features.FeatureOptions{})
			if err != nil {
				t.Fatal(err)
			}
			compareFeature(t, want, got)
		}
	}
}

// GetFeatures reads several sources in one call: it must return exactly
// what GetFeature returns for each key, in the order asked, skipping
// missing features and sources.
func TestGetFeaturesMatchesGetFeature(t *testing.T) {
	db := storetest.NewDB(t)
	gpt2 := writeDashboard(t, db, "../../testdata/saedashboard/gpt2-small-0-res-jb/batch-0.json")
	gemma := writeDashboard(t, db, "../../testdata/saedashboard/gemma-2-2b-feature-81408.json")
	g0, g1, gm := gpt2.Features[0].Key(), gpt2.Features[1].Key(), gemma.Features[0].Key()
	missing := g0
	missing.Index = 999999
	noSource := features.FeatureKey{ModelID: "gpt2-small", SourceID: "9-nothing", Index: 0}
	keys := []features.FeatureKey{g1, missing, gm, noSource, g0, g1}
	want := []features.FeatureKey{g1, gm, g0, g1}
	for _, opts := range []features.FeatureOptions{{}, {MaxActivations: 2}, {NoActivations: true}, {NoExplanations: true, MaxActivations: 1}} {
		got, err := db.GetFeatures(ctx, keys, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%+v: got %d features, want %d", opts, len(got), len(want))
		}
		for i, k := range want {
			one, err := db.GetFeature(ctx, k, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[i], one) {
				t.Errorf("%+v: feature %d (%s) differs from GetFeature", opts, i, k)
			}
			if opts.MaxActivations > 0 && len(got[i].Activations) > opts.MaxActivations {
				t.Errorf("%+v: %s has %d examples", opts, k, len(got[i].Activations))
			}
		}
	}
	if _, err := db.GetFeatures(ctx, []features.FeatureKey{{ModelID: "bad/id", SourceID: "x", Index: 0}}, features.FeatureOptions{}); features.ErrorCode(err) != features.EINVALID {
		t.Errorf("invalid key: %v", err)
	}
}

func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteIsIdempotentAndExact(t *testing.T) {
	db := storetest.NewDB(t)
	d := writeDashboard(t, db, "../../testdata/saedashboard/gpt2-small-0-res-jb/batch-0.json")
	// Odd tokens must round-trip byte for byte.
	f := d.Features[0]
	f.Activations[0].Tokens[0] = "nul\x00inside"
	f.Activations[0].Tokens[1] = "\xff\xfebroken utf-8"
	f.Activations[0].Tokens[2] = ""
	f.Activations[0].Values[3] = float32(math.Copysign(0, -1))
	f.PosStr[0] = "pos\x00"
	f.Explanations = []*features.Explanation{{ID: "e1", Description: "brigades and battalions", TypeName: "human",
		Scores:    []*features.ExplanationScore{{ID: "s1", Value: 0.75, ExplanationScoreTypeName: "recall_alt", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	b := &features.FeatureBatch{ModelID: d.ModelID, SourceID: d.SourceID, Features: d.Features}
	for i := 0; i < 2; i++ {
		if err := db.WriteFeatures(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, "activations"); n != len(d.Features[0].Activations)+len(d.Features[1].Activations) {
		t.Errorf("%d activation rows after writing twice", n)
	}
	if n := count(t, db, "explanations"); n != 1 {
		t.Errorf("%d explanations", n)
	}
	got, err := db.GetFeature(ctx, f.Key(), features.FeatureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Explanations {
		e.ModelID, e.SourceID, e.Index = f.ModelID, f.SourceID, f.Index
		e.Scores[0].ExplanationID = e.ID
	}
	compareFeature(t, f, got)
	if math.Signbit(float64(got.Activations[0].Values[3])) != true && got.Activations[0].ID == f.Activations[0].ID {
		t.Error("-0 lost")
	}

	// ReplaceExamples drops examples that are no longer in the batch.
	f.Activations = f.Activations[:5]
	f.Explanations = nil
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: d.ModelID, SourceID: d.SourceID, Features: []*features.Feature{f}, ReplaceExamples: true}); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetFeature(ctx, f.Key(), features.FeatureOptions{})
	if len(got.Activations) != 5 || len(got.Explanations) != 0 {
		t.Errorf("after replace: %d activations, %d explanations", len(got.Activations), len(got.Explanations))
	}

	// Bad input is refused whole.
	bad := *f
	bad.Activations = []*features.Activation{{ID: "x", Tokens: []string{"a"}, Values: []float32{1, 2}}}
	err = db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: d.ModelID, SourceID: d.SourceID, Features: []*features.Feature{&bad}})
	if features.ErrorCode(err) != features.EINVALID {
		t.Errorf("mismatched lengths: %v", err)
	}
	err = db.WriteActivations(ctx, []*features.Activation{{ID: "y", ModelID: d.ModelID, SourceID: d.SourceID, Index: 999, Tokens: []string{"a"}, Values: []float32{1}}})
	if features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("activation of a missing feature: %v", err)
	}
	err = db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: d.ModelID, SourceID: "9-nosuch", Features: d.Features})
	if features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("feature without source: %v", err)
	}
	err = db.WriteExplanations(ctx, []*features.Explanation{{ModelID: d.ModelID, SourceID: d.SourceID, Index: 12345, Description: "x"}}, nil)
	if features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("explanation of a missing feature: %v", err)
	}
	err = db.CreateExplanation(ctx, &features.Explanation{ModelID: d.ModelID, SourceID: d.SourceID, Index: 0, Description: "nul\x00"})
	if features.ErrorCode(err) != features.EINVALID {
		t.Errorf("NUL in description: %v", err)
	}
}

func TestBrowseSearchAndStats(t *testing.T) {
	db := storetest.NewDB(t)
	d := writeDashboard(t, db, "../../testdata/saedashboard/gpt2-small-0-res-jb/batch-0.json")
	// add a dead feature
	dead := &features.Feature{Index: 7}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: d.ModelID, SourceID: d.SourceID, Features: []*features.Feature{dead}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*features.Explanation{
		{ModelID: d.ModelID, SourceID: d.SourceID, Index: 0, Description: "military brigades and battalions", ScoreV1: 0.2},
		{ModelID: d.ModelID, SourceID: d.SourceID, Index: 0, Description: "army units", ScoreV1: 0.9},
		{ModelID: d.ModelID, SourceID: d.SourceID, Index: 1, Description: "the word brigade in news"},
	} {
		if err := db.CreateExplanation(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID == "" || e.CreatedAt.IsZero() {
			t.Error("CreateExplanation did not fill ID and CreatedAt")
		}
	}
	page, total, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: d.ModelID, SourceID: d.SourceID, Sort: features.SortByIndex})
	if err != nil || total != 3 || len(page) != 3 || page[0].Key.Index != 0 || page[2].Key.Index != 7 {
		t.Fatalf("list: %v %d %+v", err, total, page)
	}
	if page[0].Explanation != "army units" || len(page[0].TopTokens) != 5 || page[0].TopTokens[0] != " Brigade" {
		t.Errorf("summary: %+v", page[0])
	}
	page, total, _ = db.ListFeatures(ctx, features.FeatureFilter{ModelID: d.ModelID, SourceID: d.SourceID, Sort: features.SortByMaxAct, Desc: true, HideDead: true, Limit: 1})
	if total != 1 || len(page) != 1 || page[0].Key.Index != 0 { // feature 1 of the fixture never fires
		t.Errorf("hide dead: %d %d", total, len(page))
	}
	_, total, _ = db.ListFeatures(ctx, features.FeatureFilter{ModelID: d.ModelID, SourceID: d.SourceID, Query: "brigade"})
	if total != 2 {
		t.Errorf("query brigade: %d", total)
	}
	_, total, _ = db.ListFeatures(ctx, features.FeatureFilter{ModelID: d.ModelID, SourceID: d.SourceID, Query: "army -brigade"})
	if total != 1 {
		t.Errorf("query army -brigade: %d", total)
	}
	if _, _, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: d.ModelID, SourceID: d.SourceID, Sort: "bogus"}); features.ErrorCode(err) != features.EINVALID {
		t.Errorf("bad sort: %v", err)
	}
	sums, err := db.FeatureSummaries(ctx, d.ModelID, d.SourceID, []int{0, 1, 5, 7})
	if err != nil || len(sums) != 3 || sums[7].MaxActApprox != 0 || sums[1].Explanation != "the word brigade in news" {
		t.Errorf("summaries: %v %+v", err, sums)
	}
	hits, total, err := db.SearchExplanations(ctx, features.ExplanationQuery{Query: "brigades", ModelID: d.ModelID, SourceIDs: []string{d.SourceID}})
	if err != nil || total != 2 || len(hits) != 2 || hits[0].Rank <= 0 || hits[0].Explanation.SourceID != d.SourceID {
		t.Errorf("search: %v %d %+v", err, total, hits)
	}
	hits, total, _ = db.SearchExplanations(ctx, features.ExplanationQuery{Query: "brigades", Offset: 1, Limit: 1})
	if total != 2 || len(hits) != 1 {
		t.Errorf("search page 2: %d %d", total, len(hits))
	}
	if _, total, _ := db.SearchExplanations(ctx, features.ExplanationQuery{Query: "brigades", ModelID: "other"}); total != 0 {
		t.Errorf("model filter: %d", total)
	}
	if _, _, err := db.SearchExplanations(ctx, features.ExplanationQuery{Query: "  "}); features.ErrorCode(err) != features.EINVALID {
		t.Errorf("empty query: %v", err)
	}
	st, err := db.SourceStats(ctx, d.ModelID, d.SourceID)
	if err != nil || st.NumFeatures != 3 || st.NumDead != 2 || st.NumExplained != 2 || st.MedianDensity <= 0 {
		t.Errorf("stats: %v %+v", err, st)
	}
	srcs, err := db.ListSources(ctx, d.ModelID)
	if err != nil || len(srcs) != 1 || srcs[0].NumFeatures != 3 {
		t.Errorf("sources: %v %+v", err, srcs)
	}
	if err := db.SetBuildStatus(ctx, d.ModelID, d.SourceID, &features.BuildStatus{State: features.BuildRunning, FeaturesDone: 1, FeaturesTotal: 3}); err != nil {
		t.Fatal(err)
	}
	src, _ := db.GetSource(ctx, d.ModelID, d.SourceID)
	if src.Build == nil || src.Build.State != features.BuildRunning || src.Build.FeaturesDone != 1 {
		t.Errorf("build: %+v", src.Build)
	}
}

func TestCatalogErrors(t *testing.T) {
	db := storetest.NewDB(t)
	if err := db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: "nomodel", Name: "x"}); features.ErrorCode(err) != features.EINVALID {
		t.Errorf("source set without model: %v", err)
	}
	if err := db.UpsertModel(ctx, &features.Model{ID: "bad/id"}); features.ErrorCode(err) != features.EINVALID {
		t.Errorf("bad id: %v", err)
	}
	if _, err := db.GetModel(ctx, "nomodel"); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("missing model: %v", err)
	}
	if err := db.SetBuildStatus(ctx, "m", "s", &features.BuildStatus{}); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("build of missing source: %v", err)
	}
	models, err := db.ListModels(ctx)
	if err != nil || len(models) != 0 {
		t.Errorf("models: %v %v", models, err)
	}
}

func TestAPIKeys(t *testing.T) {
	db := storetest.NewDB(t)
	secret, k, err := db.CreateAPIKey(ctx, "notebook")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 40 || k.Prefix != secret[:len(k.Prefix)] {
		t.Errorf("secret %q prefix %q", secret, k.Prefix)
	}
	got, err := db.Authenticate(ctx, secret)
	if err != nil || got.ID != k.ID {
		t.Fatalf("authenticate: %v", err)
	}
	if _, err := db.Authenticate(ctx, secret+"x"); features.ErrorCode(err) != features.EUNAUTHORIZED {
		t.Errorf("wrong secret: %v", err)
	}
	var stored []byte
	db.Pool.QueryRow(ctx, `SELECT secret_hash FROM api_keys`).Scan(&stored)
	if len(stored) != 32 {
		t.Errorf("stored hash has %d bytes", len(stored))
	}
	if err := db.RevokeAPIKey(ctx, k.Prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(ctx, secret); features.ErrorCode(err) != features.EUNAUTHORIZED {
		t.Errorf("revoked: %v", err)
	}
	keys, _ := db.ListAPIKeys(ctx)
	if len(keys) != 1 || keys[0].RevokedAt == nil {
		t.Errorf("list: %+v", keys)
	}
	if err := db.RevokeAPIKey(ctx, "nosuch"); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("revoke missing: %v", err)
	}
}

func TestReadyAndUnavailable(t *testing.T) {
	db := storetest.NewDB(t)
	if err := db.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	cur, target, err := db.MigrationVersions(ctx)
	if err != nil || cur != target || target < 1 {
		t.Errorf("versions %d %d %v", cur, target, err)
	}
	// A server that is not there maps to EUNAVAILABLE.
	_, err = store.Open(ctx, "postgres://postgres@127.0.0.1:1/x?connect_timeout=2", nil)
	if features.ErrorCode(err) != features.EUNAVAILABLE {
		t.Errorf("unreachable server: %v", err)
	}
	db2 := storetest.NewDB(t)
	db2.Close()
	if err := db2.Ready(ctx); features.ErrorCode(err) != features.EUNAVAILABLE {
		t.Errorf("closed pool: %v", err)
	}
}
