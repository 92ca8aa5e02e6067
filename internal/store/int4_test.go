package store_test

import (
	"math"
	"testing"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

// TestNoSilentInt4Truncation: input-derived integers that do not fit the
// integer columns are refused as EINVALID before any row is written,
// never wrapped by int32() nor left to pgx (an internal error).
func TestNoSilentInt4Truncation(t *testing.T) {
	db := storetest.NewDB(t)
	storetest.NewSource(t, db, &features.Source{ModelID: "m", ID: "0-res", SetName: "res"})
	err := db.UpsertSource(ctx, &features.Source{ModelID: "m", ID: "99999999999-res", SetName: "res"})
	if features.ErrorCode(err) != features.EINVALID {
		t.Errorf("source with a layer beyond int32: %v", err)
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "m", SourceID: "0-res", Features: []*features.Feature{{Index: 0}}}); err != nil {
		t.Fatal(err)
	}
	huge := math.MaxInt32 + 1
	wrapsToZero := 1 << 32
	cases := map[string]func() error{
		"explanation index 2^32": func() error {
			return db.CreateExplanation(ctx, &features.Explanation{ModelID: "m", SourceID: "0-res", Index: wrapsToZero, Description: "x"})
		},
		"activation index 2^32": func() error {
			return db.WriteActivations(ctx, []*features.Activation{{ModelID: "m", SourceID: "0-res", Index: wrapsToZero, Tokens: []string{"a"}, Values: []float32{1}}})
		},
		"activation maxValueTokenIndex 2^31 without tokens": func() error {
			return db.WriteActivations(ctx, []*features.Activation{{ModelID: "m", SourceID: "0-res", Index: 0, MaxValueTokenIndex: huge}})
		},
		"activation qualifyingTokenIndex 2^31": func() error {
			return db.WriteActivations(ctx, []*features.Activation{{ModelID: "m", SourceID: "0-res", Index: 0, Tokens: []string{"a"}, Values: []float32{1}, QualifyingTokenIndex: &huge}})
		},
		"feature index 2^32": func() error {
			return db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "m", SourceID: "0-res", Features: []*features.Feature{{Index: wrapsToZero}}})
		},
		"feature umap_cluster 2^31": func() error {
			return db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "m", SourceID: "0-res", Features: []*features.Feature{{Index: 1, UmapCluster: &huge}}})
		},
		"read of index 2^31": func() error {
			_, err := db.GetFeature(ctx, features.FeatureKey{ModelID: "m", SourceID: "0-res", Index: huge}, features.FeatureOptions{})
			return err
		},
	}
	for name, f := range cases {
		if err := f(); features.ErrorCode(err) != features.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	var acts, exps, feats int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM activations), (SELECT count(*) FROM explanations), (SELECT count(*) FROM features)`).Scan(&acts, &exps, &feats); err != nil {
		t.Fatal(err)
	}
	if acts != 0 || exps != 0 || feats != 1 {
		t.Errorf("rows written: %d examples, %d explanations, %d features; want 0, 0, 1", acts, exps, feats)
	}
}
