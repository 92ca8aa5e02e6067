package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"saex/internal/features"
	"saex/internal/inference"
)

// TestAdmitReads checks the read gate Hardening puts on pages and reads:
// GET and HEAD wait for the scheduler (a GET whose deadline passes in line
// gets busy's answer), other methods pass straight through, and without a
// scheduler nothing waits. The scheduler's own order and pacing are tested
// in internal/inference.
func TestAdmitReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				<-hold
			}
		})
		busy := func(w http.ResponseWriter, r *http.Request, err error) {
			if features.ErrorCode(err) != features.EUNAVAILABLE {
				t.Errorf("busy got %v, want an %s error", err, features.EUNAVAILABLE)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		h := admitReads(inference.NewScheduler(1, 1), busy)(inner)
		serve := func(ctx context.Context, method, path string) int {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, method, path, nil))
			return rec.Code
		}
		done := make(chan int)
		go func() { done <- serve(t.Context(), http.MethodGet, "/hold") }()
		synctest.Wait() // the only read slot is taken
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			if code := serve(ctx, method, "/late"); code != http.StatusServiceUnavailable {
				t.Errorf("%s past its deadline in line: status %d, want 503", method, code)
			}
			cancel()
		}
		if code := serve(t.Context(), http.MethodPost, "/post"); code != http.StatusOK {
			t.Errorf("POST with the read slot taken: status %d, want 200", code)
		}
		close(hold)
		if code := <-done; code != http.StatusOK {
			t.Errorf("held GET: status %d", code)
		}
		if code := serve(t.Context(), http.MethodGet, "/again"); code != http.StatusOK {
			t.Errorf("GET after the slot freed: status %d", code)
		}
	})
	ungated := admitReads(nil, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec := httptest.NewRecorder()
	ungated.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("no scheduler: status %d", rec.Code)
	}
}
