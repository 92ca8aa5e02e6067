package web_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"saex/internal/web/webtest"
	"saex/templates"
)

// steerDone waits until the steer page's run has finished (or failed).
const steerDone = `document.querySelector('#steer-form').classList.contains('done') || document.querySelector('#steer-status').classList.contains('error-msg')`

// Issue 16's browser point: from a demo feature's page, steer with it at
// a large strength; both completions stream in, the steered one differs
// from the default, and the run's shareable URL, opened fresh, runs itself
// and gives the same steered text (seeded sampling).
func TestBrowserSteerPage(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	ctx := newBrowser(t)
	// A feature that fires on the prompt, so that its direction matters.
	const prompt = "The quick brown fox"
	st, b := postJSON(t, env.URL+"/api/search-all", map[string]any{"modelId": webtest.DemoModel, "text": prompt, "selectedLayers": []string{"1-res-topk"}, "numResults": 1})
	wantStatus(t, "search-all", st, 200, b)
	idx := atoi(t, obj(t, b)["result"].([]any)[0].(map[string]any)["index"])

	must(t, "open the steer page from the feature page", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.FeatureURL(webtest.DemoModel, "1-res-topk", idx)),
		chromedp.WaitVisible(chromedp.CSS("a.steer-link")),
		chromedp.Click(chromedp.CSS("a.steer-link")),
		chromedp.WaitVisible(chromedp.CSS("#steer-form textarea")),
	))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#steer-feature-list input[name=feature]')].map(e => e.value).concat([document.querySelector('#steer-feature-list .steer-strength').value])`))
	must(t, "read features", err)
	if len(rows) != 2 || rows[0] != "1-res-topk:"+strconv.Itoa(idx) {
		t.Fatalf("the steer page opened with features %v, want 1-res-topk:%d", rows, idx)
	}
	linkStrength := rows[1]
	t.Logf("link strength %s", linkStrength)
	// The search box finds the same feature by its explanation and adds it
	// at the same default strength as the feature page's link.
	st, b = get(t, env.URL+"/api/feature/"+webtest.DemoModel+"/1-res-topk/"+strconv.Itoa(idx))
	wantStatus(t, "feature json", st, 200, b)
	desc := obj(t, b)["explanations"].([]any)[0].(map[string]any)["description"].(string)
	addSel := `#steer-search-results .steer-search-add[data-feature="1-res-topk:` + strconv.Itoa(idx) + `"]`
	must(t, "search and add", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("steer-search-input"), desc),
		chromedp.Click(chromedp.ID("steer-search")),
		chromedp.WaitVisible(chromedp.CSS(addSel)),
		chromedp.Click(chromedp.CSS(addSel)),
	))
	added, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#steer-feature-list .steer-feature')].map(r => r.querySelector('input[name=feature]').value + '=' + r.querySelector('.steer-strength').value)`))
	must(t, "read rows after search", err)
	if want := "1-res-topk:" + strconv.Itoa(idx) + "=" + linkStrength; len(added) != 2 || added[1] != want {
		t.Errorf("rows after adding from the search %v, want a second %s (search %q)", added, want, desc)
	}
	must(t, "remove the searched feature", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#steer-feature-list .steer-feature:nth-child(2) .steer-remove"))))
	// A large strength through the slider's box, sampled (seeded), and a
	// second feature added by name (then removed again).
	must(t, "fill the form", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#steer-form textarea"), prompt),
		chromedp.SetValue(chromedp.CSS("#steer-feature-list .steer-strength"), "200"),
		chromedp.SetValue(chromedp.CSS("input[name=n_tokens]"), "16"),
		chromedp.SetValue(chromedp.CSS("input[name=temperature]"), "0.7"),
		chromedp.SetValue(chromedp.CSS("input[name=seed]"), "1234"),
		chromedp.SendKeys(chromedp.ID("steer-add-input"), "2-res-topk:5"),
		chromedp.Click(chromedp.ID("steer-add")),
	))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#steer-feature-list .steer-feature').length`))
	must(t, "count rows", err)
	if n != 2 {
		t.Fatalf("%d feature rows after adding one, want 2", n)
	}
	must(t, "remove the added feature", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#steer-feature-list .steer-feature:nth-child(2) .steer-remove"))))

	// Each output counts its changes in data-updates: more than one each
	// says both streamed in rather than arriving whole.
	must(t, "run", chromedp.Do(ctx, chromedp.Click(chromedp.ID("steer-run"))))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](steerDone))
	must(t, "wait for the run", err)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`[
		document.getElementById('steer-default').textContent,
		document.getElementById('steer-steered').textContent,
		document.getElementById('steer-status').textContent,
		+document.getElementById('steer-default').dataset.updates, +document.getElementById('steer-steered').dataset.updates,
		document.getElementById('steer-share').getAttribute('href'),
		location.pathname + location.search]`))
	must(t, "read the run", err)
	def, steered, status := got[0].(string), got[1].(string), got[2].(string)
	if status != "done" || def == "" || steered == "" {
		t.Fatalf("status %q, default %q, steered %q", status, def, steered)
	}
	t.Logf("default %q, steered %q (%v and %v updates)", def, steered, got[3], got[4])
	if steered == def {
		t.Errorf("steering at strength 200 changed nothing: %q", steered)
	}
	if got[3].(float64) < 2 || got[4].(float64) < 2 {
		t.Errorf("the completions did not stream in: %v default and %v steered updates", got[3], got[4])
	}
	share := got[5].(string)
	if share != got[6].(string) {
		t.Errorf("address bar %q is not the share link %q", got[6], share)
	}
	u, err := url.Parse(share)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("seed") != "1234" || q.Get("strength") != "200" || q.Get("feature") != "1-res-topk:"+strconv.Itoa(idx) || q.Get("run") != "1" || q.Get("prompt") != prompt {
		t.Errorf("share link %q lacks the run's settings", share)
	}
	saveScreenshot(t, ctx, "steer.png")

	// The shared URL, opened in a fresh page, runs itself to the same text.
	must(t, "open the shared URL", chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(env.URL+share),
		chromedp.WaitVisible(chromedp.ID("steer-steered"))))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](steerDone))
	must(t, "wait for the shared run", err)
	again, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.getElementById('steer-default').textContent, document.getElementById('steer-steered').textContent, document.getElementById('steer-status').textContent]`))
	must(t, "read the shared run", err)
	if again[2] != "done" || again[1] != steered || again[0] != def {
		t.Errorf("the shared URL gave default %q steered %q (%s), want %q and %q", again[0], again[1], again[2], def, steered)
	}
	if !strings.Contains(share, "/steer?") {
		t.Errorf("share link %q", share)
	}
}
