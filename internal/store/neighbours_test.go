package store_test

import (
	"context"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

// TestNeighbourLabelsMatchSummaries checks that the labels read with a
// feature are the explanations FeatureSummaries gives its neighbours.
func TestNeighbourLabelsMatchSummaries(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	const m, src = "nm", "0-x"
	for _, err := range []error{
		db.UpsertModel(ctx, &features.Model{ID: m, DisplayName: m, Visibility: "PUBLIC"}),
		db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: m, Name: "x", Visibility: "PUBLIC", URLs: []string{}}),
		db.UpsertSource(ctx, &features.Source{ID: src, ModelID: m, SetName: "x", Visibility: "PUBLIC", NumFeatures: 8}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var fs []*features.Feature
	for i := range 8 {
		fs = append(fs, &features.Feature{ModelID: m, SourceID: src, Index: i})
	}
	fs[0].TopkCosSimIndices = []int{0, 3, 1, 5, 7, 6, 2}
	fs[0].TopkCosSimValues = []float64{1, .9, .8, .7, .6, .5, .4}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: m, SourceID: src, Features: fs}); err != nil {
		t.Fatal(err)
	}
	hi, lo := 0.9, 0.1
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []*features.Explanation{
		{Index: 3, Description: "three, worse", ScoreV2: &lo, CreatedAt: t0},
		{Index: 3, Description: "three, best", ScoreV2: &hi, CreatedAt: t0.Add(time.Hour)},
		{Index: 1, Description: "one, older", CreatedAt: t0},
		{Index: 1, Description: "one, newer", CreatedAt: t0.Add(time.Hour)},
		{Index: 7, Description: "seven"},
		{Index: 2, Description: "two: beyond the first five entries"},
	} {
		e.ModelID, e.SourceID, e.TypeName, e.ExplanationModelName, e.AuthorID = m, src, "t", "t", "t"
		if err := db.CreateExplanation(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	f, labels, err := db.GetFeatureWithNeighbours(ctx, features.FeatureKey{ModelID: m, SourceID: src, Index: 0}, features.FeatureOptions{}, 5)
	if err != nil || f.Index != 0 || len(f.TopkCosSimIndices) != 7 {
		t.Fatalf("GetFeatureWithNeighbours: %v %v", f, err)
	}
	sums, err := db.FeatureSummaries(ctx, m, src, []int{0, 3, 1, 5, 7})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for i, s := range sums {
		if s.Explanation != "" {
			want[i] = s.Explanation
		}
	}
	if len(labels) != len(want) || len(want) != 3 {
		t.Fatalf("labels %v, summaries' explanations %v", labels, want)
	}
	for i, d := range want {
		if labels[i] != d {
			t.Errorf("feature %d: label %q, summary %q", i, labels[i], d)
		}
	}
	if _, _, err := db.GetFeatureWithNeighbours(ctx, features.FeatureKey{ModelID: m, SourceID: src, Index: 99}, features.FeatureOptions{}, 5); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("missing feature: %v", err)
	}
}
