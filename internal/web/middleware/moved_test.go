package middleware

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
)

// These test the moved middleware on its own; internal/web's tests drive
// the same pieces through the wired server (real store and Chromium).

func TestCompressHoldsBodyAndSendsLength(t *testing.T) {
	body := strings.Repeat(`{"feature":1,"tokens":["a","b"]}`, 500)
	h := Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for off := 0; off < len(body); off += 1000 {
			_, _ = io.WriteString(w, body[off:min(off+1000, len(body))])
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	req.Header.Set("Accept-Encoding", "br;q=1, gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", got)
	}
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
		t.Errorf("Content-Length %q, body %d bytes", cl, rec.Body.Len())
	}
	zr, err := kgzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != body {
		t.Fatalf("round trip: %v, %d bytes, want %d", err, len(got), len(body))
	}
}

func TestCompressLeavesRangesAndOtherTypes(t *testing.T) {
	for _, c := range []struct {
		name, ctype string
		status      int
	}{
		{"206 of the identity body", "text/css", http.StatusPartialContent},
		{"an image", "image/png", http.StatusOK},
		{"304", "text/html", http.StatusNotModified},
	} {
		h := Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", c.ctype)
			w.WriteHeader(c.status)
			if c.status != http.StatusNotModified {
				_, _ = io.WriteString(w, "raw bytes")
			}
		}))
		req := httptest.NewRequest(http.MethodGet, "/static/x", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status || rec.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s: status %d, Content-Encoding %q; want %d, identity", c.name, rec.Code, rec.Header().Get("Content-Encoding"), c.status)
		}
	}
}

func TestAcceptedEncoding(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "gzip": "gzip", "deflate": "deflate", "deflate, gzip": "gzip", "gzip;q=0, deflate": "deflate",
		"gzip; q=0": "", "*": "gzip", "br": "", "X-GZIP": "gzip",
	} {
		if got := AcceptedEncoding(in); got != want {
			t.Errorf("AcceptedEncoding(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGzipEncoderIsShared(t *testing.T) {
	var buf bytes.Buffer
	zw := GzipEncoder(&buf)
	_, _ = zw.Write([]byte("cached body"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	ReleaseGzip(zw)
	zr, err := kgzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); string(got) != "cached body" {
		t.Fatalf("got %q", got)
	}
}

// TestRecovererLogsStackWithRequestID: a panic is a 500 in the API's JSON
// shape, logged once with its stack and the request's id.
func TestRecovererLogsStackWithRequestID(t *testing.T) {
	var logs bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&logs, nil))
	h := Observe(nil, nil, nil)(Recoverer(func(r *http.Request) *slog.Logger { return RequestLogger(base, r) })(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	req := httptest.NewRequest(http.MethodGet, "/api/feature/x", nil)
	req.Header.Set(RequestIDHeader, "req-7")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct{ Error string }
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error != "internal error" {
		t.Fatalf("got %d %q, want 500 {\"error\":\"internal error\"}", rec.Code, rec.Body.String())
	}
	if rec.Header().Get(RequestIDHeader) != "req-7" {
		t.Errorf("request id not echoed: %q", rec.Header().Get(RequestIDHeader))
	}
	var line struct {
		Msg, Stack string
		RequestID  string `json:"request_id"`
	}
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Msg != "handler panic" || line.RequestID != "req-7" || !strings.Contains(line.Stack, "Recoverer") {
		t.Fatalf("log line %q (%v)", logs.String(), err)
	}
}

func TestObserveReplacesForgedRequestID(t *testing.T) {
	h := Observe(nil, nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, RequestID(r.Context()))
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(RequestIDHeader, "x\" level=ERROR")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	id := rec.Header().Get(RequestIDHeader)
	if id == "" || strings.ContainsAny(id, "\" =") || rec.Body.String() != id {
		t.Fatalf("id %q, handler saw %q", id, rec.Body.String())
	}
}

func TestMetricsRecordRequestsAndRefusals(t *testing.T) {
	var nilM *Metrics // a nil Metrics records nothing and does not panic
	nilM.BeginRequest()
	nilM.EndRequest("/x", "GET", 200, time.Millisecond)
	nilM.RateLimited()
	nilM.AuthFailure(401)

	m := NewMetrics()
	h := Observe(m, nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, LoginPath, nil))
	m.AuthFailure(http.StatusForbidden)
	m.AuthFailure(http.StatusTeapot)
	m.RateLimited()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, MetricsPath, nil))
	text := rec.Body.String()
	for _, want := range []string{
		`saex_http_request_duration_seconds_count{method="GET",route="/login",status="4xx"} 1`,
		`saex_http_requests_in_flight 0`,
		`saex_auth_failures_total{status="403"} 1`,
		`saex_auth_failures_total{status="other"} 1`,
		`saex_rate_limited_total 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestAuthWithoutKeys: a private instance with no key service refuses the
// API with the JSON error shape, shows pages the login form, refuses a
// cross-origin cookie post, and counts every refusal.
func TestAuthWithoutKeys(t *testing.T) {
	a, err := NewAuth(nil, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	var refused []int
	a.OnReject = func(status int) { refused = append(refused, status) }
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "in") })
	serve := func(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	rec := serve(a.Gate(ok), http.MethodGet, "/api/feature/m/s/1")
	var body struct{ Error string }
	if rec.Code != http.StatusUnauthorized || json.Unmarshal(rec.Body.Bytes(), &body) != nil || !strings.Contains(body.Error, KeyHeader) {
		t.Errorf("API without a key: %d %q, want 401 JSON naming %s", rec.Code, rec.Body.String(), KeyHeader)
	}
	rec = serve(a.Gate(ok), http.MethodGet, "/m/s/1", KeyHeader, "some-key")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "not enabled") {
		t.Errorf("a key with no key service: %d %q, want 401 not enabled", rec.Code, rec.Body.String())
	}
	rec = serve(a.Gate(ok), http.MethodGet, "/m/s/1?x=1")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `<form method="post" action="/login">`) ||
		!strings.Contains(rec.Body.String(), `value="/m/s/1?x=1"`) {
		t.Errorf("page without a key: %d, want the login form returning to the page:\n%s", rec.Code, rec.Body.String())
	}
	rec = serve(a.CrossOrigin(ok), http.MethodPost, "/m/prompt", "Sec-Fetch-Site", "cross-site")
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", rec.Code)
	}
	if want := []int{401, 401, 401, 403}; !slices.Equal(refused, want) {
		t.Errorf("refusals counted %v, want %v", refused, want)
	}

	public, _ := NewAuth(nil, false, nil)
	if rec := serve(public.Gate(ok), http.MethodGet, "/api/feature/m/s/1"); rec.Code != http.StatusOK {
		t.Errorf("a public instance gates reads: %d", rec.Code)
	}
	if rec := serve(public.RequireWriteKey(ok), http.MethodPost, "/api/upload"); rec.Code != http.StatusUnauthorized {
		t.Errorf("a write without a key: %d, want 401", rec.Code)
	}
	if _, err := NewAuth(nil, false, []string{"not a url"}); err == nil {
		t.Error("a malformed trusted origin is accepted")
	}
}

func TestSafeNextStaysOnSite(t *testing.T) {
	for in, want := range map[string]string{
		"/m/s/1?x=1": "/m/s/1?x=1", "": "/", "//evil.example/": "/", `/\evil.example`: "/",
		"https://evil.example/": "/", "/a\r\nSet-Cookie: x": "/", "relative": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
