package web_test

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"saex/internal/web"
	mw "saex/internal/web/middleware"
	"saex/internal/web/webtest"
	"saex/templates"
)

// Issue 16 item 4: the steer page renders its form filled from the query
// (the shareable URL), names the bad field with a 400, and is reached from
// the home page and from every runnable feature's page.
func TestSteerPage(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	page := env.URL + templates.SteerURL(webtest.DemoModel)

	st, b := get(t, page)
	wantStatus(t, "empty steer page", st, 200, b)
	doc := parseHTML(t, b)
	if len(findAll(doc, byID("steer-form"))) != 1 || len(findAll(doc, byClass("steer-feature"))) != 1 { // the row template only
		t.Fatalf("steer page without its form or with features: %s", truncate(b))
	}
	if form := findAll(doc, byID("steer-form"))[0]; attr(form, "data-autorun") != "" {
		t.Error("an empty steer page runs on load")
	}
	var opts []string
	for _, o := range findAll(doc, byTag("option")) {
		opts = append(opts, attr(o, "value"))
	}
	if !strings.Contains(strings.Join(opts, " "), "1-res-topk:") {
		t.Errorf("the add box does not offer the model's sources: %v", opts)
	}

	// A shared URL fills every setting and asks to run on load.
	q := url.Values{
		"prompt": {"The quick brown fox"}, "feature": {"1-res-topk:7", "2-res-topk:5"}, "strength": {"40", "-12.5"},
		"n_tokens": {"12"}, "temperature": {"0.7"}, "seed": {"99"}, "freq_penalty": {"0.5"},
		"strength_multiplier": {"2"}, "steer_method": {"ORTHOGONAL_DECOMP"}, "run": {"1"},
	}
	st, b = get(t, page+"?"+q.Encode())
	wantStatus(t, "shared steer URL", st, 200, b)
	doc = parseHTML(t, b)
	form := findAll(doc, byID("steer-form"))[0]
	if attr(form, "data-autorun") != "1" || attr(form, "data-model") != webtest.DemoModel {
		t.Errorf("form data-autorun=%q data-model=%q", attr(form, "data-autorun"), attr(form, "data-model"))
	}
	var names, strengths []string
	for _, in := range findAll(form, byTag("input")) {
		switch attr(in, "name") {
		case "feature":
			if v := attr(in, "value"); v != "" {
				names = append(names, v)
			}
		case "strength":
			strengths = append(strengths, attr(in, "value"))
		case "n_tokens", "temperature", "seed", "freq_penalty", "strength_multiplier":
			if got, want := attr(in, "value"), q.Get(attr(in, "name")); got != want {
				t.Errorf("%s box shows %q, want %q", attr(in, "name"), got, want)
			}
		}
	}
	if strings.Join(names, ",") != "1-res-topk:7,2-res-topk:5" || strings.Join(strengths, ",") != "40,-12.5,10" { // last: the row template
		t.Errorf("features %v strengths %v", names, strengths)
	}
	if got := text(findAll(form, byTag("textarea"))[0]); got != "The quick brown fox" {
		t.Errorf("prompt box %q", got)
	}
	for _, o := range findAll(form, byTag("option")) {
		if attr(o, "value") == "ORTHOGONAL_DECOMP" && !hasAttr(o, "selected") {
			t.Error("the method is not the URL's")
		}
	}

	// Bad queries: 400, the form shown, the field named, no run on load.
	for _, c := range []struct{ key, val, field string }{
		{"n_tokens", "257", "n_tokens"},
		{"n_tokens", "2.5", "n_tokens"},
		{"temperature", "NaN", "temperature"},
		{"seed", "x", "seed"},
		{"freq_penalty", "3", "freq_penalty"},
		{"strength_multiplier", "11", "strength_multiplier"},
		{"steer_method", "PROJECTION_CAP", "steer_method"},
		{"feature", "1-res-topk", "feature"},
		{"feature", "1-res-topk:-1", "feature"},
		{"strength", "1e300", "strength"},
		{"strength", "", "strength"},
	} {
		bad := url.Values{"prompt": {"hi"}, "feature": {"1-res-topk:7"}, "strength": {"4"}, "run": {"1"}}
		bad.Set(c.key, c.val)
		st, b := get(t, page+"?"+bad.Encode())
		wantStatus(t, c.key+"="+c.val, st, 400, b)
		doc := parseHTML(t, b)
		msg := findAll(doc, byID("steer-error-page"))
		if len(msg) != 1 || !strings.Contains(text(msg[0]), `"`+c.field+`"`) {
			t.Errorf("%s=%s: error does not name %q: %s", c.key, c.val, c.field, truncate(b))
		}
		if f := findAll(doc, byID("steer-form")); len(f) != 1 || attr(f[0], "data-autorun") != "" {
			t.Errorf("%s=%s: form missing or runs on load", c.key, c.val)
		}
	}
	st, b = get(t, env.URL+templates.SteerURL("no-such-model"))
	wantStatus(t, "unknown model", st, 404, b)

	// The home page links the steer page; a feature page opens it with the
	// feature at a strength of about four times its max activation.
	st, b = get(t, env.URL+"/")
	wantStatus(t, "home", st, 200, b)
	if !strings.Contains(string(b), `href="`+templates.SteerURL(webtest.DemoModel)+`"`) {
		t.Error("home page does not link the steer page")
	}
	st, b = get(t, env.URL+"/api/feature/"+webtest.DemoModel+"/1-res-topk/7")
	wantStatus(t, "feature json", st, 200, b)
	maxAct := obj(t, b)["maxActApprox"].(float64)
	st, b = get(t, env.URL+templates.FeatureURL(webtest.DemoModel, "1-res-topk", 7))
	wantStatus(t, "feature page", st, 200, b)
	links := findAll(parseHTML(t, b), byClass("steer-link"))
	if len(links) != 1 {
		t.Fatalf("feature page has %d steer links", len(links))
	}
	u, err := url.Parse(attr(links[0], "href"))
	if err != nil || u.Path != templates.SteerURL(webtest.DemoModel) || u.Query().Get("feature") != "1-res-topk:7" {
		t.Fatalf("steer link %q", attr(links[0], "href"))
	}
	s, err := strconv.ParseFloat(u.Query().Get("strength"), 64)
	if want := min(4*maxAct, 300); err != nil || math.Abs(s-want) > 0.05*want {
		t.Errorf("steer link strength %q, want about %g (max activation %g)", u.Query().Get("strength"), want, maxAct)
	}
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Type == html.ElementNode && attr(n, "id") == id }
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// A steer page's run, shared or not, is a POST /api/steer from its script:
// it spends the client's compute budget as the prompt tool's shared URL
// does, while the page view itself (no model run) is never limited.
func TestSteerRunComputeBudget(t *testing.T) {
	e := newHardened(t, false, func(h *web.Hardening) { h.ComputeRate = mw.Rate{Requests: 1, Window: time.Minute} })
	hdr := jsonHdr()
	if st, _, b := e.call(t, "POST", "/api/steer", `{}`, hdr); st == http.StatusTooManyRequests {
		t.Fatalf("first steer limited: %s", b)
	}
	st, _, b := e.call(t, "POST", "/api/steer", `{}`, hdr)
	wantError(t, "second steer run in a minute", st, b, 429, "rate limit exceeded")
	shared := templates.SteerURL(webtest.TestModel) + "?run=1&prompt=hi&feature=" + webtest.TestSource + ":3&strength=10"
	st, _, b = e.call(t, "GET", shared, "", nil)
	wantStatus(t, "steer page view over the budget", st, 200, b)
	st, _, _ = e.call(t, "GET", templates.PromptURL(webtest.TestModel)+"?text=hi", "", nil)
	if st != http.StatusTooManyRequests {
		t.Errorf("shared prompt URL after the steer runs spent the budget: %d, want 429", st)
	}
}
