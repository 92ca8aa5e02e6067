package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"saex/internal/web/webtest"
	"saex/templates"
)

// parseHTML parses a page.
func parseHTML(t *testing.T, b []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// hasClass reports whether n has the CSS class c.
func hasClass(n *html.Node, c string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" {
			for _, f := range strings.Fields(a.Val) {
				if f == c {
					return true
				}
			}
		}
	}
	return false
}

// attr returns n's attribute.
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// findAll returns the elements under n matching pred, in document order.
func findAll(n *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && pred(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// text returns the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// tokenSpans returns the token spans (children of .toks) under n.
func tokenSpans(n *html.Node) []*html.Node {
	var out []*html.Node
	for _, row := range findAll(n, byClass("toks")) {
		for c := row.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "span" {
				out = append(out, c)
			}
		}
	}
	return out
}

func byTag(tag string) func(*html.Node) bool { return func(n *html.Node) bool { return n.Data == tag } }

func byClass(c string) func(*html.Node) bool {
	return func(n *html.Node) bool { return hasClass(n, c) }
}

func TestHomeAndModelPages(t *testing.T) {
	env := webtest.New(t, nil)
	st, b := get(t, env.URL+"/")
	wantStatus(t, "home", st, 200, b)
	doc := parseHTML(t, b)
	links := map[string]bool{}
	for _, a := range findAll(doc, byClass("source-link")) {
		links[attr(a, "href")] = true
	}
	for _, want := range []string{
		templates.SourceURL(webtest.GemmaModel, webtest.GemmaSource),
		templates.SourceURL(webtest.GPT2Model, webtest.GPT2Source),
		templates.SourceURL(webtest.TestModel, webtest.TestSource),
	} {
		if !links[want] {
			t.Errorf("home has no link to %s", want)
		}
	}
	// Stats of the synthetic source: 60 features, 1 dead, 59 explained.
	if !strings.Contains(text(doc), "60") {
		t.Error("feature count missing")
	}
	st, b = get(t, env.URL+"/"+webtest.TestModel)
	wantStatus(t, "model page", st, 200, b)
	if got := len(findAll(parseHTML(t, b), byClass("source-link"))); got != 1 {
		t.Errorf("model page lists %d sources, want 1", got)
	}
	st, b = get(t, env.URL+"/no-such-model")
	wantStatus(t, "unknown model", st, 404, b)
}

func TestSourcePage(t *testing.T) {
	env := webtest.New(t, nil)
	base := env.URL + templates.SourceURL(webtest.TestModel, webtest.TestSource)
	rows := func(q string) []string {
		t.Helper()
		st, b := get(t, base+q)
		wantStatus(t, "source "+q, st, 200, b)
		var out []string
		for _, a := range findAll(parseHTML(t, b), byClass("feature-link")) {
			out = append(out, text(a))
		}
		return out
	}
	first := rows("")
	if len(first) != 25 || first[0] != "0" || first[24] != "24" {
		t.Fatalf("page 1 by index: %v", first)
	}
	if p3 := rows("?page=3"); len(p3) != 10 || p3[0] != "50" {
		t.Errorf("page 3: %v", p3)
	}
	if top := rows("?sort=maxact&desc=1"); top[0] != "58" {
		t.Errorf("by max act desc, first %v", top[0])
	}
	if d := rows("?sort=density&desc=1&hidedead=1"); d[0] != "58" {
		t.Errorf("by density desc hiding dead, first %v", d[0])
	}
	if all := rows("?sort=maxact&hidedead=1&page=3"); len(all) != 9 {
		t.Errorf("hide dead: last page has %d rows, want 9", len(all))
	}
	if q := rows("?q=stegosaurus"); len(q) != 1 || q[0] != fmt.Sprint(webtest.SeededIndex) {
		t.Errorf("explanation search in source: %v", q)
	}
	// Jump to an index redirects to the feature; a bad one explains itself.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "?jump=42")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != templates.FeatureURL(webtest.TestModel, webtest.TestSource, 42) {
		t.Errorf("jump: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	st, b := get(t, base+"?jump=600")
	wantStatus(t, "jump out of range", st, 404, b) // the page still renders, under a 404
	if !strings.Contains(string(b), "features 0 to 59") {
		t.Error("out-of-range jump not explained")
	}
	st, b = get(t, env.URL+"/"+webtest.TestModel+"/9-nope")
	wantStatus(t, "unknown source", st, 404, b)
}

func TestFeaturePage(t *testing.T) {
	env := webtest.New(t, nil)
	st, b := get(t, env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.SeededIndex))
	wantStatus(t, "feature page", st, 200, b)
	doc := parseHTML(t, b)
	body := text(doc)
	for _, want := range []string{webtest.SeededExplanation, "oai_token-act-pair", "gpt-4o-mini", "Top activations", "Interval", "contains 25.00%", "1.20%", "never", "always"} {
		if !strings.Contains(body, want) {
			t.Errorf("feature page lacks %q", want)
		}
	}
	if n := len(findAll(doc, byTag("svg"))); n < 2 {
		t.Errorf("%d SVG charts, want the two histograms", n)
	}
	if n := len(findAll(doc, byClass("neg"))); n == 0 {
		t.Error("logit histogram has no negative bars")
	}
	var nb []string
	for _, a := range findAll(doc, byClass("neighbour-link")) {
		nb = append(nb, attr(a, "href"))
	}
	if len(nb) != 2 || nb[0] != templates.FeatureURL(webtest.TestModel, webtest.TestSource, 13) {
		t.Errorf("neighbours: %v", nb)
	}
	prev := findAll(doc, func(n *html.Node) bool { return attr(n, "rel") == "prev" })
	next := findAll(doc, func(n *html.Node) bool { return attr(n, "rel") == "next" })
	if len(prev) != 1 || len(next) != 1 || attr(prev[0], "href") != templates.FeatureURL(webtest.TestModel, webtest.TestSource, 11) {
		t.Errorf("prev/next links: %d %d", len(prev), len(next))
	}
	if js := findAll(doc, byClass("json-link")); len(js) != 1 || attr(js[0], "href") != templates.FeatureJSONURL(webtest.TestModel, webtest.TestSource, webtest.SeededIndex) {
		t.Error("JSON link missing")
	}
	// The max token is highlighted fully, the far tokens are marked for the short view.
	if n := len(findAll(doc, byClass("a20"))); n == 0 {
		t.Error("no fully highlighted token")
	}
	// Without inference the test box says so, and the route answers 503.
	if len(findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "test-form" })) != 0 {
		t.Error("test form shown without inference")
	}
	st, b = postForm(t, env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, 1)+"/test", url.Values{"text": {"hello"}}, true)
	wantStatus(t, "test without inference", st, 503, b)
	if !strings.Contains(string(b), "not available") {
		t.Errorf("test error fragment: %s", b)
	}
	// The last feature has no next link; feature 0 no prev link.
	_, b = get(t, env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.TestFeatures-1))
	if len(findAll(parseHTML(t, b), func(n *html.Node) bool { return attr(n, "rel") == "next" })) != 0 {
		t.Error("last feature links to a next one")
	}
	// Imported real data renders too.
	st, b = get(t, env.URL+templates.FeatureURL(webtest.GemmaModel, webtest.GemmaSource, webtest.GemmaIndex))
	wantStatus(t, "gemma feature", st, 200, b)
	st, b = get(t, env.URL+templates.FeatureURL(webtest.GPT2Model, webtest.GPT2Source, 1))
	wantStatus(t, "gpt2 feature", st, 200, b)
	for _, p := range []string{"/x/y/12345", "/" + webtest.TestModel + "/" + webtest.TestSource + "/abc", "/" + webtest.TestModel + "/" + webtest.TestSource + "/999"} {
		st, b = get(t, env.URL+p)
		wantStatus(t, p, st, 404, b)
	}
}

// TestHostileTokensRenderAsText checks that token strings from the data
// (markup, quotes, NUL, invalid UTF-8, newlines) reach the DOM as text.
func TestHostileTokensRenderAsText(t *testing.T) {
	env := webtest.New(t, nil)
	st, b := get(t, env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.HostileIndex))
	wantStatus(t, "feature page", st, 200, b)
	doc := parseHTML(t, b)
	// Only our static scripts (htmx and the page's own), none from tokens.
	for _, sc := range findAll(doc, byTag("script")) {
		if src := attr(sc, "src"); !strings.HasPrefix(src, "/static/htmx-") && !strings.HasPrefix(src, "/static/feature.js") {
			t.Errorf("unexpected script element (src %q)", src)
		}
	}
	if n := len(findAll(doc, byTag("script"))); n != 2 {
		t.Errorf("%d script elements, want htmx's and feature.js", n)
	}
	if n := len(findAll(doc, byTag("b"))); n != 0 {
		t.Errorf("token markup became %d <b> elements", n)
	}
	rows := findAll(doc, byClass("toks"))
	if len(rows) == 0 {
		t.Fatal("no token rows")
	}
	spans := tokenSpans(rows[0])
	if len(spans) != len(webtest.HostileTokens) {
		t.Fatalf("%d token spans, want %d", len(spans), len(webtest.HostileTokens))
	}
	// \xff and \xfe start no character: one placeholder each, as Neuronpedia.
	want := []string{"<script>alert(1)</script>", `"quoted" & 'single'`, "nul␀byte", "bad\uFFFD\uFFFDutf8", "line↵break", " tab⇥here", "</span><b>bold</b>"}
	for i, s := range spans {
		if got := text(s); got != want[i] {
			t.Errorf("token %d: DOM text %q, want %q", i, got, want[i])
		}
	}
	if !hasClass(spans[4], "nl") {
		t.Error("newline token not marked")
	}
	// The JSON twin keeps the strings (invalid UTF-8 becomes U+FFFD in JSON).
	st, b = get(t, env.URL+templates.FeatureJSONURL(webtest.TestModel, webtest.TestSource, webtest.HostileIndex))
	wantStatus(t, "feature json", st, 200, b)
	if !strings.Contains(string(b), `\u003cscript\u003e`) || !strings.Contains(string(b), `nul\u0000byte`) {
		t.Errorf("JSON tokens not escaped as expected: %s", truncate(b))
	}
}

func TestSearchPage(t *testing.T) {
	env := webtest.New(t, nil)
	st, b := get(t, env.URL+"/search")
	wantStatus(t, "empty search", st, 200, b)
	st, b = get(t, env.URL+"/search?q=stegosaurus")
	wantStatus(t, "search", st, 200, b)
	hits := findAll(parseHTML(t, b), byClass("hit-link"))
	if len(hits) != 1 || attr(hits[0], "href") != templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.SeededIndex) {
		t.Fatalf("hits: %d", len(hits))
	}
	st, b = get(t, env.URL+"/search?q=synthetic+feature&model="+webtest.TestModel+"&source="+webtest.TestSource+"&page=2")
	wantStatus(t, "search page 2", st, 200, b)
	doc := parseHTML(t, b)
	if n := len(findAll(doc, byClass("hit-link"))); n != 20 {
		t.Errorf("page 2 has %d hits, want 20", n)
	}
	if len(findAll(doc, func(n *html.Node) bool { return attr(n, "rel") == "prev" })) != 1 {
		t.Error("no previous link on page 2")
	}
	st, b = get(t, env.URL+"/search?q=synthetic+feature&model="+webtest.GemmaModel)
	wantStatus(t, "filtered search", st, 200, b)
	if n := len(findAll(parseHTML(t, b), byClass("hit-link"))); n != 0 {
		t.Errorf("model filter: %d hits, want 0", n)
	}
	// Short queries are searched (token labels quote "if", ":="); an
	// overlong one is refused.
	st, b = get(t, env.URL+"/search?q=ab")
	wantStatus(t, "short query", st, 200, b)
	st, b = get(t, env.URL+"/search?q="+strings.Repeat("a", 2000))
	wantStatus(t, "long query", st, 400, b)
}

func TestPageErrors(t *testing.T) {
	env := webtest.New(t, nil)
	st, b := get(t, env.URL+"/a/b/c/d/e")
	wantStatus(t, "unknown path", st, 404, b)
	if !strings.Contains(string(b), "<html") {
		t.Error("404 is not an HTML page")
	}
	st, _, b = do(t, http.MethodDelete, env.URL+"/", nil, nil)
	wantStatus(t, "DELETE /", st, 405, b)
}

func TestFeatureContextWindow(t *testing.T) {
	env := webtest.New(t, nil)
	page := env.URL + templates.FeatureURL(webtest.GemmaModel, webtest.GemmaSource, webtest.GemmaIndex)
	count := func(u string) (int, *html.Node) {
		t.Helper()
		st, b := get(t, u)
		wantStatus(t, u, st, 200, b)
		doc := parseHTML(t, b)
		return len(tokenSpans(doc)), doc
	}
	short, doc := count(page)
	full, _ := count(page + "?ctx=full")
	frag, fdoc := count(page + "/activations?ctx=full")
	if short == 0 || full <= 2*short || frag != full {
		t.Errorf("tokens: %d in the window view, %d full, %d in the full fragment", short, full, frag)
	}
	if len(findAll(doc, byClass("ell"))) == 0 {
		t.Error("cut contexts are not marked")
	}
	if len(findAll(fdoc, byTag("header"))) != 0 {
		t.Error("the fragment carries the page layout")
	}
	toggle := findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "ctx-toggle" })
	if len(toggle) != 1 || !strings.Contains(attr(toggle[0], "href"), "ctx=full") || !strings.HasSuffix(attr(toggle[0], "hx-get"), "/activations?ctx=full") {
		t.Error("no working toggle to the full context")
	}
	st, b := get(t, env.URL+"/"+webtest.TestModel+"/"+webtest.TestSource+"/999/activations")
	wantStatus(t, "fragment of a missing feature", st, 404, b)
}
