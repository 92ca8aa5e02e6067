package web_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"saex/internal/web"
	mw "saex/internal/web/middleware"
	"saex/internal/web/webtest"
)

// Regression tests of issue 10, defect 6 (the smaller ones).

// TestSourceFilterCutOnRuneBoundary: a ?q= longer than the cap whose cut
// would fall inside a UTF-8 character still filters (it used to split the
// character and fail the query in PostgreSQL); invalid UTF-8 is a 400
// naming the field.
func TestSourceFilterCutOnRuneBoundary(t *testing.T) {
	env := webtest.New(t, nil)
	src := env.URL + "/" + webtest.TestModel + "/" + webtest.TestSource
	q := strings.Repeat("a", 499) + "é" + strings.Repeat("b", 20)
	st, b := get(t, src+"?q="+url.QueryEscape(q))
	wantStatus(t, "source page with a 500-byte cut inside é", st, http.StatusOK, b)
	st, b = get(t, src+"?q="+url.QueryEscape("ab\xffcd"))
	wantStatus(t, "source page with invalid UTF-8 in q", st, http.StatusBadRequest, b)
	if !strings.Contains(string(b), "&#34;q&#34;") && !strings.Contains(string(b), `"q"`) {
		t.Errorf("invalid q: the page does not name the field: %s", truncate(b))
	}
}

// TestPageNumbersBounded: huge, negative or non-numeric ?page= is a 400
// naming the field, never an internal "invalid offset" message.
func TestPageNumbersBounded(t *testing.T) {
	env := webtest.New(t, nil)
	for _, base := range []string{"/search?q=synthetic+feature&", "/" + webtest.TestModel + "/" + webtest.TestSource + "?"} {
		for _, p := range []string{"9223372036854775807", "9223372036854775808", "1000001", "0", "-1", "abc"} {
			st, b := get(t, env.URL+base+"page="+p)
			wantStatus(t, base+"page="+p, st, http.StatusBadRequest, b)
			if strings.Contains(string(b), "offset") || !strings.Contains(string(b), "page") {
				t.Errorf("%spage=%s: message leaks internals or does not name the field: %s", base, p, truncate(b))
			}
		}
		st, b := get(t, env.URL+base+"page=2")
		wantStatus(t, base+"page=2", st, http.StatusOK, b)
	}
}

// TestLongTokenSaysSoInOurWords: a 1 MB token is refused with a message
// that says the token is too long and its limit, not PostgreSQL's words.
func TestLongTokenSaysSoInOurWords(t *testing.T) {
	env := webtest.New(t, nil)
	f := uploadFeature(1)
	f["activations"] = []map[string]any{{"tokens": []string{"a", strings.Repeat("x", 1<<20)}, "values": []float64{0, 1}}}
	st, b := postJSON(t, env.URL+"/api/feature/upload-batch", map[string]any{"modelId": webtest.TestModel, "source": "3-res-long", "features": []any{f}})
	wantError(t, "1 MB token", st, b, http.StatusBadRequest, "too long")
	for _, leak := range []string{"index row", "btree", "maximum size", "SQLSTATE"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("1 MB token: message quotes the database (%q): %s", leak, b)
		}
	}
	if !strings.Contains(string(b), fmt.Sprint(1024)) {
		t.Errorf("1 MB token: message does not give the limit: %s", b)
	}
}

// TestLoginRateLimited: key guesses at POST /login are limited per client.
func TestLoginRateLimited(t *testing.T) {
	e := newHardened(t, true, func(h *web.Hardening) { h.LoginRate = mw.Rate{Requests: 3, Window: time.Minute} })
	form := url.Values{"key": {"saex_guess"}}.Encode()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for i := range 3 {
		st, _, b := e.call(t, http.MethodPost, web.LoginPath, form, hdr)
		wantStatus(t, fmt.Sprintf("guess %d", i), st, http.StatusUnauthorized, b)
	}
	st, h, b := e.call(t, http.MethodPost, web.LoginPath, form, hdr)
	wantStatus(t, "fourth guess", st, http.StatusTooManyRequests, b)
	if h.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The form itself stays reachable.
	st, _, b = e.call(t, http.MethodGet, web.LoginPath, "", nil)
	wantStatus(t, "login form after the limit", st, http.StatusOK, b)
}

// TestSlowBodyCutAndNotQueued: a body that does not arrive within the body
// deadline gets a 400 long before the server's read timeout, and a compute
// request still sending its body is not counted as waiting for the model.
func TestSlowBodyCutAndNotQueued(t *testing.T) {
	e := newHardened(t, false, func(h *web.Hardening) { h.BodyDeadline = 500 * time.Millisecond })
	u, _ := url.Parse(e.URL)
	for _, path := range []string{"/api/search-all", "/api/explanation/search", "/" + webtest.TestModel + "/prompt"} {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"modelId\":", path, u.Host)
		if path == "/api/search-all" {
			time.Sleep(100 * time.Millisecond)
			m := scrape(t, e)
			if !strings.Contains(m, "saex_compute_requests_in_flight 0") || !strings.Contains(m, "saex_compute_queue_depth 0") {
				t.Errorf("a compute request still sending its body is counted in the queue")
			}
		}
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no answer to a stalled body: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || time.Since(start) > 5*time.Second {
			t.Errorf("%s: stalled body: status %d after %v, want 400 soon after the body deadline", path, resp.StatusCode, time.Since(start))
		}
	}
}
