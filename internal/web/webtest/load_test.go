package webtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad runs two routes against a local server until MaxRequests: every
// counted request is numbered once per route after the warm-up, statuses
// and errors are counted per route, and OnResult sees each counted request.
func TestLoad(t *testing.T) {
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("Gzip set, but Accept-Encoding is %q", r.Header.Get("Accept-Encoding"))
		}
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer ts.Close()
	var mu sync.Mutex
	seen := map[string]bool{}
	results := map[string]int{}
	next := func(path string) func(int, int) Request {
		return func(_, n int) Request {
			u := ts.URL + path + "?n=" + strconv.Itoa(n)
			mu.Lock()
			defer mu.Unlock()
			if seen[u] {
				t.Errorf("request %s numbered twice", u)
			}
			seen[u] = true
			return Request{Method: http.MethodGet, URL: u}
		}
	}
	res, err := Load(context.Background(), LoadConfig{
		Routes: []Route{
			{Name: "good", Workers: 3, Next: next("/good")},
			{Name: "bad", Workers: 1, Next: next("/bad")},
		},
		MaxRequests: 40, Duration: time.Minute, Gzip: true, Warmup: 2,
		OnResult: func(route string, _ Request, status int) {
			mu.Lock()
			results[route+" "+strconv.Itoa(status)]++
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	good, bad := res.Route("good"), res.Route("bad")
	if good.Count()+bad.Count() != 40 || hits.Load() != 44 {
		t.Fatalf("%d + %d counted, %d served; want 40 counted and 44 served (4 warm-up)", good.Count(), bad.Count(), hits.Load())
	}
	// The shared budget of 40 may all go to the three good workers, so the
	// bad route's first error is checked only when it got requests; the run
	// below checks it on its own.
	if good.Errors() != 0 || bad.Errors() != bad.Count() || bad.Count5xx() != bad.Count() || bad.Count() > 0 && bad.FirstError == "" {
		t.Errorf("errors: good %d, bad %d of %d (first %q)", good.Errors(), bad.Errors(), bad.Count(), bad.FirstError)
	}
	if results["good 200"] != good.Count() || results["bad 503"] != bad.Count() {
		t.Errorf("OnResult saw %v", results)
	}
	if seen[ts.URL+"/good?n=0"] != true || seen[ts.URL+"/good?n=2"] != true {
		t.Error("warm-up or first counted request not numbered from 0 and 2")
	}
	if good.P50 <= 0 || good.P50 > good.Max || good.RPS <= 0 {
		t.Errorf("latency stats: %s", good)
	}
	only, err := Load(context.Background(), LoadConfig{
		Routes:      []Route{{Name: "bad", Workers: 1, Next: func(_, n int) Request { return Request{Method: http.MethodGet, URL: ts.URL + "/bad"} }}},
		MaxRequests: 5, Duration: time.Minute, Gzip: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if b := only.Route("bad"); b.Count() != 5 || b.Errors() != 5 || b.Count5xx() != 5 || b.FirstError == "" {
		t.Errorf("a failing route alone: %d counted, %d errors, %d 5xx, first %q; want 5, 5, 5 and an error", b.Count(), b.Errors(), b.Count5xx(), b.FirstError)
	}
	if _, err := Load(context.Background(), LoadConfig{Routes: []Route{{Name: "x", Workers: 1}}, Duration: time.Second}); err == nil {
		t.Error("a route without Next was accepted")
	}
}
