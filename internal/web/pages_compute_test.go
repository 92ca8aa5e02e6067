package web_test

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"saex/internal/web/webtest"
	"saex/templates"
)

func TestFeatureTestText(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	page := env.URL + templates.FeatureURL(webtest.DemoModel, "1-res-topk", 5)
	st, b := get(t, page)
	wantStatus(t, "demo feature page", st, 200, b)
	if len(findAll(parseHTML(t, b), func(n *html.Node) bool { return attr(n, "id") == "test-form" })) != 1 {
		t.Fatal("no test form on a runnable source")
	}
	// htmx: a fragment with one span per token (BOS dropped) and a highlight.
	st, b = postForm(t, page+"/test", url.Values{"text": {demoText}}, true)
	wantStatus(t, "test (htmx)", st, 200, b)
	if strings.Contains(string(b), "<html") {
		t.Error("htmx request got a whole page")
	}
	doc := parseHTML(t, b)
	spans := tokenSpans(doc)
	if len(spans) < 5 || text(spans[0]) != "def" {
		t.Fatalf("test fragment tokens: %d, first %q", len(spans), text(spans[0]))
	}
	// Plain form post: the whole page, the text kept in the box.
	st, b = postForm(t, page+"/test", url.Values{"text": {"the test <b>text</b>"}}, false)
	wantStatus(t, "test (plain post)", st, 200, b)
	doc = parseHTML(t, b)
	areas := findAll(doc, byTag("textarea"))
	if len(areas) != 1 || text(areas[0]) != "the test <b>text</b>" || len(findAll(doc, byClass("test-out"))) != 1 {
		t.Error("plain post did not render the page with the result")
	}
	// Errors come back as fragments with their status.
	st, b = postForm(t, page+"/test", url.Values{"text": {longText}}, true)
	wantStatus(t, "too long", st, 422, b)
	if !strings.Contains(string(b), "256") {
		t.Errorf("422 fragment does not name the limit: %s", b)
	}
	st, b = postForm(t, page+"/test", url.Values{"text": {"  "}}, true)
	wantStatus(t, "empty", st, 400, b)
	st, b = postForm(t, env.URL+templates.FeatureURL(webtest.DemoModel, "1-res-topk", 4095)+"/test", url.Values{"text": {"hi"}}, true)
	wantStatus(t, "feature without a dashboard", st, 404, b)
}

func TestPromptTool(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	page := env.URL + templates.PromptURL(webtest.DemoModel)
	st, b := get(t, page+"?text=hello")
	wantStatus(t, "prompt page", st, 200, b)
	doc := parseHTML(t, b)
	boxes := findAll(doc, func(n *html.Node) bool { return attr(n, "name") == "source" })
	if len(boxes) != 3 {
		t.Fatalf("%d source checkboxes, want 3", len(boxes))
	}
	if areas := findAll(doc, byTag("textarea")); len(areas) != 1 || text(areas[0]) != "hello" {
		t.Error("?text= does not fill the prompt")
	}

	form := url.Values{"text": {demoText}, "source": {"1-res-topk", "3-res-topk"}, "rank": {"max"}, "n": {"12"}}
	st, b = postForm(t, page, form, true)
	wantStatus(t, "run (htmx)", st, 200, b)
	doc = parseHTML(t, b)
	toks := findAll(doc, byClass("ptok"))
	links := findAll(doc, byClass("pfeature-link"))
	if len(toks) < 5 || len(links) != 12 {
		t.Fatalf("%d tokens and %d features, want >= 5 and 12", len(toks), len(links))
	}
	if !hasClass(toks[0], "special") {
		t.Error("BOS token not marked special")
	}
	if n := len(findAll(doc, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, "spark") })); n != 12 {
		t.Errorf("%d sparklines, want 12", n)
	}
	for _, a := range links {
		href := attr(a, "href")
		if !strings.HasPrefix(href, "/"+webtest.DemoModel+"/1-res-topk/") && !strings.HasPrefix(href, "/"+webtest.DemoModel+"/3-res-topk/") {
			t.Fatalf("feature link %s is from an unselected source", href)
		}
	}
	// Every feature link opens its page.
	st, b = get(t, env.URL+attr(links[0], "href"))
	wantStatus(t, "follow feature link", st, 200, b)

	// Rank by the sum over selected tokens; plain post renders the whole page.
	form.Set("rank", "sum")
	form["pos"] = []string{"2", "3"}
	st, b = postForm(t, page, form, false)
	wantStatus(t, "run by sum (plain)", st, 200, b)
	if !strings.Contains(string(b), "sum over 2 selected tokens") || !strings.Contains(string(b), "<html") {
		t.Error("sum ranking not reported on the full page")
	}
	checked := 0
	for _, in := range findAll(parseHTML(t, b), func(n *html.Node) bool { return attr(n, "name") == "pos" }) {
		for _, a := range in.Attr {
			if a.Key == "checked" {
				checked++
			}
		}
	}
	if checked != 2 {
		t.Errorf("%d selected tokens kept, want 2", checked)
	}

	// Clicking a token: its top features per source.
	form.Set("at", "2")
	st, b = postForm(t, page+"/token", form, true)
	wantStatus(t, "token panel", st, 200, b)
	doc = parseHTML(t, b)
	if n := len(findAll(doc, byTag("h3"))); n != 2 {
		t.Errorf("token panel has %d sources, want 2", n)
	}
	tl := findAll(doc, byClass("token-feature-link"))
	if len(tl) != 20 {
		t.Errorf("token panel lists %d features, want 10 per source", len(tl))
	}
	if !strings.Contains(text(doc), webtest.DemoExplanation("1-res-topk", atoi(t, strings.TrimPrefix(attr(tl[0], "href"), "/"+webtest.DemoModel+"/1-res-topk/")))) {
		t.Error("token panel lacks explanations")
	}

	for _, c := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		msg    string
	}{
		{"empty prompt", "", url.Values{"text": {""}}, 400, "type a prompt"},
		{"bad n", "", url.Values{"text": {"hi"}, "n": {"0"}}, 400, "results"},
		{"bad source", "", url.Values{"text": {"hi"}, "source": {"a b"}}, 400, "source"},
		{"too long", "", url.Values{"text": {longText}}, 422, "256"},
		{"token past end", "/token", url.Values{"text": {"hi"}, "at": {"50"}}, 400, "past"},
		{"bad token", "/token", url.Values{"text": {"hi"}, "at": {"x"}}, 400, "position"},
	} {
		st, b := postForm(t, page+c.path, c.form, true)
		wantStatus(t, c.name, st, c.status, b)
		if !strings.Contains(string(b), c.msg) {
			t.Errorf("%s: message lacks %q: %s", c.name, c.msg, truncate(b))
		}
	}
	// A model without inference says so; an unknown model is a 404.
	st, b = get(t, env.URL+templates.PromptURL(webtest.GemmaModel))
	wantStatus(t, "prompt page without inference", st, 200, b)
	if !strings.Contains(string(b), "not available") {
		t.Error("no 'not available' notice")
	}
	st, b = postForm(t, env.URL+templates.PromptURL(webtest.GemmaModel), url.Values{"text": {"hi"}}, true)
	wantStatus(t, "run without inference", st, 503, b)
	st, b = get(t, env.URL+templates.PromptURL("nope"))
	wantStatus(t, "unknown model", st, 404, b)
}
