package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"saex/internal/web/webtest"
	"saex/templates"
)

// TestBrowserFeatureTestText types a test text on a feature page and sees
// the tokens highlighted in place (htmx), without a page load.
func TestBrowserFeatureTestText(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	ctx := newBrowser(t)
	// Pick a feature that fires on the text.
	st, b := postJSON(t, env.URL+"/api/search-all", map[string]any{"modelId": webtest.DemoModel, "text": demoText, "selectedLayers": []string{"1-res-topk"}, "numResults": 1})
	wantStatus(t, "search-all", st, 200, b)
	idx := atoi(t, obj(t, b)["result"].([]any)[0].(map[string]any)["index"])
	must(t, "open feature", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.FeatureURL(webtest.DemoModel, "1-res-topk", idx)),
		chromedp.WaitVisible(chromedp.CSS("#test-form textarea")),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 1`), // survives only if the page is not reloaded
		chromedp.SendKeys(chromedp.CSS("#test-form textarea"), demoText),
		chromedp.Click(chromedp.CSS("#test-form button")),
		chromedp.WaitVisible(chromedp.CSS("#test-result .test-out .toks > span")),
	))
	res, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`[
		window.__marker === 1,
		document.querySelectorAll('#test-result .toks > span').length,
		document.querySelectorAll('#test-result .toks > span[class^="a"]').length,
		[...document.querySelectorAll('#test-result .toks > span')].map(e => e.textContent).join('')
	]`))
	must(t, "read result", err)
	if res[0] != true {
		t.Error("the page reloaded: the test text did not go through htmx")
	}
	if n := res[1].(float64); n < 5 {
		t.Errorf("%v tokens shown", n)
	}
	if n := res[2].(float64); n < 1 {
		t.Error("no token highlighted")
	}
	if got := strings.ReplaceAll(res[3].(string), "↵", "\n"); got != demoText {
		t.Errorf("tokens spell %q, want %q", got, demoText)
	}
}

// TestBrowserPromptTool runs a prompt, clicks a token for its top features,
// and follows a feature link to its page.
func TestBrowserPromptTool(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	ctx := newBrowser(t)
	must(t, "run prompt", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.PromptURL(webtest.DemoModel)),
		chromedp.WaitVisible(chromedp.CSS("#prompt-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#prompt-form textarea"), webtest.DemoPrompts[2]),
		chromedp.Click(chromedp.CSS(`#prompt-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#prompt-result a.pfeature-link")),
	))
	counts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('#prompt-result .ptok').length, document.querySelectorAll('#prompt-result a.pfeature-link').length, document.querySelectorAll('#prompt-result svg.spark').length]`))
	must(t, "count", err)
	if counts[0] < 10 || counts[1] != 30 || counts[2] != 30 {
		t.Fatalf("%d tokens, %d features, %d sparklines (want >= 10, 30, 30)", counts[0], counts[1], counts[2])
	}
	// Click the third token: its top features appear in the side panel, and
	// the token is selected for ranking by sum.
	must(t, "click token", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#prompt-result .ptok:nth-child(3)`)),
		chromedp.WaitVisible(chromedp.CSS("#token-panel a.token-feature-link")),
	))
	panel, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`[document.querySelector('#token-panel h2').textContent, document.querySelectorAll('#token-panel a.token-feature-link').length, document.querySelectorAll('#prompt-result input[name=pos]:checked').length]`))
	must(t, "read panel", err)
	if !strings.HasPrefix(panel[0].(string), "Token 2") || panel[1].(float64) != 30 || panel[2].(float64) != 1 {
		t.Errorf("token panel %v (want token 2, 30 features, 1 selected token)", panel)
	}
	// Rank by the selected token.
	must(t, "rank by sum", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[name=rank][value=sum]`)),
		chromedp.Click(chromedp.CSS(`#prompt-form button[type=submit]`)),
	))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#prompt-result').textContent.includes('sum over 1 selected tokens')`))
	must(t, "wait for the sum ranking", err)
	saveScreenshot(t, ctx, "prompt-tool.png")
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#prompt-result a.pfeature-link').getAttribute('href')`))
	must(t, "read link", err)
	must(t, "follow feature link", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#prompt-result a.pfeature-link")),
		chromedp.WaitVisible(chromedp.CSS("section.explanations")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	must(t, "location", err)
	if !strings.HasSuffix(loc, href) {
		t.Errorf("followed to %s, want %s", loc, href)
	}
	expl, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.explanations")))
	must(t, "explanation", err)
	if !strings.Contains(expl, "demo ") {
		t.Errorf("feature page explanations: %q", expl)
	}
}
