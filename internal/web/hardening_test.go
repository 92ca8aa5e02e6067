package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/inference"
	"saex/internal/web"
	mw "saex/internal/web/middleware"
	"saex/internal/web/webtest"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]mw.Rate{
		"120/min": {Requests: 120, Window: time.Minute},
		"10/s":    {Requests: 10, Window: time.Second},
		"1000/h":  {Requests: 1000, Window: time.Hour},
		"50/30s":  {Requests: 50, Window: 30 * time.Second},
		" 7/M ":   {Requests: 7, Window: time.Minute},
		"off":     {},
		"0":       {},
		"":        {},
		"0/min":   {},
	} {
		got, err := mw.ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"120", "x/min", "-1/min", "10/fortnight", "10/-5s", "10/0s"} {
		if _, err := mw.ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
	if s := (mw.Rate{Requests: 120, Window: time.Minute}).String(); s != "120/min" {
		t.Errorf("String = %q", s)
	}
}

func TestComputeRateLimit(t *testing.T) {
	e := newHardened(t, false, func(h *web.Hardening) {
		h.ComputeRate = mw.Rate{Requests: 3, Window: time.Minute}
		h.TrustedProxies = []string{"127.0.0.0/8"}
	})
	post := func(client string) (int, http.Header, []byte) {
		return e.call(t, "POST", "/api/search-all", `{}`, jsonHdr("X-Forwarded-For", client))
	}
	for i := range 3 {
		if st, _, b := post("203.0.113.7"); st == http.StatusTooManyRequests {
			t.Fatalf("request %d limited early: %s", i, b)
		}
	}
	st, h, b := post("203.0.113.7")
	wantError(t, "4th compute request in a minute", st, b, 429, "rate limit exceeded")
	var body struct {
		Limit, WindowSeconds, RetryAfter int
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Limit != 3 || body.WindowSeconds != 60 || body.RetryAfter <= 0 {
		t.Fatalf("429 body %s (%v)", b, err)
	}
	if h.Get("Retry-After") == "" || h.Get("X-RateLimit-Limit") != "3" {
		t.Fatalf("429 headers: %v", h)
	}
	// Another client has its own budget; reads and pages are not limited.
	if st, _, b := post("198.51.100.2"); st == 429 {
		t.Fatalf("another client limited: %s", b)
	}
	for range 5 {
		st, _, b := e.call(t, "GET", "/api/models", "", jsonHdr("X-Forwarded-For", "203.0.113.7"))
		wantStatus(t, "read while compute-limited", st, 200, b)
	}
	// A spoofed X-Forwarded-For from an untrusted peer does not buy a new budget.
	e2 := newHardened(t, false, func(h *web.Hardening) { h.ComputeRate = mw.Rate{Requests: 1, Window: time.Minute} })
	codes := []int{}
	for i := range 3 {
		st, _, _ := e2.call(t, "POST", "/api/search-all", `{}`, jsonHdr("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i)))
		codes = append(codes, st)
	}
	if codes[1] != 429 || codes[2] != 429 {
		t.Fatalf("spoofed X-Forwarded-For evaded the limit: %v", codes)
	}
	if !strings.Contains(scrape(t, e), "saex_rate_limited_total 1") {
		t.Errorf("rate-limited request not counted")
	}
	// The pages' compute forms share the budget: a client that spent it on
	// the API cannot run prompts through the prompt tool instead, and the
	// other way round. Page views (GET) are never limited.
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "203.0.113.7"}
	st, _, b = e.call(t, "POST", "/"+webtest.TestModel+"/prompt", "text=hello", form)
	if st != http.StatusTooManyRequests || strings.HasPrefix(string(b), "{") {
		t.Errorf("prompt form post over the budget: %d %q, want 429 with a text message", st, b)
	}
	st, _, b = e.call(t, "GET", "/"+webtest.TestModel+"/prompt", "", form)
	wantStatus(t, "prompt page view over the budget", st, 200, b)
	fresh := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "198.51.100.9"}
	for i := range 3 {
		if st, _, _ := e.call(t, "POST", fmt.Sprintf("/%s/%s/3/test", webtest.TestModel, webtest.TestSource), "text=hi", fresh); st == 429 {
			t.Fatalf("form post %d limited early", i)
		}
	}
	st, _, _ = e.call(t, "POST", "/api/search-all", `{}`, jsonHdr("X-Forwarded-For", "198.51.100.9"))
	if st != 429 {
		t.Errorf("API call after 3 form posts: %d, want 429 (shared budget)", st)
	}
}

func TestBodyCaps(t *testing.T) {
	e := newHardened(t, false, func(h *web.Hardening) {})
	big := `{"query":"` + strings.Repeat("a", 2<<20) + `"}`
	st, _, b := e.call(t, "POST", "/api/explanation/search", big, jsonHdr())
	wantError(t, "2 MiB read body", st, b, 413, "larger than")
	// Without a Content-Length (chunked), reading past the cap fails too.
	req, _ := http.NewRequest("POST", e.URL+"/api/search-all", io.MultiReader(strings.NewReader(`{"text":"`), strings.NewReader(strings.Repeat("b", 2<<20)), strings.NewReader(`"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, "chunked 2 MiB compute body", resp.StatusCode, b, 413, "larger than")
	// Form posts to pages are capped as well.
	st, _, _ = e.call(t, "POST", fmt.Sprintf("/%s/prompt", webtest.TestModel), "text="+strings.Repeat("c", 2<<20),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if st != 413 && st != 400 {
		t.Fatalf("2 MiB form post: status %d, want 413 (or 400)", st)
	}
	// Uploads have their own, larger cap: 2 MiB of JSON is fine to read (and then refused by validation, not by size).
	st, _, b = e.call(t, "POST", "/api/feature/upload-batch", big, jsonHdr("X-Api-Key", e.Key))
	if st == 413 {
		t.Fatalf("2 MiB upload refused by size: %s", b)
	}
}

// scrape fetches /metrics.
func scrape(t *testing.T, e *hardEnv) string {
	t.Helper()
	st, _, b := e.call(t, "GET", web.MetricsPath, "", nil)
	wantStatus(t, "GET /metrics", st, 200, b)
	return string(b)
}

func TestMetricsAndRequestLog(t *testing.T) {
	e := newHardened(t, false, nil)
	featPath := fmt.Sprintf("/api/feature/%s/%s/%d", webtest.TestModel, webtest.TestSource, 1)
	for range 3 {
		st, _, b := e.call(t, "GET", featPath, "", nil)
		wantStatus(t, featPath, st, 200, b)
	}
	e.call(t, "GET", "/api/feature/nope/nope/1", "", nil)
	e.call(t, "POST", "/api/feature/upload-batch", `{}`, jsonHdr())
	_, h, _ := e.call(t, "GET", "/healthz", "", map[string]string{web.RequestIDHeader: "lb-probe-42"})
	if h.Get(web.RequestIDHeader) != "lb-probe-42" {
		t.Errorf("a sane incoming request id is not kept: %q", h.Get(web.RequestIDHeader))
	}
	_, h, _ = e.call(t, "GET", "/healthz", "", map[string]string{web.RequestIDHeader: "evil\" id=forged"})
	if id := h.Get(web.RequestIDHeader); id == "" || strings.ContainsAny(id, "\" =") {
		t.Errorf("an unsafe request id is echoed: %q", id)
	}
	ctx := context.Background()
	if err := e.DB.SetBuildStatus(ctx, webtest.TestModel, webtest.TestSource, &features.BuildStatus{
		State: features.BuildRunning, FeaturesDone: 17, FeaturesTotal: 60, ContextsDone: 5, ContextsTotal: 9,
	}); err != nil {
		t.Fatal(err)
	}

	m := scrape(t, e)
	for _, want := range []string{
		`saex_http_request_duration_seconds_count{method="GET",route="/api/feature/{model}/{source}/{index}",status="2xx"} 3`,
		`saex_http_request_duration_seconds_count{method="GET",route="/api/feature/{model}/{source}/{index}",status="4xx"} 1`,
		`saex_http_request_duration_seconds_count{method="POST",route="/api/feature/upload-batch",status="4xx"} 1`,
		`saex_http_request_duration_seconds_count{method="GET",route="/healthz",status="2xx"} 2`,
		`saex_auth_failures_total{status="401"} 1`,
		fmt.Sprintf("saex_compute_slots %d", inference.DefaultComputeSlots),
		`saex_compute_slots_busy 0`,
		`saex_compute_queue_depth 0`,
		`saex_compute_requests_in_flight 0`,
		`saex_db_pool_max_conns`,
		`saex_db_pool_total_conns`,
		fmt.Sprintf(`saex_build_features_done{model=%q,source=%q} 17`, webtest.TestModel, webtest.TestSource),
		fmt.Sprintf(`saex_build_features_total{model=%q,source=%q} 60`, webtest.TestModel, webtest.TestSource),
		fmt.Sprintf(`saex_build_contexts_done{model=%q,source=%q} 5`, webtest.TestModel, webtest.TestSource),
		fmt.Sprintf(`saex_build_state{model=%q,source=%q,state="running"} 1`, webtest.TestModel, webtest.TestSource),
		fmt.Sprintf(`saex_build_state{model=%q,source=%q,state="done"} 0`, webtest.TestModel, webtest.TestSource),
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, "route=\"/api/feature/"+webtest.TestModel) {
		t.Errorf("/metrics labels routes by raw path (unbounded cardinality)")
	}

	// One JSON log line per request with the route pattern.
	var found bool
	sc := bufio.NewScanner(strings.NewReader(e.Log.String()))
	for sc.Scan() {
		var line struct {
			Msg, Method, Route, Path, RequestID string
			Status, Bytes                       int
			DurationMS                          float64 `json:"duration_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		var raw map[string]any
		_ = json.Unmarshal(sc.Bytes(), &raw)
		if line.Msg == "request" && line.Route == "/api/feature/{model}/{source}/{index}" && line.Status == 200 && line.Path == featPath {
			found = true
			if raw["request_id"] == "" || line.Bytes <= 0 || line.DurationMS <= 0 || line.Method != "GET" || raw["remote"] == "" {
				t.Errorf("request log line incomplete: %s", sc.Text())
			}
		}
	}
	if !found {
		t.Fatalf("no request log line for %s in:\n%s", featPath, e.Log.String())
	}
}

func TestHungDatabaseFailsFast(t *testing.T) {
	e := newHardened(t, false, func(h *web.Hardening) { h.ReadDeadline = 500 * time.Millisecond })
	ctx := context.Background()
	// Warm the pool so the request needs no new connection, then lock the
	// features table: every read of it now waits, as on a hung server.
	e.call(t, "GET", fmt.Sprintf("/api/feature/%s/%s/1", webtest.TestModel, webtest.TestSource), "", nil)
	tx, err := e.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE features IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		fmt.Sprintf("/api/feature/%s/%s/2", webtest.TestModel, webtest.TestSource),
		fmt.Sprintf("/%s/%s/2", webtest.TestModel, webtest.TestSource),
	} {
		start := time.Now()
		st, h, b := e.call(t, "GET", p, "", nil)
		took := time.Since(start)
		if st != http.StatusServiceUnavailable {
			t.Errorf("GET %s on a hung database: status %d, want 503: %.200s", p, st, b)
		}
		if h.Get("Retry-After") == "" && strings.HasPrefix(p, "/api/") {
			t.Errorf("GET %s: 503 without Retry-After", p)
		}
		if took > 3*time.Second {
			t.Errorf("GET %s took %v on a hung database, want about the 500 ms deadline", p, took)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	st, _, b := e.call(t, "GET", fmt.Sprintf("/api/feature/%s/%s/2", webtest.TestModel, webtest.TestSource), "", nil)
	wantStatus(t, "after the lock is gone", st, 200, b)
}
