package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"saex/internal/web/webtest"
)

// newDemoList makes a list of two demo features that fire on demoText
// (the demo model runs prompts) and the Gemma feature (its model does
// not), and returns its id.
func newDemoList(t *testing.T, env *webtest.Env) string {
	t.Helper()
	st, b := postJSON(t, env.URL+"/api/search-all", map[string]any{"modelId": webtest.DemoModel, "text": demoText, "selectedLayers": []string{"1-res-topk"}, "numResults": 2})
	wantStatus(t, "search-all", st, 200, b)
	var add []any
	for _, it := range obj(t, b)["result"].([]any) {
		m := it.(map[string]any)
		add = append(add, map[string]any{"modelId": webtest.DemoModel, "layer": m["layer"], "index": m["index"], "description": "fires on the demo"})
	}
	add = append(add, map[string]any{"modelId": webtest.GemmaModel, "layer": webtest.GemmaSource, "index": webtest.GemmaIndex})
	st, b = postJSON(t, env.URL+"/api/list/new", map[string]any{"name": "Demo <list>", "description": "three features", "testText": "hello there"})
	wantStatus(t, "list/new", st, 200, b)
	id := obj(t, b)["id"].(string)
	st, b = postJSON(t, env.URL+"/api/list/add-features", map[string]any{"listId": id, "featuresToAdd": add})
	wantStatus(t, "add-features", st, 200, b)
	return id
}

func TestListPage(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	id := newDemoList(t, env)
	st, b := get(t, env.URL+"/list/"+id)
	wantStatus(t, "list page", st, 200, b)
	page := string(b)
	for _, want := range []string{"Demo &lt;list&gt;", "three features", "fires on the demo", webtest.GemmaModel + "@" + webtest.GemmaSource, ">hello there</textarea>", `action="/list/` + id + `/test"`} {
		if !strings.Contains(page, want) {
			t.Errorf("list page lacks %q", want)
		}
	}
	// A plain form post renders the page with each feature's activations.
	st, b = postForm(t, env.URL+"/list/"+id+"/test", url.Values{"text": {demoText}}, false)
	wantStatus(t, "test", st, 200, b)
	if n := strings.Count(string(b), `class="list-test-row"`); n != 3 {
		t.Errorf("%d result rows, want 3", n)
	}
	if !strings.Contains(string(b), "not available") {
		t.Error("the Gemma feature does not say why it could not run")
	}
	st, b = postForm(t, env.URL+"/list/"+id+"/test", url.Values{"text": {"  "}}, true)
	wantStatus(t, "empty text", st, http.StatusBadRequest, b)
	for _, p := range []string{"/list/nope", "/list/bad%20id"} {
		st, b = get(t, env.URL+p)
		wantStatus(t, p, st, http.StatusNotFound, b)
	}
}

// TestBrowserListTestText runs a list's test text through htmx and sees
// every runnable feature highlight the tokens.
func TestBrowserListTestText(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	id := newDemoList(t, env)
	ctx := newBrowser(t)
	must(t, "open list", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+"/list/"+id),
		chromedp.WaitVisible(chromedp.CSS("#list-test-form textarea")),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 1`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#list-test-form textarea').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#list-test-form textarea"), demoText),
		chromedp.Click(chromedp.CSS("#list-test-form button")),
		chromedp.WaitVisible(chromedp.CSS("#list-test-result .list-test-row")),
	))
	res, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`[
		window.__marker === 1,
		document.querySelectorAll('#list-test-result .list-test-row').length,
		document.querySelectorAll('#list-test-result .list-test-row .toks').length,
		document.querySelectorAll('#list-test-result .toks > span[class^="a"]').length
	]`))
	must(t, "read result", err)
	if res[0] != true {
		t.Error("the page reloaded: the test did not go through htmx")
	}
	if res[1].(float64) != 3 || res[2].(float64) != 2 || res[3].(float64) < 2 {
		t.Errorf("rows %v, token rows %v, highlighted tokens %v (want 3, 2, >= 2)", res[1], res[2], res[3])
	}
}
