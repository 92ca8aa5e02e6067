package store_test

import (
	"testing"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

// TestListFeaturesByScore pins the browser's sort by a scorer: each
// feature's best score of that scorer (over all its explanations), ties by
// index, features without one last in both directions, paged like the
// other sorts.
func TestListFeaturesByScore(t *testing.T) {
	db := storetest.NewDB(t)
	d := writeDashboard(t, db, "../../testdata/saedashboard/gpt2-small-0-res-jb/batch-0.json")
	var more []*features.Feature
	for i := 2; i <= 5; i++ {
		more = append(more, &features.Feature{Index: i, MaxActApprox: float64(i)})
	}
	more = append(more, &features.Feature{Index: 7}) // dead
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: d.ModelID, SourceID: d.SourceID, Features: more}); err != nil {
		t.Fatal(err)
	}
	const recall, fuzz = "eleuther_recall", "eleuther_fuzz"
	score := func(idx int, scores map[string]float64) {
		t.Helper()
		e := &features.Explanation{ModelID: d.ModelID, SourceID: d.SourceID, Index: idx, Description: "explained"}
		if err := db.CreateExplanation(ctx, e); err != nil {
			t.Fatal(err)
		}
		for typ, v := range scores {
			if err := db.AddExplanationScore(ctx, &features.ExplanationScore{ExplanationID: e.ID, Value: v, ExplanationScoreTypeName: typ}); err != nil {
				t.Fatal(err)
			}
		}
	}
	score(0, map[string]float64{recall: 0.4})
	score(0, map[string]float64{recall: 0.9}) // the best of feature 0's explanations counts
	score(1, map[string]float64{recall: 0.6, fuzz: 0.99})
	score(3, map[string]float64{fuzz: 0.1}) // no recall score: last
	score(4, map[string]float64{recall: 0.6})
	score(5, map[string]float64{recall: 0.2})
	// Feature 2 has no explanation, 7 is dead.

	list := func(sort features.FeatureSort, desc bool, offset, limit int) ([]int, []*features.FeatureSummary, int) {
		t.Helper()
		page, total, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: d.ModelID, SourceID: d.SourceID, Sort: sort, Desc: desc, Offset: offset, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		idx := storetest.Indices(page)
		return idx, page, total
	}
	same := func(what string, got, want []int) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: %v, want %v", what, got, want)
				return
			}
		}
	}
	got, page, total := list(features.SortByScore(recall), true, 0, 25)
	same("recall descending", got, []int{0, 1, 4, 5, 2, 3, 7})
	if total != 7 || page[0].Score == nil || *page[0].Score != 0.9 || page[4].Score != nil {
		t.Errorf("total %d, scores %v %v", total, page[0].Score, page[4].Score)
	}
	got, _, _ = list(features.SortByScore(recall), false, 0, 25)
	same("recall ascending", got, []int{5, 1, 4, 0, 2, 3, 7})
	got, _, _ = list(features.SortByScore(fuzz), true, 0, 25)
	same("fuzz descending", got, []int{1, 3, 0, 2, 4, 5, 7})
	// Pages are slices of the same order.
	got, _, total = list(features.SortByScore(recall), true, 2, 2)
	same("recall descending, page 2 of 2", got, []int{4, 5})
	if total != 7 {
		t.Errorf("paged total %d", total)
	}
	got, _, _ = list(features.SortByScore(recall), true, 4, 2)
	same("recall descending, page 3 of 2", got, []int{2, 3})
	// A scorer no explanation has sorts everything as unscored: by index.
	got, _, _ = list(features.SortByScore("eleuther_embedding"), true, 0, 25)
	same("no embedding scores", got, []int{0, 1, 2, 3, 4, 5, 7})
	// Other sorts carry no score.
	if _, page, _ := list(features.SortByIndex, false, 0, 1); page[0].Score != nil {
		t.Errorf("index sort has a score %v", *page[0].Score)
	}
	for _, bad := range []features.FeatureSort{"score:", "score:a\x00b", features.SortByScore(string(make([]byte, 200)))} {
		if _, _, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: d.ModelID, SourceID: d.SourceID, Sort: bad}); features.ErrorCode(err) != features.EINVALID {
			t.Errorf("sort %.20q: %v, want EINVALID", bad, err)
		}
	}
	types, err := db.SourceScoreTypes(ctx, d.ModelID, d.SourceID)
	if err != nil || len(types) != 2 || types[0] != fuzz || types[1] != recall {
		t.Errorf("score types %v %v", types, err)
	}
	if _, err := db.SourceScoreTypes(ctx, d.ModelID, "no-such-source"); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("score types of a missing source: %v", err)
	}
}
