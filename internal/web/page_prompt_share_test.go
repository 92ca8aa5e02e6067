package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"saex/internal/web"
	mw "saex/internal/web/middleware"
	"saex/internal/web/webtest"
	"saex/templates"
)

// Issue 11 gaps: the prompt tool's density filter (default 1%, as
// Neuronpedia's), shareable GET URLs and per-feature highlight data.
func TestPromptShareAndDensity(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	page := env.URL + templates.PromptURL(webtest.DemoModel)
	const src = "1-res-topk"
	run := func(q url.Values) []int {
		t.Helper()
		st, b := get(t, page+"?"+q.Encode())
		wantStatus(t, "shared prompt "+q.Encode(), st, 200, b)
		doc := parseHTML(t, b)
		if len(findAll(doc, byClass("ptok"))) == 0 {
			t.Fatalf("GET with text did not run the prompt")
		}
		rows := findAll(doc, byClass("pfeature"))
		var idx []int
		for _, r := range rows {
			if h := attr(r, "data-highlight"); strings.Count(h, ",")+1 != len(findAll(doc, byClass("ptok"))) {
				t.Errorf("highlight data %q does not cover the token views", h)
			}
			for _, a := range findAll(r, byClass("pfeature-link")) {
				i, _ := strconv.Atoi(text(a))
				idx = append(idx, i)
			}
		}
		return idx
	}
	q := url.Values{"text": {webtest.DemoPrompts[1]}, "source": {src}, "n": {"50"}}
	def := run(q)
	q.Set("density", "0")
	all := run(q)
	sums, err := env.DB.FeatureSummaries(context.Background(), webtest.DemoModel, src, all)
	if err != nil {
		t.Fatal(err)
	}
	dense := 0
	for _, i := range all {
		if sm := sums[i]; sm != nil && sm.FracNonzero > 0.01 {
			dense++
		}
	}
	for _, i := range def {
		if sm := sums[i]; sm != nil && sm.FracNonzero > 0.01 {
			t.Errorf("feature %d (density %v) listed with the default 1%% filter", i, sm.FracNonzero)
		}
	}
	if dense == 0 {
		t.Error("no feature denser than 1% in the unfiltered list: the filter is not tested")
	}

	// An htmx run pushes the shareable URL, which runs the same prompt.
	form := url.Values{"text": {"Привет ∞ 🍕"}, "source": {src}, "density": {"0.5"}}
	st, h, b := do(t, http.MethodPost, page, strings.NewReader(form.Encode()), map[string]string{
		"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"})
	wantStatus(t, "htmx prompt", st, 200, b)
	push := h.Get("HX-Push-Url")
	u, err := url.Parse(push)
	if err != nil || u.Path != templates.PromptURL(webtest.DemoModel) || u.Query().Get("text") != "Привет ∞ 🍕" || u.Query().Get("density") != "0.5" {
		t.Fatalf("HX-Push-Url %q", push)
	}
	if links := findAll(parseHTML(t, b), byClass("share-link")); len(links) != 1 || attr(links[0], "href") != push {
		t.Errorf("share link differs from the pushed URL %q", push)
	}
	st, b = get(t, env.URL+push)
	wantStatus(t, "pushed URL", st, 200, b)
	doc := parseHTML(t, b)
	var strip strings.Builder
	for _, l := range findAll(doc, byClass("ptok")) {
		strip.WriteString(text(l))
	}
	if !strings.Contains(strip.String(), "Привет ∞ 🍕") {
		t.Errorf("pushed URL's strip %q", strip.String())
	}
	for _, in := range findAll(doc, byTag("input")) {
		if attr(in, "name") == "density" && attr(in, "value") != "0.5" {
			t.Errorf("density box %q after a shared link, want 0.5", attr(in, "value"))
		}
	}
	st, b = get(t, page+"?text=hi&density=abc")
	wantStatus(t, "bad density", st, 400, b)
}

// A shared prompt URL runs the model, so it spends the compute budget as
// the form does; past it the page is the styled 429 page.
func TestSharedPromptURLIsRateLimited(t *testing.T) {
	e := newHardened(t, false, func(h *web.Hardening) {
		h.ComputeRate = mw.Rate{Requests: 1, Window: time.Minute}
	})
	path := templates.PromptURL(webtest.TestModel) + "?text=hello"
	if st, _, b := e.call(t, "GET", path, "", nil); st == http.StatusTooManyRequests {
		t.Fatalf("first shared prompt limited: %s", b)
	}
	st, h, b := e.call(t, "GET", path, "", nil)
	if st != http.StatusTooManyRequests || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("second shared prompt in a minute: %d %s, want the 429 page", st, h.Get("Content-Type"))
	}
	doc := parseHTML(t, b)
	if len(findAll(doc, byClass("error-msg"))) != 1 || len(findAll(doc, byTag("link"))) == 0 {
		t.Errorf("429 page is not the styled error page: %s", truncate(b))
	}
	// Viewing the tool is never limited.
	if st, _, b := e.call(t, "GET", templates.PromptURL(webtest.TestModel), "", nil); st != 200 {
		t.Errorf("prompt page view over the budget: %d %s", st, truncate(b))
	}
}
