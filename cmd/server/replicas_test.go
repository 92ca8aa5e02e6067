package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/features/dashboard"
	"saex/internal/inference"
	"saex/internal/store"
	"saex/internal/store/storetest"
	"saex/internal/web"
	mw "saex/internal/web/middleware"
	"saex/internal/web/webtest"
)

// openReplicaDB opens a pool of its own on url, as a separate serve
// process has.
func openReplicaDB(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// TestSeedDemoReplicas starts two replicas' demo seeding at the same time
// over one database: exactly one registers and builds, the other serves
// the demo model and waits; when it takes the lock after the build, the
// dashboards are up to date and it builds nothing.
func TestSeedDemoReplicas(t *testing.T) {
	url := storetest.NewURL(t)
	prev, prevPoll := demoMaxContexts, demoLockPoll
	demoMaxContexts, demoLockPoll = 8, 50e6 // 50ms
	var builds, upToDate atomic.Int32
	runDemoBuild = func(ctx context.Context, o dashboard.Options) (*dashboard.Result, error) {
		res, err := dashboard.Build(ctx, o)
		if err == nil && res.UpToDate {
			upToDate.Add(1)
		} else {
			builds.Add(1)
		}
		return res, err
	}
	defer func() { demoMaxContexts, demoLockPoll, runDemoBuild = prev, prevPoll, dashboard.Build }()
	ctx := context.Background()
	deps := make([]*serveDeps, 2)
	for i := range deps {
		deps[i] = &serveDeps{DB: openReplicaDB(t, url), Log: slog.New(slog.DiscardHandler), Env: &Env{}, Background: &sync.WaitGroup{},
			Engine: inference.NewEngine(nil, 0), DataDir: t.TempDir(), Demo: &demoConfig{Dir: "../../demo"}}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(deps))
	for i, d := range deps {
		wg.Go(func() { errs[i] = seedDemo(ctx, d) })
	}
	wg.Wait()
	for i, d := range deps {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		// Each replica runs prompts itself: the engine is per process.
		if !d.Engine.CanRun(demoModelID, "3-res-topk") {
			t.Errorf("replica %d cannot run the demo", i)
		}
	}
	for _, d := range deps {
		d.Background.Wait()
	}
	if b, u := builds.Load(), upToDate.Load(); b != 1 || u != 1 {
		t.Errorf("%d builds and %d up-to-date checks, want exactly 1 build and 1 check (the waiting replica's)", b, u)
	}
	db := deps[0].DB
	srcs, err := db.ListSources(ctx, demoModelID)
	if err != nil || len(srcs) != 3 {
		t.Fatalf("sources: %d, %v", len(srcs), err)
	}
	for _, s := range srcs {
		if s.Build == nil || s.Build.State != features.BuildDone || s.Build.FeaturesDone != 4096 {
			t.Errorf("%s: build %+v", s.ID, s.Build)
		}
	}
	if rel, ok, err := db.TryLock(ctx, demoLockName); err != nil || !ok {
		t.Errorf("the demo lock is still held after both replicas finished: %v", err)
	} else {
		rel()
	}
}

// replicas starts n serve handlers, each with its own pool and response
// cache (as n processes have), over one database, seeded with webtest's
// synthetic source.
func replicas(t *testing.T, n int, compute mw.Rate) (*store.DB, []string) {
	t.Helper()
	url := storetest.NewURL(t)
	first := openReplicaDB(t, url)
	if err := webtest.SeedSynthetic(context.Background(), first, webtest.TestModel, webtest.TestSource); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for range n {
		d := &serveDeps{DB: openReplicaDB(t, url), Log: slog.New(slog.DiscardHandler),
			Env: &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}, Harden: &hardenConfig{ResponseCacheBytes: web.DefaultResponseCacheBytes, ComputeRate: compute}}
		urls = append(urls, serveTest(context.Background(), t, d).URL)
	}
	return first, urls
}

// roundRobin sends each request to the next replica, as a load balancer
// without affinity does.
type roundRobin struct {
	urls []string
	next atomic.Int32
}

func (rr *roundRobin) do(t *testing.T, method, path, key, body string) (int, string, string) {
	t.Helper()
	base := rr.urls[int(rr.next.Add(1)-1)%len(rr.urls)]
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(web.KeyHeader, key)
	}
	// Go's client asks for gzip and unzips: the response cache is in play.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, base, string(b)
}

// TestReplicasCoherent runs two serve replicas over one database behind a
// round-robin client: a write through one is seen through the other at
// once, on the feature page and feature JSON both replicas had cached,
// and a key revoked (through either replica's store, or the CLI) fails on
// both at once.
func TestReplicasCoherent(t *testing.T) {
	db, urls := replicas(t, 2, mw.Rate{})
	rr := &roundRobin{urls: urls}
	ctx := context.Background()
	key, k, err := db.CreateAPIKey(ctx, "replica test")
	if err != nil {
		t.Fatal(err)
	}
	page := "/" + webtest.TestModel + "/" + webtest.TestSource + "/4"
	api := "/api/feature/" + webtest.TestModel + "/" + webtest.TestSource + "/4"
	const text = "replica-coherence marker explanation"
	// Warm both replicas' response caches (twice each: a hit the second time).
	for range 4 {
		for _, p := range []string{page, page, api, api} { // each path through each replica in turn
			if st, base, b := rr.do(t, "GET", p, "", ""); st != 200 || strings.Contains(b, text) {
				t.Fatalf("%s%s before the write: %d, marker present %v", base, p, st, strings.Contains(b, text))
			}
		}
	}
	body, _ := json.Marshal(map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 4, "description": text})
	if st, base, b := rr.do(t, "POST", "/api/explanation/new", key, string(body)); st != 200 {
		t.Fatalf("write through %s: %d %s", base, st, b)
	}
	// Every following read, through either replica, sees it.
	for range 4 {
		for _, p := range []string{page, page, api, api} { // each path through each replica in turn
			if st, base, b := rr.do(t, "GET", p, "", ""); st != 200 || !strings.Contains(b, text) {
				t.Errorf("%s%s right after the write through the other replica: %d, explanation missing (stale cache)", base, p, st)
			}
		}
	}
	// The key works through both replicas, then is revoked once and fails
	// through both on the very next request: no replica caches keys.
	write := func() (int, string) {
		b, _ := json.Marshal(map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 5, "description": "after revoke?"})
		st, base, _ := rr.do(t, "POST", "/api/explanation/new", key, string(b))
		return st, base
	}
	for range 2 {
		if st, base := write(); st != 200 {
			t.Fatalf("valid key through %s: %d", base, st)
		}
	}
	if err := db.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 4 {
		st, base := write()
		seen[base] = true
		if st != http.StatusUnauthorized {
			t.Errorf("revoked key through %s: %d, want 401", base, st)
		}
	}
	if len(seen) != 2 {
		t.Errorf("the revoked key was tried on %d replicas, want 2", len(seen))
	}
}

// TestReplicasRateLimitPerProcess pins down what docs/scaling.md says of
// rate limits: each replica counts its clients on its own (httprate keeps
// the counters in memory), so a client that used up its budget on one
// replica still has a full budget on the other, and N replicas allow N
// times the configured rate.
func TestReplicasRateLimitPerProcess(t *testing.T) {
	_, urls := replicas(t, 2, mw.Rate{Requests: 2, Window: time.Hour})
	post := func(base string) int {
		resp, err := http.Post(base+"/api/activation/new", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 2 {
		if st := post(urls[0]); st == http.StatusTooManyRequests {
			t.Fatalf("request %d on replica 0 limited already", i+1)
		}
	}
	if st := post(urls[0]); st != http.StatusTooManyRequests {
		t.Fatalf("third request on replica 0: %d, want 429", st)
	}
	for i := range 2 {
		if st := post(urls[1]); st == http.StatusTooManyRequests {
			t.Errorf("request %d on replica 1: 429; the limit is per process, so it should still have its own budget", i+1)
		}
	}
	if st := post(urls[1]); st != http.StatusTooManyRequests {
		t.Errorf("third request on replica 1: %d, want 429", st)
	}
}
