package middleware

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseRateForms(t *testing.T) {
	for in, want := range map[string]Rate{
		"120/min": {120, time.Minute}, "10/s": {10, time.Second}, "50/30s": {50, 30 * time.Second}, "off": {}, "0/min": {},
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"12", "x/min", "-1/s", "5/fortnight"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}

func TestMaxBodyRefusesDeclaredLength(t *testing.T) {
	h := MaxBody(10)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler reached") }))
	for path, wantJSON := range map[string]bool{"/api/x": true, "/page": false} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(strings.Repeat("x", 11))))
		if w.Code != http.StatusRequestEntityTooLarge || strings.Contains(w.Body.String(), `"error"`) != wantJSON {
			t.Errorf("%s: %d %q", path, w.Code, w.Body.String())
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	w := httptest.NewRecorder()
	SecurityHeaders(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	for h, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'", "X-Content-Type-Options": "nosniff",
		"X-Frame-Options": "DENY", "Referrer-Policy": "strict-origin-when-cross-origin",
	} {
		if !strings.Contains(w.Header().Get(h), want) {
			t.Errorf("%s: %q, want %q", h, w.Header().Get(h), want)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe-inline") || strings.Contains(ContentSecurityPolicy, "unsafe-eval") {
		t.Error("the policy allows inline code or eval")
	}
}
