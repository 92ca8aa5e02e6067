package web_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"saex/internal/web/webtest"
	"saex/templates"
)

// TestBrowserAutoInterpJob logs in, starts an auto-interp job from the
// source page's form against the fake chat-completions server, watches
// the panel's progress reach the summary, finds the scores on a feature
// page and sorts the browser by them.
func TestBrowserAutoInterpJob(t *testing.T) {
	gate := make(chan struct{}) // holds the LLM's replies until the running job has been seen
	e := newAutoInterpEnv(t, gate)
	seedJobSource(t, e.DB)
	src := templates.SourceURL(webtest.TestModel, jobSource)
	ctx := newBrowser(t)
	must(t, "log in", chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/login?next="+url.QueryEscape(src)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="key"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="key"]`), e.Key),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("form.autointerp-form")),
	))
	must(t, "start the job", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form.autointerp-form input[name="features"]`), "0-"+strconv.Itoa(jobSourceFeatures-1)),
		chromedp.Click(chromedp.CSS(`form.autointerp-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("section.autointerp[hx-get] .autointerp-job.running progress")),
	))
	running, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.autointerp")))
	must(t, "read the running job", err)
	if !strings.Contains(running, "is explaining "+strconv.Itoa(jobSourceFeatures)+" features") || !strings.Contains(running, "0 / "+strconv.Itoa(jobSourceFeatures)+" features") {
		t.Errorf("running job's panel: %q", running)
	}
	close(gate)
	// htmx polls the panel while the job runs and reloads the page when it ends.
	// The reload interrupts a poll: ask again until the summary shows.
	deadline := time.Now().Add(60 * time.Second)
	for {
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('.autointerp-headline') && document.querySelector('.autointerp-headline').textContent.includes('is done')`))
		if err == nil && done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's summary never showed (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	panel, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.autointerp")))
	must(t, "read the summary", err)
	for _, want := range []string{strconv.Itoa(jobSourceFeatures) + " / " + strconv.Itoa(jobSourceFeatures) + " features", "explained", "scored", "tokens used"} {
		if !strings.Contains(panel, want) {
			t.Errorf("summary lacks %q: %q", want, panel)
		}
	}
	if strings.Contains(panel, llmSecret) {
		t.Errorf("the panel shows the LLM key")
	}
	saveScreenshot(t, ctx, "autointerp-job.png")

	// The scores are on the feature page.
	must(t, "open a feature", chromedp.Do(ctx,
		chromedp.Navigate(e.URL+templates.FeatureURL(webtest.TestModel, jobSource, 2)),
		chromedp.WaitVisible(chromedp.CSS("section.explanations")),
	))
	expl, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.explanations")))
	must(t, "read explanations", err)
	if !strings.Contains(expl, "synthetic stegosaurus pattern") || !strings.Contains(expl, "eleuther_recall") {
		t.Errorf("explanations pane: %q", expl)
	}

	// The browser sorts by them.
	must(t, "sort by score", chromedp.Do(ctx,
		chromedp.Navigate(e.URL+src),
		chromedp.WaitVisible(chromedp.CSS("form.filter")),
		chromedp.SetValue(chromedp.CSS(`form.filter select[name="sort"]`), "score:eleuther_recall"),
		chromedp.Click(chromedp.CSS(`form.filter input[name="desc"]`)),
		chromedp.Click(chromedp.CSS(`form.filter button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("th.score-col")),
	))
	scores, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('td.sortscore')).map(td => td.textContent.trim())`))
	must(t, "read scores", err)
	if len(scores) != jobSourceFeatures {
		t.Fatalf("%d score cells, want %d: %v", len(scores), jobSourceFeatures, scores)
	}
	prev := 2.0
	for _, s := range scores {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v > prev {
			t.Fatalf("scores not a descending list of numbers: %v", scores)
		}
		prev = v
	}
	saveScreenshot(t, ctx, "source-sorted-by-score.png")
}

// TestBrowserAutoInterpUnconfigured: with no LLM endpoint the source page
// says which settings to make instead of showing a form that would fail.
func TestBrowserAutoInterpUnconfigured(t *testing.T) {
	env := webtest.New(t, nil)
	ctx := newBrowser(t)
	must(t, "open source", chromedp.Do(ctx,
		chromedp.Navigate(env.URL+templates.SourceURL(webtest.TestModel, webtest.TestSource)),
		chromedp.WaitVisible(chromedp.CSS("section.autointerp .autointerp-setup")),
	))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".autointerp-setup")))
	must(t, "read the setup note", err)
	for _, name := range []string{"SAEX_LLM_BASE_URL", "SAEX_LLM_MODEL", "SAEX_LLM_API_KEY"} {
		if !strings.Contains(text, name) {
			t.Errorf("setup note lacks %s: %q", name, text)
		}
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('form.autointerp-form').length`)); err != nil || n != 0 {
		t.Errorf("a job form without an endpoint (%d, %v)", n, err)
	}
	saveScreenshot(t, ctx, "autointerp-unconfigured.png")
}
