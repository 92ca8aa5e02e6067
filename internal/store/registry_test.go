package store_test

import (
	"strings"
	"testing"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

// wantCode fails unless err carries the domain error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := features.ErrorCode(err); err == nil || got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func TestCreateModelAndSourceSet(t *testing.T) {
	db := storetest.NewDB(t)
	m := &features.Model{ID: "pup-model-3", DisplayName: "Pup", Layers: 3, Visibility: "UNLISTED", CreatorID: "key1"}
	if err := db.CreateModel(ctx, m); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "second model", db.CreateModel(ctx, &features.Model{ID: "pup-model-3", Layers: 1}), features.ECONFLICT)
	if got, err := db.GetModel(ctx, "pup-model-3"); err != nil || got.DisplayName != "Pup" || got.Layers != 3 {
		t.Fatalf("model after a refused duplicate: %+v, %v", got, err)
	}
	set := &features.SourceSet{ModelID: "pup-model-3", Name: "puppyscope-res-16k", Description: "d", CreatorID: "key1", URLs: []string{"https://x"}}
	srcs, err := db.CreateSourceSet(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 3 || srcs[0].ID != "0-puppyscope-res-16k" || srcs[2].ID != "2-puppyscope-res-16k" {
		t.Fatalf("sources %+v", srcs)
	}
	got, gotSrcs, err := db.GetSourceSet(ctx, "pup-model-3", "puppyscope-res-16k")
	if err != nil || got.Description != "d" || len(gotSrcs) != 3 {
		t.Fatalf("GetSourceSet: %+v %d %v", got, len(gotSrcs), err)
	}
	_, err = db.CreateSourceSet(ctx, &features.SourceSet{ModelID: "pup-model-3", Name: "puppyscope-res-16k"})
	wantCode(t, "duplicate set", err, features.ECONFLICT)
	_, err = db.CreateSourceSet(ctx, &features.SourceSet{ModelID: "nope", Name: "x"})
	wantCode(t, "unknown model", err, features.ENOTFOUND)
	_, _, err = db.GetSourceSet(ctx, "pup-model-3", "nope")
	wantCode(t, "unknown set", err, features.ENOTFOUND)
	// A set whose sources cannot all be made leaves nothing behind.
	long := strings.Repeat("x", 127) // valid, but "0-" + it is not
	_, err = db.CreateSourceSet(ctx, &features.SourceSet{ModelID: "pup-model-3", Name: long})
	wantCode(t, "source id too long", err, features.EINVALID)
	if sets, _ := db.ListSourceSets(ctx, "pup-model-3"); len(sets) != 1 {
		t.Errorf("%d source sets after a failed create, want 1", len(sets))
	}
}

func TestListsAndVectors(t *testing.T) {
	db := storetest.NewDB(t)
	m := &features.Model{ID: "lm", Layers: 2, Dimension: 3}
	if err := db.CreateModel(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateSourceSet(ctx, &features.SourceSet{ModelID: "lm", Name: "res"}); err != nil {
		t.Fatal(err)
	}
	var fs []*features.Feature
	for i := range 3 {
		fs = append(fs, &features.Feature{Index: i, MaxActApprox: 1})
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "lm", SourceID: "0-res", Features: fs}); err != nil {
		t.Fatal(err)
	}
	l := &features.List{Name: "mine", Description: "d", UserID: "key1"}
	if err := db.CreateList(ctx, l); err != nil || l.ID == "" {
		t.Fatal(l.ID, err)
	}
	member := func(i int) *features.ListFeature {
		return &features.ListFeature{ModelID: "lm", SourceID: "0-res", Index: i, Description: "why"}
	}
	added, err := db.AddListFeatures(ctx, l.ID, "key1", []*features.ListFeature{member(2), member(0)})
	if err != nil || len(added) != 2 {
		t.Fatalf("add: %d %v", len(added), err)
	}
	// Again: nothing new. With a missing feature: nothing at all.
	if added, err := db.AddListFeatures(ctx, l.ID, "key1", []*features.ListFeature{member(2)}); err != nil || len(added) != 0 {
		t.Fatalf("re-add: %d %v", len(added), err)
	}
	_, err = db.AddListFeatures(ctx, l.ID, "key1", []*features.ListFeature{member(1), member(9)})
	wantCode(t, "missing feature", err, features.ENOTFOUND)
	_, err = db.AddListFeatures(ctx, l.ID, "key2", []*features.ListFeature{member(1)})
	wantCode(t, "other key", err, features.EFORBIDDEN)
	_, err = db.AddListFeatures(ctx, "nolist", "key1", []*features.ListFeature{member(1)})
	wantCode(t, "missing list", err, features.ENOTFOUND)
	_, members, err := db.GetList(ctx, l.ID)
	if err != nil || len(members) != 2 || members[0].Index != 2 || members[1].Index != 0 {
		t.Fatalf("members %+v %v (want 2 then 0, nothing of the failed adds)", members, err)
	}
	ms, ls, err := db.ListsWithFeature(ctx, features.FeatureKey{ModelID: "lm", SourceID: "0-res", Index: 2})
	if err != nil || len(ms) != 1 || ls[0].Name != "mine" || ms[0].Description != "why" {
		t.Fatalf("ListsWithFeature: %+v %+v %v", ms, ls, err)
	}
	wantCode(t, "remove by other key", db.RemoveListFeature(ctx, l.ID, "key2", member(2).Key()), features.EFORBIDDEN)
	if err := db.RemoveListFeature(ctx, l.ID, "key1", member(2).Key()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "remove twice", db.RemoveListFeature(ctx, l.ID, "key1", member(2).Key()), features.ENOTFOUND)
	if owned, err := db.ListsOwned(ctx, "key1"); err != nil || len(owned) != 1 {
		t.Fatalf("owned %v %v", owned, err)
	}
	if owned, _ := db.ListsOwned(ctx, "key2"); len(owned) != 0 {
		t.Fatalf("key2 owns %d lists", len(owned))
	}

	// Vectors.
	v, err := db.CreateVector(ctx, &features.NewVector{ModelID: "lm", Layer: 1, HookType: "hook_resid_pre", Values: []float64{1, 2, 3},
		Label: "happy", DefaultSteerStrength: 12, Owner: "key1"})
	if err != nil {
		t.Fatal(err)
	}
	if v.SourceID != "1-neuronpedia-resid-pre" || v.Index != 0 || *v.HookName != "blocks.1.hook_resid_pre" {
		t.Fatalf("vector %+v", v)
	}
	v2, err := db.CreateVector(ctx, &features.NewVector{ModelID: "lm", Layer: 1, HookType: "hook_resid_pre", Values: []float64{0, 0, 1}, Label: "b", Owner: "key2"})
	if err != nil || v2.Index != 1 {
		t.Fatalf("second vector: %+v %v", v2, err)
	}
	got, err := db.GetFeature(ctx, v.Key(), features.FeatureOptions{})
	if err != nil || !got.HasVector || len(got.Vector) != 3 || *got.VectorLabel != "happy" || *got.VectorDefaultSteerStrength != 12 {
		t.Fatalf("vector as a feature: %+v %v", got, err)
	}
	if owned, err := db.VectorsOwned(ctx, "key1"); err != nil || len(owned) != 1 || owned[0].Vector[1] != 2 {
		t.Fatalf("owned vectors %+v %v", owned, err)
	}
	_, err = db.CreateVector(ctx, &features.NewVector{ModelID: "nope", Layer: 0, HookType: "hook_resid_pre", Values: []float64{1}})
	wantCode(t, "vector of unknown model", err, features.ENOTFOUND)
	wantCode(t, "delete by other key", db.DeleteVector(ctx, v.Key(), "key2"), features.EFORBIDDEN)
	wantCode(t, "delete a plain feature", db.DeleteVector(ctx, member(0).Key(), "key1"), features.ENOTFOUND)
	if err := db.DeleteVector(ctx, v.Key(), "key1"); err != nil {
		t.Fatal(err)
	}
	_, err = db.GetFeature(ctx, v.Key(), features.FeatureOptions{})
	wantCode(t, "deleted vector", err, features.ENOTFOUND)
}
