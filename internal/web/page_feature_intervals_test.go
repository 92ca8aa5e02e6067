package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"saex/internal/features"
	"saex/internal/web/webtest"
	"saex/templates"
)

// intervalFeature is a feature whose interval example has its qualifying
// token far from the context's max, as SAEDashboard draws them.
const intervalFeature = 58

func seedIntervalExample(t *testing.T, env *webtest.Env) {
	t.Helper()
	toks := make([]string, 60)
	vals := make([]float32, 60)
	for i := range toks {
		toks[i] = fmt.Sprintf(" w%d", i)
	}
	vals[2] = 9     // the context's max, far from the drawn token
	vals[50] = 1.25 // the drawn token, inside [1, 2)
	toks[50] = " drawn"
	top, mx := float64(features.TopBin), 10.0
	lo, hi, contains := 1.0, 2.0, 0.1
	q := 50
	f := &features.Feature{ModelID: webtest.TestModel, SourceID: webtest.TestSource, Index: intervalFeature,
		MaxActApprox: mx, FracNonzero: 0.01,
		Activations: []*features.Activation{
			{Tokens: []string{"a", " b"}, Values: []float32{10, 0}, MaxValue: 10, BinMin: &top, BinMax: &mx, BinContains: &top},
			{Tokens: toks, Values: vals, MaxValue: 9, MaxValueTokenIndex: 2, QualifyingTokenIndex: &q, BinMin: &lo, BinMax: &hi, BinContains: &contains},
		}}
	if err := env.DB.WriteFeatures(context.Background(), &features.FeatureBatch{ModelID: webtest.TestModel,
		SourceID: webtest.TestSource, Features: []*features.Feature{f}, ReplaceExamples: true}); err != nil {
		t.Fatal(err)
	}
}

// Defect 1 of issue 11: an interval row is centred on its qualifying token
// and labelled with that token's value, not the context's max.
func TestIntervalRowCentredOnQualifyingToken(t *testing.T) {
	env := webtest.New(t, nil)
	seedIntervalExample(t, env)
	for _, q := range []string{"", "?ctx=full"} {
		st, b := get(t, env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, intervalFeature)+q)
		wantStatus(t, "feature page"+q, st, 200, b)
		doc := parseHTML(t, b)
		var rows []string
		for _, r := range findAll(doc, byClass("act")) {
			rows = append(rows, text(r))
		}
		if len(rows) != 2 {
			t.Fatalf("%s: %d example rows, want 2: %q", q, len(rows), rows)
		}
		iv := rows[1]
		if !strings.HasPrefix(strings.TrimSpace(iv), "1.250") {
			t.Errorf("%s: interval row labelled %q, want the drawn token's value 1.250", q, iv)
		}
		if !strings.Contains(iv, " drawn") {
			t.Errorf("%s: interval row %q does not show its drawn token", q, iv)
		}
		if q == "" && strings.Contains(iv, " w2 ") {
			t.Errorf("window shows the max (position 2), 48 tokens from the drawn one: %q", iv)
		}
		bold := findAll(doc, byClass("q"))
		if len(bold) != 2 || text(bold[1]) != " drawn" {
			t.Errorf("%s: bold tokens %d, want the drawn token marked", q, len(bold))
		}
		if len(findAll(doc, byClass("interval-note"))) != 1 {
			t.Errorf("%s: the page does not say how intervals are sampled", q)
		}
	}
	// The API serves qualifyingTokenIndex as stored.
	st, b := get(t, env.URL+templates.FeatureJSONURL(webtest.TestModel, webtest.TestSource, intervalFeature))
	wantStatus(t, "feature JSON", st, 200, b)
	var got features.Feature
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range got.Activations {
		if !a.InTopGroup() {
			found = true
			if a.QualifyingTokenIndex == nil || *a.QualifyingTokenIndex != 50 || a.MaxValue != 9 {
				t.Errorf("interval example: qualifyingTokenIndex %v, maxValue %v; want 50 and 9", a.QualifyingTokenIndex, a.MaxValue)
			}
		}
	}
	if !found {
		t.Error("no interval example in the JSON")
	}
}
