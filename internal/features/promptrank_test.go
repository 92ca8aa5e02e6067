package features

import (
	"reflect"
	"testing"
)

// samplePrompt is 4 tokens (BOS first) through two sources.
func samplePrompt() *PromptResult {
	return &PromptResult{
		ModelID: "m", Tokens: []string{"<bos>", "a", "b", "c"}, TokenIDs: []int{0, 1, 2, 3}, HasBOS: true,
		Sources: []SourceActivations{
			{SourceID: "1-x", Rows: []SparseRow{
				{Indices: []int32{9, 1}, Values: []float32{100, 50}}, // BOS outliers
				{Indices: []int32{1, 2}, Values: []float32{3, 1}},
				{Indices: []int32{2, 1}, Values: []float32{4, 2}},
				{Indices: []int32{3}, Values: []float32{0.5}},
			}},
			{SourceID: "2-x", Rows: []SparseRow{
				{},
				{Indices: []int32{1}, Values: []float32{4}},
				{},
				{Indices: []int32{7, 1}, Values: []float32{1, 1}},
			}},
		},
	}
}

func TestRankFeaturesByMax(t *testing.T) {
	r := samplePrompt()
	got := RankFeatures(r, RankOptions{IgnoreBOS: true})
	want := []RankedFeature{
		{SourceID: "1-x", Index: 2, Score: 4, MaxValue: 4, MaxValueIndex: 2},
		{SourceID: "2-x", Index: 1, Score: 4, MaxValue: 4, MaxValueIndex: 1},
		{SourceID: "1-x", Index: 1, Score: 3, MaxValue: 3, MaxValueIndex: 1},
		{SourceID: "2-x", Index: 7, Score: 1, MaxValue: 1, MaxValueIndex: 3},
		{SourceID: "1-x", Index: 3, Score: 0.5, MaxValue: 0.5, MaxValueIndex: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ranked by max ignoring BOS:\n got %+v\nwant %+v", got, want)
	}
	withBOS := RankFeatures(r, RankOptions{})
	if withBOS[0].Index != 9 || withBOS[0].MaxValueIndex != 0 || withBOS[1].Index != 1 || withBOS[1].Score != 50 {
		t.Fatalf("with BOS: %+v", withBOS[:2])
	}
}

func TestRankFeaturesBySum(t *testing.T) {
	r := samplePrompt()
	got := RankFeatures(r, RankOptions{IgnoreBOS: true, SortIndexes: []int{1, 3, 99}})
	want := []RankedFeature{
		{SourceID: "2-x", Index: 1, Score: 5, MaxValue: 4, MaxValueIndex: 1},
		{SourceID: "1-x", Index: 1, Score: 3, MaxValue: 3, MaxValueIndex: 1},
		{SourceID: "1-x", Index: 2, Score: 1, MaxValue: 4, MaxValueIndex: 2},
		{SourceID: "2-x", Index: 7, Score: 1, MaxValue: 1, MaxValueIndex: 3},
		{SourceID: "1-x", Index: 3, Score: 0.5, MaxValue: 0.5, MaxValueIndex: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ranked by sum:\n got %+v\nwant %+v", got, want)
	}
	// Only features active at the chosen positions are returned.
	if got := RankFeatures(r, RankOptions{IgnoreBOS: true, SortIndexes: []int{2}}); len(got) != 2 {
		t.Fatalf("sum at position 2: %+v", got)
	}
}

func TestFeatureValuesAndTopAtToken(t *testing.T) {
	r := samplePrompt()
	if got := r.FeatureValues("1-x", 1, true); !reflect.DeepEqual(got, []float32{0, 3, 2, 0}) {
		t.Errorf("values ignoring BOS: %v", got)
	}
	if got := r.FeatureValues("1-x", 1, false); got[0] != 50 {
		t.Errorf("values with BOS: %v", got)
	}
	if got := r.FeatureValues("nope", 1, false); len(got) != 4 {
		t.Errorf("unknown source: %v", got)
	}
	top := r.TopAtToken("1-x", 2, 1, nil)
	if !reflect.DeepEqual(top, []TokenFeature{{Index: 2, Value: 4}}) {
		t.Errorf("top at 2: %v", top)
	}
	keep := func(i int) bool { return i != 2 }
	if top := r.TopAtToken("1-x", 2, 5, keep); !reflect.DeepEqual(top, []TokenFeature{{Index: 1, Value: 2}}) {
		t.Errorf("top at 2 without feature 2: %v", top)
	}
	if top := r.TopAtToken("1-x", 9, 5, nil); top != nil {
		t.Errorf("position out of range: %v", top)
	}
	af := r.ActiveFeatures("2-x")
	if !reflect.DeepEqual(af[1], [][2]float64{{1, 4}, {3, 1}}) || len(af) != 2 {
		t.Errorf("active features: %v", af)
	}
}

func TestDensityThreshold(t *testing.T) {
	for _, c := range []struct {
		threshold, density float64
		active, tooDense   bool
	}{
		{-1, 0.9, false, false},
		{0, 0.9, false, false},
		{1, 0.9, false, false},
		{0.01, 0.02, true, true},
		{0.01, 0.01, true, false},
	} {
		if DensityFilterActive(c.threshold) != c.active || TooDense(c.density, c.threshold) != c.tooDense {
			t.Errorf("threshold %g density %g", c.threshold, c.density)
		}
	}
}
