package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	mw "saex/internal/web/middleware"
)

// TestInstallAfterHandlerFails: installing the hardening on a server whose
// router is already built is an error, never a silent unhardened server.
func TestInstallAfterHandlerFails(t *testing.T) {
	s := NewServer()
	_ = s.Handler()
	if _, err := (&Hardening{}).Install(s); err == nil || !strings.Contains(err.Error(), "Install") {
		t.Fatalf("Install after Handler: %v, want an error", err)
	}
	s2 := NewServer()
	if _, err := (&Hardening{}).Install(s2); err != nil {
		t.Fatalf("Install first: %v", err)
	}
}

// TestPanicLogHasStackAndRequestID: a panicking handler is a 500 whose log
// line carries the stack and the request id the client was given.
func TestPanicLogHasStackAndRequestID(t *testing.T) {
	var logs bytes.Buffer
	s := NewServer()
	s.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	h := mw.Observe(nil, nil, nil)(s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})))
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	r.Header.Set(RequestIDHeader, "req-123")
	h.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	out := logs.String()
	if !strings.Contains(out, `"request_id":"req-123"`) || !strings.Contains(out, `"stack":"goroutine`) || !strings.Contains(out, "install_test.go") {
		t.Fatalf("panic log lacks the request id or the stack: %s", out)
	}
}
