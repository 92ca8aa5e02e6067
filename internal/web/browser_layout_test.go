package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"saex/internal/web/webtest"
	"saex/templates"
)

// overflowJS reports how much wider than the viewport the page is.
const overflowJS = `document.documentElement.scrollWidth - window.innerWidth`

// Issue 11 defects 3 and 6: at 420 px no page scrolls sideways, the
// prompt's token strip wraps like text, and a long path is not echoed whole.
func TestBrowserNarrowLayout(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	ctx := newBrowser(t)
	must(t, "narrow viewport", chromedp.Do(ctx, chromedp.EmulateViewport(420, 900)))
	pages := []string{
		"/",
		"/" + webtest.TestModel,
		templates.SourceURL(webtest.TestModel, webtest.TestSource),
		templates.SourceURL(webtest.DemoModel, "1-res-topk"),
		templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.HostileIndex),
		templates.FeatureURL(webtest.GemmaModel, webtest.GemmaSource, webtest.GemmaIndex),
		templates.FeatureURL(webtest.GemmaModel, webtest.GemmaSource, webtest.GemmaIndex) + "?ctx=full",
		templates.FeatureURL(webtest.DemoModel, "1-res-topk", 5),
		templates.PromptURL(webtest.DemoModel),
		"/search?q=stegosaurus",
		"/" + strings.Repeat("x", 3000),
		templates.FeatureURL(webtest.TestModel, webtest.TestSource, 4096),
	}
	for _, p := range pages {
		must(t, "open "+p, chromedp.Do(ctx, chromedp.Navigate(env.URL+p), chromedp.WaitReady(chromedp.CSS("body"))))
		over, err := chromedp.Run(ctx, chromedp.Evaluate[float64](overflowJS))
		must(t, "measure "+p, err)
		if over > 0 {
			t.Errorf("%.60s at 420 px: the page is %v px wider than the viewport", p, over)
		}
	}
	// A prompt's token strip wraps: a sentence stays inside the page.
	prompt := "The quick brown fox jumps over the lazy dog, and Привет ∞ 日本語 🍕 — a one-sentence prompt that is long enough to need several lines at this width."
	must(t, "run prompt", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.PromptURL(webtest.DemoModel)),
		chromedp.WaitVisible(chromedp.CSS("#prompt-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#prompt-form textarea"), prompt),
		chromedp.Click(chromedp.CSS(`#prompt-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#prompt-result .ptok")),
	))
	over, err := chromedp.Run(ctx, chromedp.Evaluate[float64](overflowJS))
	must(t, "measure prompt result", err)
	strip, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('#prompt-result .ptoks').scrollWidth - document.querySelector('#prompt-result .ptoks').clientWidth`))
	must(t, "measure strip", err)
	if over > 0 {
		wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`))
		t.Logf("elements past the right edge: %v", wide)
	}
	if over > 0 || strip > 0 {
		t.Errorf("prompt result at 420 px: page %v px too wide, token strip %v px", over, strip)
	}
	saveScreenshot(t, ctx, "prompt-narrow.png")
}
