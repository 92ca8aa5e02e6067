package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/web"
)

// TestReadSlots checks the read bound: with every slot held, further GETs
// wait and enter in arrival order as slots free up; a POST is not held
// back, nor is a GET while Bypass says so (a prompt is running); a GET
// whose deadline passes in line gets busy's 503.
func TestReadSlots(t *testing.T) {
	const n = 2
	release := map[string]chan struct{}{"/hold1": make(chan struct{}), "/hold2": make(chan struct{})}
	var mu sync.Mutex
	var entered []string
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		entered = append(entered, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if ch, ok := release[r.URL.Path]; ok {
			<-ch
		}
		w.WriteHeader(http.StatusOK)
	})
	busy := func(w http.ResponseWriter, r *http.Request, err error) {
		if features.ErrorCode(err) != features.EUNAVAILABLE {
			t.Errorf("busy got %v, want an %s error", err, features.EUNAVAILABLE)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": features.ErrorMessage(err)})
	}
	rs := web.NewReadSlots(n)
	var bypass atomic.Bool
	rs.Bypass = bypass.Load
	h := rs.Middleware(busy)(inner)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(entered) }
	waitFor := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); count() < want; {
			if time.Now().After(deadline) {
				t.Fatalf("%d requests entered, want %d", count(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	serve := func(method, path string, ctx context.Context) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, method, path, nil))
		return rec
	}

	var wg sync.WaitGroup
	codes := make(chan int, 10)
	get := func(path string) {
		wg.Go(func() { codes <- serve(http.MethodGet, path, context.Background()).Code })
	}
	// Fill both slots, then queue two more reads in a known order.
	get("/hold1")
	waitFor(1)
	get("/hold2")
	waitFor(2)
	// Each queued GET is given ample time to reach the queue before the
	// next one starts, so that their order in line is known.
	get("/first")
	time.Sleep(100 * time.Millisecond)
	get("/second")
	time.Sleep(100 * time.Millisecond)
	if c := count(); c != 2 {
		t.Fatalf("%d requests entered with %d slots held, want 2", c, n)
	}

	// A POST passes the full slots.
	if rec := serve(http.MethodPost, "/post", context.Background()); rec.Code != http.StatusOK {
		t.Fatalf("POST: status %d", rec.Code)
	}
	// While Bypass holds, a GET passes them too.
	bypass.Store(true)
	if rec := serve(http.MethodGet, "/bypassed", context.Background()); rec.Code != http.StatusOK {
		t.Fatalf("bypassed GET: status %d", rec.Code)
	}
	bypass.Store(false)
	// A queued GET whose deadline passes is answered 503 without entering.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if rec := serve(http.MethodGet, "/late", ctx); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("expired GET: status %d, want 503", rec.Code)
	}

	// One slot frees: the first in line enters, finishes, and hands its
	// slot to the second.
	close(release["/hold1"])
	waitFor(6)
	close(release["/hold2"])
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("a queued GET got status %d", c)
		}
	}
	want := []string{"GET /hold1", "GET /hold2", "POST /post", "GET /bypassed", "GET /first", "GET /second"}
	if !slices.Equal(entered, want) {
		t.Fatalf("entered %v, want %v", entered, want)
	}
}

// TestReadSlotsUnbounded checks that n <= 0 admits every read at once.
func TestReadSlotsUnbounded(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(8)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Done()
		<-release
	})
	h := web.NewReadSlots(0).Middleware(nil)(inner)
	var done sync.WaitGroup
	for range 8 {
		done.Go(func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil)) })
	}
	entered.Wait() // hangs (and the test times out) if any read is held back
	close(release)
	done.Wait()
}
