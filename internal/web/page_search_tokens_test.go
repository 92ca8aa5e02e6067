package web_test

import (
	"context"
	"net/url"
	"testing"

	"saex/internal/features"
	"saex/internal/web/webtest"
	"saex/templates"
)

// Issue 11 defect 7: short and symbol queries find the token labels that
// quote them, exact token matches first; the source browser also finds
// features by a top token.
func TestSearchShortAndSymbolQueries(t *testing.T) {
	env := webtest.New(t, nil)
	ctx := context.Background()
	label := func(idx int, desc string) {
		t.Helper()
		if err := env.DB.CreateExplanation(ctx, &features.Explanation{ModelID: webtest.TestModel, SourceID: webtest.TestSource, Index: idx,
			Description: desc, TypeName: features.AutoLabelType, ExplanationModelName: "none", AuthorID: "saex-build"}); err != nil {
			t.Fatal(err)
		}
	}
	label(30, "peaks on “ errors” 3/4; promotes “ error”")
	label(31, "peaks on “ err” 3/4, “ if” 1/4; promotes “ !=”")
	label(32, "peaks on “ :=” 5/5")
	label(33, "peaks on “(” 4/5")
	search := func(q string) []string {
		t.Helper()
		st, b := get(t, env.URL+"/search?"+url.Values{"q": {q}, "model": {webtest.TestModel}}.Encode())
		wantStatus(t, "search "+q, st, 200, b)
		var out []string
		for _, a := range findAll(parseHTML(t, b), byClass("hit-link")) {
			out = append(out, attr(a, "href"))
		}
		return out
	}
	url := func(i int) string { return templates.FeatureURL(webtest.TestModel, webtest.TestSource, i) }
	if hits := search("err"); len(hits) < 2 || hits[0] != url(31) {
		t.Errorf("err: hits %v, want feature 31 (“ err”) first", hits)
	}
	for q, want := range map[string]int{"if": 31, ":=": 32, "(": 33} {
		if hits := search(q); len(hits) == 0 || hits[0] != url(want) {
			t.Errorf("%q: hits %v, want feature %d first", q, hits, want)
		}
	}
	// The source browser: by a label's token or by a top logit token.
	rows := func(q string) int {
		t.Helper()
		st, b := get(t, env.URL+templates.SourceURL(webtest.TestModel, webtest.TestSource)+"?"+url2(q))
		wantStatus(t, "browse "+q, st, 200, b)
		return len(findAll(parseHTML(t, b), byClass("feature-link")))
	}
	if n := rows(":="); n != 1 {
		t.Errorf("browser q=:= lists %d features, want 1", n)
	}
	if n := rows("always"); n != 25 {
		t.Errorf("browser q=always (a top logit token of every live feature) lists %d on page 1, want 25", n)
	}
}

func url2(q string) string { return url.Values{"q": {q}}.Encode() }
