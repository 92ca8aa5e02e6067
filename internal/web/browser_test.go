package web_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"saex/internal/testenv"
	"saex/internal/web/webtest"
	"saex/templates"
)

// findChromium returns the browser binary, or "" when none is installed.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile for the test.
// Without Chromium the test fails, unless SAEX_SKIP_BROWSER=1 opts out of
// the browser tests (never under CI=true, SAEX_REQUIRE_DB=1 or
// SAEX_REQUIRE_BROWSER=1): see internal/testenv.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium()
	if path == "" {
		testenv.Missing(t, testenv.Chromium, errors.New("no chromium, chromium-browser or google-chrome on PATH"))
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// saveScreenshot writes a full-page screenshot to docs/screenshots/ when
// SAEX_UPDATE_SCREENSHOTS=1 (so ordinary test runs leave the tree alone);
// otherwise it only checks that one can be taken.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot %s is only %d bytes", name, len(png))
	}
	if os.Getenv("SAEX_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	dir := filepath.Join(testenv.RepoRoot(t), "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote docs/screenshots/%s", name)
}

// must fails the test on a browser error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestBrowserHomeSourceFeature clicks from the home page to a source and a
// feature, checks the dashboard and the context-window switch.
func TestBrowserHomeSourceFeature(t *testing.T) {
	env := webtest.New(t, nil)
	ctx := newBrowser(t)
	srcURL := templates.SourceURL(webtest.TestModel, webtest.TestSource)
	must(t, "open home", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`a.source-link[href="`+srcURL+`"]`)),
		chromedp.Click(chromedp.CSS(`a.source-link[href="`+srcURL+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.features")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	must(t, "location", err)
	if !strings.HasSuffix(loc, srcURL) {
		t.Fatalf("on %s, want the source page", loc)
	}
	featURL := templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.SeededIndex)
	must(t, "open feature", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a.feature-link[href="`+featURL+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("section.explanations")),
	))
	expl, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.explanations")))
	must(t, "read explanations", err)
	if !strings.Contains(expl, webtest.SeededExplanation) {
		t.Errorf("explanations pane: %q", expl)
	}
	// Follow a decoder-cosine neighbour.
	must(t, "neighbour", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("a.neighbour-link")),
		chromedp.WaitVisible(chromedp.CSS("section.explanations")),
	))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/"+itoa(webtest.SeededIndex+1)) {
		t.Errorf("neighbour link led to %s", loc)
	}

	// A real imported feature: long contexts are cut to a window around the
	// max until "show full context" swaps the section in (htmx, no reload).
	must(t, "open gemma feature", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.FeatureURL(webtest.GemmaModel, webtest.GemmaSource, webtest.GemmaIndex)),
		chromedp.WaitVisible(chromedp.CSS("#activations")),
		chromedp.Evaluate[chromedp.Void](`window.__marker = 1`),
	))
	countTokens := `document.querySelectorAll('#activations .toks > span').length`
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](countTokens))
	must(t, "count tokens", err)
	must(t, "show full context", chromedp.Do(ctx, chromedp.Click(chromedp.ID("ctx-toggle"))))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#activations p.ctx').textContent.includes('full context ·')`))
	must(t, "wait for the full context", err)
	after, err := chromedp.Run(ctx, chromedp.Evaluate[int](countTokens))
	must(t, "count tokens", err)
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__marker === 1`))
	must(t, "marker", err)
	if before == 0 || after <= 2*before || !kept {
		t.Errorf("context switch: %d tokens in the window view, %d in the full view, page kept: %v", before, after, kept)
	}
	highlighted, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#activations .a20')).backgroundColor`))
	must(t, "highlight colour", err)
	if !strings.Contains(highlighted, "52, 211, 153") {
		t.Errorf("max token background %q, want emerald", highlighted)
	}
	must(t, "back to the window", chromedp.Do(ctx, chromedp.Click(chromedp.ID("ctx-toggle"))))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#activations p.ctx').textContent.includes('window around the bold token ·')`))
	must(t, "wait for the window view", err)
	saveScreenshot(t, ctx, "feature.png")
}

// TestBrowserHostileTokens checks in a real DOM that token strings are text.
func TestBrowserHostileTokens(t *testing.T) {
	env := webtest.New(t, nil)
	ctx := newBrowser(t)
	must(t, "open", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.HostileIndex)),
		chromedp.WaitVisible(chromedp.CSS("#activations")),
	))
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelector('#activations .toks').querySelectorAll(':scope > span')].map(e => e.textContent)`))
	must(t, "read tokens", err)
	want := []string{"<script>alert(1)</script>", `"quoted" & 'single'`, "nul␀byte", "bad\uFFFD\uFFFDutf8", "line↵break", " tab⇥here", "</span><b>bold</b>"}
	if len(texts) != len(want) {
		t.Fatalf("tokens %q, want %q", texts, want)
	}
	for i := range want {
		if texts[i] != want[i] {
			t.Errorf("token %d: %q, want %q", i, texts[i], want[i])
		}
	}
	counts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.scripts.length, document.querySelectorAll('main b').length, typeof window.alertCalled === 'undefined' ? 0 : 1]`))
	must(t, "count elements", err)
	if counts[0] != 2 || counts[1] != 0 {
		t.Errorf("%d scripts (want 2: htmx and feature.js) and %d <b> elements (want 0)", counts[0], counts[1])
	}
}

// TestBrowserExplanationSearch finds a seeded explanation and opens its feature.
func TestBrowserExplanationSearch(t *testing.T) {
	env := webtest.New(t, nil)
	ctx := newBrowser(t)
	must(t, "search", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+"/search"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=q]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), "stegosaurus fossils"),
		chromedp.Submit(chromedp.CSS(`input[name=q]`)),
		chromedp.WaitVisible(chromedp.CSS("a.hit-link")),
	))
	hits, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('a.hit-link')].map(a => a.getAttribute('href'))`))
	must(t, "read hits", err)
	want := templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.SeededIndex)
	if len(hits) != 1 || hits[0] != want {
		t.Fatalf("hits %v, want [%s]", hits, want)
	}
	must(t, "open hit", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("a.hit-link")),
		chromedp.WaitVisible(chromedp.CSS("section.explanations")),
	))
	expl, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.explanations")))
	must(t, "read explanation", err)
	if !strings.Contains(expl, webtest.SeededExplanation) {
		t.Errorf("feature page shows %q", expl)
	}
}
