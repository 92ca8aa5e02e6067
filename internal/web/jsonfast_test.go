package web

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/npexport"
)

// fixtureFeatures reads the project's real feature fixtures.
func fixtureFeatures(t testing.TB) []*features.Feature {
	t.Helper()
	root := filepath.Join("..", "..", "testdata")
	_, fs, err := npexport.LoadSource(filepath.Join(root, "neuronpedia-export", "gemma-2-2b", "20-gemmascope-res-131k"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := npexport.ReadFile(filepath.Join(root, "saedashboard", "gpt2-small-0-res-jb", "batch-0.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := npexport.ParseDashboard(f, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return append(fs, d.Features...)
}

// oddFeature exercises every field type of the examples.
func oddFeature() *features.Feature {
	one, tiny, big, neg := 1.0, 1e-9, 3e21, -0.5
	idx := 3
	s1, s2 := "<ds>&\"q\"", "line\u2028sep\u2029\x00\x1f\b\f\t\r\n\\"
	loc := time.FixedZone("x", 5*3600+1800)
	return &features.Feature{
		ModelID: "m", SourceID: "0-x", Index: 12, MaxActApprox: 2.5, FracNonzero: 1e-7,
		CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 123456789, loc),
		Activations: []*features.Activation{
			{ID: "a", ModelID: "m", SourceID: "0-x", Index: 12, Tokens: []string{"<b>", "bad\xff\xfe", "é世", "\u2028"},
				Values: []float32{0, 1e-7, 3.4e38, -1.5, 0.1}, MaxValue: 3.4e38, MaxValueTokenIndex: 2, MinValue: -1.5,
				BinMin: &neg, BinMax: &big, BinContains: &tiny, QualifyingTokenIndex: &idx,
				DFAValues: []float32{}, DFATargetIndex: &idx, DFAMaxValue: &one, LossValues: []float32{1e21},
				LogitContributions: &s1, DataIndex: &s2, DataSource: &s1, CreatorID: "c&c",
				CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)},
			{Index: 12},
		},
		Explanations: []*features.Explanation{{ID: "e", Description: "<script>", ScoreV1: 0.25}},
	}
}

func TestFeatureJSONMatchesEncodingJSON(t *testing.T) {
	fs := append(fixtureFeatures(t), oddFeature(), &features.Feature{ModelID: "m", SourceID: "0-x"})
	for _, f := range fs {
		want, err := json.Marshal(newAPIFeature(f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendFeatureJSON(nil, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("feature %s differs at byte %d:\n got ...%s\nwant ...%s", f.Key(), i, got[max(0, i-60):min(len(got), i+60)], want[max(0, i-60):min(len(want), i+60)])
		}
	}
	nan := oddFeature()
	nan.Activations[0].Values[0] = float32(math.NaN())
	if _, err := appendFeatureJSON(nil, nan, nil); err == nil {
		t.Error("NaN encoded")
	}
}

func FuzzActivationJSON(f *testing.F) {
	for _, ft := range fixtureFeatures(f) {
		for _, a := range ft.Activations[:min(3, len(ft.Activations))] {
			f.Add(a.Tokens[0], a.Tokens[len(a.Tokens)-1], float64(a.Values[a.MaxValueTokenIndex]), a.MaxValue)
		}
	}
	f.Add("<&>\u2028", "\xff", 1e-7, 1e21)
	f.Fuzz(func(t *testing.T, tok1, tok2 string, v32, v64 float64) {
		if math.IsNaN(v32) || math.IsInf(v32, 0) || math.IsNaN(v64) || math.IsInf(v64, 0) || math.IsInf(float64(float32(v32)), 0) {
			t.Skip()
		}
		a := &features.Activation{ID: tok1, SourceID: tok2, Tokens: []string{tok1, tok2}, Values: []float32{float32(v32), 0}, MaxValue: v64, BinMin: &v64}
		want, err := json.Marshal(newAPIActivation(a))
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendActivation(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
