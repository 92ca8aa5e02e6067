package store_test

import (
	"context"
	"reflect"
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

// TestFeatureRelationsMatchSeparateReads checks that the relations read in
// GetFeatureWithRelations' batch are what GetModel, ListSourceSets and
// ListsWithFeature return, for a feature in lists and one in none.
func TestFeatureRelationsMatchSeparateReads(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	const m, src = "rm", "0-x"
	for _, err := range []error{
		db.UpsertModel(ctx, &features.Model{ID: m, DisplayName: m, Visibility: "PUBLIC"}),
		db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: m, Name: "x", Visibility: "PUBLIC", URLs: []string{"u"}}),
		db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: m, Name: "a", Visibility: "PUBLIC"}),
		db.UpsertSource(ctx, &features.Source{ID: src, ModelID: m, SetName: "x", Visibility: "PUBLIC", NumFeatures: 3}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var fs []*features.Feature
	for i := range 3 {
		fs = append(fs, &features.Feature{ModelID: m, SourceID: src, Index: i})
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: m, SourceID: src, Features: fs}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		l := &features.List{Name: name, UserID: "key1"}
		if err := db.CreateList(ctx, l); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddListFeatures(ctx, l.ID, "key1", []*features.ListFeature{{ModelID: m, SourceID: src, Index: 1, Description: name}}); err != nil {
			t.Fatal(err)
		}
	}
	model, err := db.GetModel(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := db.ListSourceSets(ctx, m)
	if err != nil || len(sets) != 2 {
		t.Fatal(len(sets), err)
	}
	for i, wantLists := range []int{0, 2} {
		key := features.FeatureKey{ModelID: m, SourceID: src, Index: i}
		f, rel, err := db.GetFeatureWithRelations(ctx, key, features.FeatureOptions{})
		if err != nil || f.Index != i {
			t.Fatalf("GetFeatureWithRelations(%d): %v %v", i, f, err)
		}
		members, lists, err := db.ListsWithFeature(ctx, key)
		if err != nil || len(members) != wantLists {
			t.Fatalf("ListsWithFeature(%d): %d %v", i, len(members), err)
		}
		if !reflect.DeepEqual(rel.Model, model) || !reflect.DeepEqual(rel.SourceSets, sets) ||
			!reflect.DeepEqual(rel.Members, members) || !reflect.DeepEqual(rel.Lists, lists) {
			t.Errorf("feature %d: relations %+v, separate reads %+v %v %v %v", i, rel, model, sets, members, lists)
		}
	}
	if _, _, err := db.GetFeatureWithRelations(ctx, features.FeatureKey{ModelID: m, SourceID: src, Index: 9}, features.FeatureOptions{}); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("missing feature: %v", err)
	}
}
