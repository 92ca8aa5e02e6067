package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"saex/internal/features"
	"saex/internal/web/webtest"
	"saex/templates"
)

// Issue 11 defect 4: every page of a source being built says so, with the
// step and its progress, and polls a fragment that reloads the page once
// the build is done.
func TestBuildStateOnEveryPage(t *testing.T) {
	env := webtest.New(t, nil)
	ctx := context.Background()
	set := func(model, source string, st *features.BuildStatus) {
		t.Helper()
		if err := env.DB.SetBuildStatus(ctx, model, source, st); err != nil {
			t.Fatal(err)
		}
	}
	set(webtest.TestModel, webtest.TestSource, &features.BuildStatus{State: features.BuildRunning, Phase: features.BuildPhaseEncode,
		ContextsDone: 1234, ContextsTotal: 5000, FeaturesTotal: 60})
	src := templates.SourceURL(webtest.TestModel, webtest.TestSource)
	poll := src + "/build-state"
	for _, page := range []string{"/", "/" + webtest.TestModel, src, templates.FeatureURL(webtest.TestModel, webtest.TestSource, 5)} {
		st, b := get(t, env.URL+page)
		wantStatus(t, page, st, 200, b)
		banners := findAll(parseHTML(t, b), byClass("build-banner"))
		if len(banners) != 1 || attr(banners[0], "hx-get") != poll || !strings.Contains(attr(banners[0], "hx-trigger"), "every") {
			t.Errorf("%s: %d build banners polling %q", page, len(banners), poll)
			continue
		}
		if txt := text(banners[0]); !strings.Contains(txt, "1,234 / 5,000 contexts (24%)") || !strings.Contains(txt, "Step 2 of 4") {
			t.Errorf("%s: banner %q lacks the step and its progress", page, txt)
		}
	}

	// A feature without a dashboard yet, in a source being written: a 404
	// that says why and polls too.
	set(webtest.GPT2Model, webtest.GPT2Source, &features.BuildStatus{State: features.BuildRunning, Phase: features.BuildPhaseWrite,
		FeaturesDone: 256, FeaturesTotal: 24576})
	st, b := get(t, env.URL+templates.FeatureURL(webtest.GPT2Model, webtest.GPT2Source, 24000))
	wantStatus(t, "feature being built", st, 404, b)
	doc := parseHTML(t, b)
	if bs := findAll(doc, byClass("build-banner")); len(bs) != 1 || !strings.Contains(text(bs[0]), "256 / 24,576 features") {
		t.Errorf("missing feature of a source being built: %d banners", len(bs))
	}
	if !strings.Contains(text(doc), "being built") {
		t.Errorf("404 does not say the source is being built: %q", text(doc))
	}

	// The fragment: the banner while the build runs, HX-Refresh once done.
	st, h, b := do(t, http.MethodGet, env.URL+poll, nil, map[string]string{"HX-Request": "true"})
	wantStatus(t, "build-state", st, 200, b)
	if h.Get("HX-Refresh") != "" || len(findAll(parseHTML(t, b), byClass("build-banner"))) != 1 {
		t.Errorf("running build-state: HX-Refresh %q, body %s", h.Get("HX-Refresh"), b)
	}
	set(webtest.TestModel, webtest.TestSource, &features.BuildStatus{State: features.BuildDone, FeaturesDone: 60, FeaturesTotal: 60})
	st, h, b = do(t, http.MethodGet, env.URL+poll, nil, map[string]string{"HX-Request": "true"})
	wantStatus(t, "build-state done", st, 200, b)
	if h.Get("HX-Refresh") != "true" {
		t.Errorf("finished build-state: HX-Refresh %q", h.Get("HX-Refresh"))
	}
	st, b = get(t, env.URL+src)
	wantStatus(t, "source after the build", st, 200, b)
	if n := len(findAll(parseHTML(t, b), byClass("build-banner"))); n != 0 {
		t.Errorf("%d banners after the build", n)
	}
}

// Issue 11 defect 8: the builder's automatic labels are counted apart
// from explanations.
func TestAutoLabelsCountedApart(t *testing.T) {
	env := webtest.New(t, nil)
	ctx := context.Background()
	before, err := env.DB.SourceStats(ctx, webtest.TestModel, webtest.TestSource)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.DB.CreateExplanation(ctx, &features.Explanation{ModelID: webtest.TestModel, SourceID: webtest.TestSource, Index: 58,
		Description: "peaks on “ fox” 1/1", TypeName: features.AutoLabelType, ExplanationModelName: "none", AuthorID: "saex-build"}); err != nil {
		t.Fatal(err)
	}
	// Feature 59 (dead) gets only an automatic label: it stays unexplained.
	if err := env.DB.CreateExplanation(ctx, &features.Explanation{ModelID: webtest.TestModel, SourceID: webtest.TestSource, Index: 59,
		Description: "peaks on “ dog” 1/1", TypeName: features.AutoLabelType, ExplanationModelName: "none", AuthorID: "saex-build"}); err != nil {
		t.Fatal(err)
	}
	after, err := env.DB.SourceStats(ctx, webtest.TestModel, webtest.TestSource)
	if err != nil {
		t.Fatal(err)
	}
	if after.NumExplained != before.NumExplained || after.NumAutoLabelled != before.NumAutoLabelled+2 {
		t.Errorf("explained %d -> %d, auto-labelled %d -> %d; want explained unchanged and 2 more auto-labelled",
			before.NumExplained, after.NumExplained, before.NumAutoLabelled, after.NumAutoLabelled)
	}
	st, b := get(t, env.URL+"/"+webtest.TestModel)
	wantStatus(t, "model page", st, 200, b)
	if !strings.Contains(text(parseHTML(t, b)), "Auto-labelled") {
		t.Error("the model page does not show the automatic labels apart")
	}
}
