package store_test

import (
	"slices"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/npexport"
	"saex/internal/store/storetest"
)

// TestFeatureExplanationOrder pins the order GetFeature returns a feature's
// explanations in: best scoreV2 first (none last), then scoreV1 descending,
// then oldest first, then id. Round-trip tests match explanations by id and
// leave the order to this test.
func TestFeatureExplanationOrder(t *testing.T) {
	db := storetest.NewDB(t)
	meta, fs, err := npexport.LoadSource(fixtureSource)
	if err != nil {
		t.Fatal(err)
	}
	loadMeta(t, db, meta)
	f := fs[0]
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(id string, v2 *float64, v1 float64, at time.Duration) *features.Explanation {
		return &features.Explanation{ID: id, ModelID: f.ModelID, SourceID: f.SourceID, Index: f.Index,
			Description: "d " + id, TypeName: "t", AuthorID: "a", ScoreV1: v1, ScoreV2: v2, CreatedAt: t0.Add(at)}
	}
	lo, hi := 0.2, 0.9
	f.Explanations = []*features.Explanation{
		mk("none-b", nil, 5, 0), mk("lo", &lo, 0, 0), mk("none-a", nil, 5, 0),
		mk("none-old", nil, 5, -time.Hour), mk("hi", &hi, 0, 0), mk("none-best-v1", nil, 9, 0),
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: f.ModelID, SourceID: f.SourceID, Features: fs[:1],
		Checkpoint: &features.Checkpoint{Job: "test", Unit: "u", Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetFeature(ctx, f.Key(), features.FeatureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got.Explanations {
		ids = append(ids, e.ID)
	}
	want := []string{"hi", "lo", "none-best-v1", "none-old", "none-a", "none-b"}
	if !slices.Equal(ids, want) {
		t.Errorf("explanation order %v, want %v", ids, want)
	}
}
