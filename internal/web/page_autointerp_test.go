package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/llm"
	"saex/internal/store"
	"saex/internal/web"
	"saex/internal/web/webtest"
	"saex/templates"
)

// jobSource is a source of the synthetic model whose jobSourceFeatures
// features have examples enough for the scorers to hold some out, and
// each other's examples as non-activating contexts.
const (
	jobSource         = "1-res-webtest"
	jobSourceFeatures = 8
)

func seedJobSource(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	if err := db.UpsertSource(ctx, &features.Source{ModelID: webtest.TestModel, ID: jobSource, SetName: "res-webtest", NumFeatures: jobSourceFeatures}); err != nil {
		t.Fatal(err)
	}
	top := float64(features.TopBin)
	var fs []*features.Feature
	for i := range jobSourceFeatures {
		ft := &features.Feature{ModelID: webtest.TestModel, SourceID: jobSource, Index: i, MaxActApprox: 5,
			TopkCosSimIndices: []int{i, (i + 1) % jobSourceFeatures}, TopkCosSimValues: []float64{1, 0.5}}
		for k := range 8 {
			toks := []string{"Doc", " " + strconv.Itoa(k), " says", " w" + strconv.Itoa(i), " here", "."}
			ft.Activations = append(ft.Activations, &features.Activation{ModelID: webtest.TestModel, SourceID: jobSource, Index: i,
				Tokens: toks, Values: []float32{0, 0, 0, float32(5 - k/2), 0, 0}, MaxValue: float64(5 - k/2), MaxValueTokenIndex: 3, BinMin: &top})
		}
		fs = append(fs, ft)
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: webtest.TestModel, SourceID: jobSource, Features: fs}); err != nil {
		t.Fatal(err)
	}
}

// autoInterpEnv is a hardened server whose source pages start auto-interp
// jobs against the fake chat-completions server; each LLM request first
// waits for gate to be closed (nil: no wait).
type autoInterpEnv struct {
	*hardEnv
	jobLog *webtest.SyncBuffer // the runner's log
}

func newAutoInterpEnv(t *testing.T, gate chan struct{}) *autoInterpEnv {
	t.Helper()
	var broken atomic.Bool
	chat := chatServer(t, &broken)
	target, _ := url.Parse(chat.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gate != nil {
			<-gate
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	jobLog := &webtest.SyncBuffer{}
	e := newHardenedWith(t, false, nil, func(s *web.Server) {
		c, err := llm.New(llm.Config{BaseURL: front.URL + "/v1", APIKey: llmSecret, Model: "explainer-x", MaxRetries: -1, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		db := s.Features.(*store.DB)
		p := &autointerp.Pipeline{Store: db, Explainer: &autointerp.Explainer{LLM: c, Model: "explainer-x"}, Scorer: &autointerp.Scorer{LLM: c, Model: "scorer-x"}}
		r := &autointerp.Runner{Pipeline: p, Jobs: db, Concurrency: 2, SaveEvery: 50 * time.Millisecond,
			Logger: slog.New(slog.NewJSONHandler(jobLog, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		ctx, cancel := context.WithCancel(context.Background())
		wg := &sync.WaitGroup{}
		r.Start(ctx, wg)
		t.Cleanup(func() { cancel(); wg.Wait() })
		s.AutoInterpJobs = r
	})
	return &autoInterpEnv{hardEnv: e, jobLog: jobLog}
}

// waitJobDone polls the panel until the source's job has ended.
func (e *autoInterpEnv) waitJobDone(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _, b := e.call(t, http.MethodGet, templates.SourceURL(webtest.TestModel, jobSource)+"/autointerp", "", nil)
		wantStatus(t, "panel", st, 200, b)
		if !strings.Contains(string(b), "hx-trigger") {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still running: %s", truncate(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAutoInterpJobFromTheSourcePage starts a job with the page's form:
// only a logged-in key that may write the source sees and may use the
// form, bad fields are 400s naming them, one job runs per source, and the
// panel shows progress, then the summary; the scores then sort the
// browser. No secret reaches a page or a log.
func TestAutoInterpJobFromTheSourcePage(t *testing.T) {
	gate := make(chan struct{})
	e := newAutoInterpEnv(t, gate)
	seedJobSource(t, e.DB)
	src := templates.SourceURL(webtest.TestModel, jobSource)
	reader := scopedKey(t, e.hardEnv, "reader", features.ScopeRead)
	uploader := scopedKey(t, e.hardEnv, "uploader", features.ScopeUpload)
	key := func(k string) map[string]string { return map[string]string{"X-Api-Key": k} }
	form := func(k string, vals url.Values) (int, http.Header, []byte) {
		t.Helper()
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		if k != "" {
			h["X-Api-Key"] = k
		}
		req, _ := http.NewRequest(http.MethodPost, e.URL+src+"/autointerp", strings.NewReader(vals.Encode()))
		for n, v := range h {
			req.Header.Set(n, v)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, resp.Header, []byte(b.String())
	}
	var pages []string
	page := func(what string, hdr map[string]string) string {
		t.Helper()
		st, _, b := e.call(t, http.MethodGet, src, "", hdr)
		wantStatus(t, what, st, 200, b)
		pages = append(pages, string(b))
		return string(b)
	}

	// Who sees the form.
	if b := page("anonymous", nil); strings.Contains(b, "autointerp-form") || !strings.Contains(b, "Log in with an API key") {
		t.Errorf("anonymous visitor: form shown or no hint")
	}
	if b := page("reader", key(reader)); strings.Contains(b, "autointerp-form") || !strings.Contains(b, "may not write") {
		t.Errorf("read key: form shown or no hint")
	}
	if b := page("uploader", key(uploader)); strings.Contains(b, "autointerp-form") {
		t.Errorf("upload key on a source it does not own: form shown")
	}
	if b := page("admin", key(e.Key)); !strings.Contains(b, "autointerp-form") || !strings.Contains(b, `value="eleuther_recall"`) {
		t.Errorf("admin key: no form")
	}
	// Who may post it.
	ok := url.Values{"features": {"0-3"}, "scorers": {"eleuther_recall"}, "budget": {"100000"}}
	for _, c := range []struct {
		what, key string
		vals      url.Values
		want      int
		says      string
	}{
		{"no key", "", ok, 401, "Log in"},
		{"read key", reader, ok, 403, ""},
		{"upload key, not the owner", uploader, ok, 403, ""},
		{"range past the end", e.Key, url.Values{"features": {"0,999999999"}}, 400, "features"},
		{"bad range", e.Key, url.Values{"features": {"ten"}}, 400, "features"},
		{"bad budget", e.Key, url.Values{"budget": {"-5"}}, 400, "budget"},
		{"bad scorer", e.Key, url.Values{"scorers": {"simulation"}}, 400, "scorers"},
	} {
		st, _, b := form(c.key, c.vals)
		if st != c.want || !strings.Contains(string(b), c.says) {
			t.Errorf("%s: %d, want %d saying %q: %s", c.what, st, c.want, c.says, truncate(b))
		}
	}
	st, h, b := form(e.Key, ok)
	if st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), src) {
		t.Fatalf("start: %d %s %s", st, h.Get("Location"), truncate(b))
	}
	// While it runs (the endpoint is held): progress that polls, and no second job.
	if b := page("running", key(e.Key)); !strings.Contains(b, "hx-trigger=\"every 2s\"") || !strings.Contains(b, "is explaining 4 features (0-3)") ||
		strings.Contains(b, "autointerp-form") {
		t.Errorf("running job's panel: %s", truncate([]byte(b)))
	}
	if st, _, b := form(e.Key, ok); st != http.StatusConflict || !strings.Contains(string(b), "already running") {
		t.Errorf("second job: %d %s", st, truncate(b))
	}
	close(gate)
	done := e.waitJobDone(t)
	pages = append(pages, done)
	for _, want := range []string{"is done", "4 / 4 features", "explained", "detection score", "tokens used", "of a budget of 100,000"} {
		if !strings.Contains(done, want) {
			t.Errorf("summary lacks %q: %s", want, truncate([]byte(done)))
		}
	}
	// The scores are on the feature pages and sort the browser.
	st, b = get(t, e.URL+templates.FeatureURL(webtest.TestModel, jobSource, 0))
	if st != 200 || !strings.Contains(string(b), "eleuther_recall") || !strings.Contains(string(b), "synthetic stegosaurus pattern") {
		t.Errorf("feature 0 lacks the job's explanation or score: %d", st)
	}
	pages = append(pages, string(b))
	sorted := page("sorted by score", key(e.Key))
	if !strings.Contains(sorted, `value="score:eleuther_recall"`) {
		t.Errorf("no sort by detection score offered")
	}
	st, b = get(t, e.URL+src+"?sort=score:eleuther_recall&desc=1")
	if st != 200 || !strings.Contains(string(b), "score-col") || strings.Count(string(b), `<td class="num sortscore">0.`)+strings.Count(string(b), `<td class="num sortscore">1.`) != 4 {
		t.Errorf("sorted page: %d, %d scored rows", st, strings.Count(string(b), `<td class="num sortscore">0.`)+strings.Count(string(b), `<td class="num sortscore">1.`))
	}
	// A scorer without scores here sorts by index and stays selected.
	st, b = get(t, e.URL+src+"?sort=score:eleuther_embedding")
	if st != 200 || !strings.Contains(string(b), `<option value="score:eleuther_embedding" selected>`) {
		t.Errorf("sort by a scorer the source lacks: %d", st)
	}
	st, b = get(t, e.URL+src+"?sort=score:a%00b")
	if st != 400 || !strings.Contains(string(b), "sort") {
		t.Errorf("bad score sort: %d", st)
	}
	pages = append(pages, string(b))
	for _, p := range pages {
		if strings.Contains(p, llmSecret) {
			t.Errorf("a page shows the LLM key")
		}
	}
	for what, l := range map[string]string{"request log": e.Log.String(), "job log": e.jobLog.String()} {
		if strings.Contains(l, llmSecret) {
			t.Errorf("the %s shows the LLM key", what)
		}
	}
	if !strings.Contains(e.jobLog.String(), "auto-interp job done") {
		t.Errorf("job log: %s", e.jobLog.String())
	}
}

// TestAutoInterpPanelUnconfigured: without an endpoint the source page
// names the settings to make (names only) and the form's route says the
// same with a 503.
func TestAutoInterpPanelUnconfigured(t *testing.T) {
	env := webtest.New(t, nil)
	src := templates.SourceURL(webtest.TestModel, webtest.TestSource)
	st, b := get(t, env.URL+src)
	if st != 200 || !strings.Contains(string(b), "autointerp-setup") || !strings.Contains(string(b), "SAEX_LLM_BASE_URL") || !strings.Contains(string(b), "SAEX_LLM_MODEL") {
		t.Errorf("source page without an endpoint: %d", st)
	}
	st, _, b = do(t, http.MethodPost, env.URL+src+"/autointerp", strings.NewReader("features=0-3"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if st != 503 || !strings.Contains(string(b), "SAEX_LLM_BASE_URL") {
		t.Errorf("start without an endpoint: %d %s", st, truncate(b))
	}
}
