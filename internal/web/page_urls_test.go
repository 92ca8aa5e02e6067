package web_test

import (
	"net/http"
	"strings"
	"testing"

	"saex/internal/web/webtest"
	"saex/templates"
)

// pageNoRedirect returns a redirect as the response.
var pageNoRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func redirectOf(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := pageNoRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// Issue 11 defect 6: canonical feature and page URLs, readable errors.
func TestPageURLsAndErrors(t *testing.T) {
	env := webtest.New(t, nil)
	src := templates.SourceURL(webtest.TestModel, webtest.TestSource)
	for path, want := range map[string]string{
		src + "/+5":           templates.FeatureURL(webtest.TestModel, webtest.TestSource, 5),
		src + "/007":          templates.FeatureURL(webtest.TestModel, webtest.TestSource, 7),
		src + "/007?ctx=full": templates.FeatureURL(webtest.TestModel, webtest.TestSource, 7) + "?ctx=full",
		src + "/5/":           templates.FeatureURL(webtest.TestModel, webtest.TestSource, 5),
		src + "/":             src,
		src + "?page=99999":   src + "?page=3",
	} {
		st, loc := redirectOf(t, env.URL+path)
		if st/100 != 3 || loc != want {
			t.Errorf("GET %s: %d to %q, want a redirect to %q", path, st, loc, want)
		}
	}
	// The canonical URL itself is served.
	if st, loc := redirectOf(t, env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, 5)); st != 200 {
		t.Errorf("canonical feature URL: %d to %q", st, loc)
	}

	// A feature past the source's end: the valid range and a link back.
	st, b := get(t, env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, 4096))
	wantStatus(t, "feature out of range", st, 404, b)
	doc := parseHTML(t, b)
	msg := text(doc)
	if !strings.Contains(msg, "features 0 to 59") || strings.Contains(msg, "@") {
		t.Errorf("out-of-range message: %q", msg)
	}
	back := findAll(doc, byClass("back-link"))
	if len(back) != 1 || attr(back[0], "href") != src {
		t.Errorf("no link back to the source")
	}

	// A long path is not echoed whole.
	long := "/" + strings.Repeat("x", 3000)
	st, b = get(t, env.URL+long)
	wantStatus(t, "long path", st, 404, b)
	if strings.Count(string(b), "x") > 500 || !strings.Contains(string(b), "…") {
		t.Errorf("long path echoed: %d bytes", len(b))
	}
	st, b = get(t, env.URL+"/"+webtest.TestModel+"/"+strings.Repeat("y", 120))
	wantStatus(t, "long source id", st, 404, b)
	if strings.Count(string(b), "y") > 100 {
		t.Errorf("long source id echoed whole")
	}
}
