package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// do sends a request and returns the status and body.
func do(t *testing.T, method, u string, body io.Reader, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// get fetches u.
func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	st, _, b := do(t, http.MethodGet, u, nil, nil)
	return st, b
}

// postJSON posts a JSON body (a string is sent as is).
func postJSON(t *testing.T, u string, body any) (int, []byte) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	st, _, b := do(t, http.MethodPost, u, bytes.NewReader(raw), map[string]string{"Content-Type": "application/json", "X-Api-Key": "sk-np-whatever"})
	return st, b
}

// postForm posts a form, as htmx when hx is true.
func postForm(t *testing.T, u string, vals url.Values, hx bool) (int, []byte) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if hx {
		h["HX-Request"] = "true"
	}
	st, _, b := do(t, http.MethodPost, u, strings.NewReader(vals.Encode()), h)
	return st, b
}

// decode unmarshals a JSON body into a generic value.
func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, truncate(b))
	}
	return v
}

// obj decodes a JSON object.
func obj(t *testing.T, b []byte) map[string]any {
	t.Helper()
	m, ok := decode(t, b).(map[string]any)
	if !ok {
		t.Fatalf("response is not a JSON object: %s", truncate(b))
	}
	return m
}

// wantStatus fails unless got == want, showing the body.
func wantStatus(t *testing.T, what string, got, want int, body []byte) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d: %s", what, got, want, truncate(body))
	}
}

// wantError checks a JSON error response: status and a message containing substr.
func wantError(t *testing.T, what string, st int, body []byte, want int, substr string) {
	t.Helper()
	wantStatus(t, what, st, want, body)
	m := obj(t, body)
	msg, _ := m["error"].(string)
	if msg == "" {
		t.Fatalf("%s: no \"error\" message in %s", what, truncate(body))
	}
	if !strings.Contains(msg, substr) {
		t.Fatalf("%s: error %q does not mention %q", what, msg, substr)
	}
}

// hasKeys fails unless m has every key.
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: missing field %q", what, k)
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}
