package store_test

import (
	"context"
	"testing"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

// TestDataVersionMovesOnWrites checks that every committed write changes
// the data version, and that a version read later is After the earlier one.
func TestDataVersionMovesOnWrites(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	prev, err := db.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writes := []func() error{
		func() error {
			return db.UpsertModel(ctx, &features.Model{ID: "vm", DisplayName: "v", Visibility: "PUBLIC"})
		},
		func() error {
			return db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: "vm", Name: "x", Visibility: "PUBLIC", URLs: []string{}})
		},
		func() error {
			return db.UpsertSource(ctx, &features.Source{ID: "0-x", ModelID: "vm", SetName: "x", Visibility: "PUBLIC", NumFeatures: 4})
		},
		func() error {
			return db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "vm", SourceID: "0-x",
				Features: []*features.Feature{{ModelID: "vm", SourceID: "0-x", Index: 1}}})
		},
		func() error {
			return db.CreateExplanation(ctx, &features.Explanation{ModelID: "vm", SourceID: "0-x", Index: 1, Description: "d",
				TypeName: "human", ExplanationModelName: "human", AuthorID: "t"})
		},
	}
	for i, w := range writes {
		if err := w(); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		v, err := db.DataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !v.After(prev) {
			t.Errorf("write %d: version %+v is not after %+v", i, v, prev)
		}
		prev = v
	}
}
