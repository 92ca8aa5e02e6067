package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	mw "saex/internal/web/middleware"
	"saex/internal/web/webtest"
	"saex/templates"
)

// cspWatch collects what the browser reports about the page: CSP
// violations, errors the browser logs itself, uncaught exceptions (which a
// refused script would cause) and scripts' console errors about the policy
// or eval (htmx's own, with allowEval off).
type cspWatch struct {
	mu   sync.Mutex
	msgs []string
}

func watchConsole(t *testing.T, ctx context.Context) *cspWatch {
	t.Helper()
	w := &cspWatch{}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			// Network errors (a favicon's 404, a page's own 4xx) are not the page's fault.
			if ev.Entry.Source != log.EntrySourceNetwork && (ev.Entry.Level == log.EntryLevelError || strings.Contains(ev.Entry.Text, "Content Security Policy")) {
				msg = string(ev.Entry.Source) + ": " + ev.Entry.Text
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var text string
				for _, a := range ev.Args {
					text += " " + string(a.Value) + a.Description
				}
				if strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Refused to") || strings.Contains(text, "eval") {
					msg = "console.error:" + text
				}
			}
		}
		if msg != "" {
			w.mu.Lock()
			w.msgs = append(w.msgs, msg)
			w.mu.Unlock()
		}
	})
	must(t, "listen to the console", err)
	return w
}

// take returns and clears what was reported.
func (w *cspWatch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

// TestBrowserCSPSelfCheck: the watch does see a violation of the policy
// (a page with an inline script, an inline handler and an inline style),
// so a silent TestBrowserPagesUnderCSP means the pages comply.
func TestBrowserCSPSelfCheck(t *testing.T) {
	ts := httptest.NewServer(mw.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>x</title></head><body>
<p style="color:red" id="p">inline</p><script>document.title = "ran"</script>
<button id="b" onclick="document.title='clicked'">b</button></body></html>`))
	})))
	defer ts.Close()
	ctx := newBrowser(t)
	w := watchConsole(t, ctx)
	must(t, "open the bad page", chromedp.Do(ctx, chromedp.Navigate(ts.URL), chromedp.WaitVisible(chromedp.ID("b")), chromedp.Click(chromedp.ID("b"))))
	title, err := chromedp.Run(ctx, chromedp.Title())
	must(t, "title", err)
	if title != "x" {
		t.Errorf("an inline script ran under the policy (title %q)", title)
	}
	_, _ = chromedp.Run(ctx, chromedp.Poll[bool](`true`)) // let the reports arrive
	if got := w.take(); len(got) == 0 {
		t.Fatal("no CSP violation reported for an inline script, handler and style: the watch is blind")
	}
}

// TestBrowserPagesUnderCSP loads every page with the Content-Security-Policy
// on and uses its htmx parts (context switch, feature test, prompt run,
// token panel); any CSP violation or script error in the console fails.
func TestBrowserPagesUnderCSP(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	ctx := newBrowser(t)
	w := watchConsole(t, ctx)
	check := func(what string) {
		t.Helper()
		_, _ = chromedp.Run(ctx, chromedp.Poll[bool](`document.readyState === "complete"`))
		for _, m := range w.take() {
			t.Errorf("%s: %s", what, m)
		}
	}
	resp, err := http.Get(env.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") == "" {
		t.Fatalf("security headers missing: %v", resp.Header)
	}
	for _, path := range []string{
		"/",
		"/" + webtest.TestModel,
		templates.SourceURL(webtest.TestModel, webtest.TestSource),
		templates.SourceURL(webtest.TestModel, webtest.TestSource) + "?jump=abc",
		templates.FeatureURL(webtest.TestModel, webtest.TestSource, webtest.HostileIndex),
		"/search",
		"/search?q=stegosaurus",
		"/no/such/page/here",
		templates.PromptURL(webtest.DemoModel),
		templates.SteerURL(webtest.DemoModel),
	} {
		must(t, "open "+path, chromedp.Do(ctx, chromedp.Navigate(env.URL+path), chromedp.WaitReady(chromedp.CSS("body"))))
		check(path)
	}
	// htmx: the context switch of a long imported feature.
	must(t, "context switch", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.FeatureURL(webtest.GemmaModel, webtest.GemmaSource, webtest.GemmaIndex)),
		chromedp.WaitVisible(chromedp.ID("ctx-toggle")),
		chromedp.Click(chromedp.ID("ctx-toggle")),
	))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#activations p.ctx').textContent.includes('full context')`))
	must(t, "wait for the full context", err)
	check("feature page, context switch")
	// htmx: the feature test form and the prompt tool with its token panel.
	must(t, "feature test", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.FeatureURL(webtest.DemoModel, webtest.DemoSources[0], 1)),
		chromedp.WaitVisible(chromedp.CSS("#test-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#test-form textarea"), demoText),
		chromedp.Click(chromedp.CSS("#test-form button")),
		chromedp.WaitVisible(chromedp.CSS("#test-result .test-out")),
	))
	check("feature test")
	must(t, "prompt tool", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.PromptURL(webtest.DemoModel)),
		chromedp.WaitVisible(chromedp.CSS("#prompt-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#prompt-form textarea"), webtest.DemoPrompts[2]),
		chromedp.Click(chromedp.CSS(`#prompt-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#prompt-result a.pfeature-link")),
		chromedp.Click(chromedp.CSS(`#prompt-result .ptok:nth-child(3)`)),
		chromedp.WaitVisible(chromedp.CSS("#token-panel a.token-feature-link")),
	))
	check("prompt tool and token panel")
	// The steer page's script: a shared run that streams from /api/steer.
	must(t, "steer page", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.SteerURL(webtest.DemoModel)+"?run=1&prompt=Hello&feature=1-res-topk:5&strength=50&n_tokens=4"),
		chromedp.WaitVisible(chromedp.ID("steer-steered")),
	))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](steerDone))
	must(t, "wait for the steer run", err)
	if st, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("steer-status"))); err != nil || st != "done" {
		t.Errorf("steer run under CSP: status %q %v", st, err)
	}
	check("steer page run")
}
