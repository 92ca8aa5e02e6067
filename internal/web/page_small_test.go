package web_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"saex/internal/web/webtest"
	"saex/templates"
)

// Issue 11 defect 8: the icon is served, the home menu has the prompt
// tool, and the context toggle changes the URL.
func TestSmallPageFixes(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	st, h, b := do(t, "GET", env.URL+"/favicon.ico", nil, nil)
	wantStatus(t, "favicon", st, 200, b)
	if !strings.HasPrefix(h.Get("Content-Type"), "image/svg+xml") || !strings.Contains(string(b), "<svg") {
		t.Errorf("favicon: %s, %d bytes", h.Get("Content-Type"), len(b))
	}
	st, b = get(t, env.URL+"/")
	wantStatus(t, "home", st, 200, b)
	doc := parseHTML(t, b)
	found := false
	for _, a := range findAll(doc, byTag("a")) {
		if attr(a, "href") == templates.PromptURL(webtest.DemoModel) && strings.Contains(text(a), "Prompt tool") {
			found = true
		}
	}
	if !found {
		t.Error("the home menu has no prompt tool")
	}
	st, b = get(t, env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.SeededIndex))
	wantStatus(t, "feature", st, 200, b)
	toggle := findAll(parseHTML(t, b), func(n *html.Node) bool { return attr(n, "id") == "ctx-toggle" })
	if len(toggle) != 1 || !strings.Contains(attr(toggle[0], "hx-push-url"), "ctx=full") {
		t.Error("the full-context toggle does not push its URL")
	}
}
