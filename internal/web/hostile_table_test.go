package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"saex/internal/features"
	"saex/internal/web/webtest"
)

// hostileIDs are the values fed to every id field of every route: the
// int32, int64 and uint64 boundaries, negative, non-numeric, over-long and
// non-UTF-8.
var hostileIDs = []string{
	"2147483648", "-2147483649", "4294967296", "-1",
	"9223372036854775807", "9223372036854775808", "-9223372036854775809",
	"18446744073709551615", "18446744073709551616",
	"abc", "1e3", "0x10", "12.5", "１２", " ",
	strings.Repeat("9", 300), strings.Repeat("a", 5000),
	"\xff\xfe", "a\x00b",
}

// hostileRoute is one route with the id fields it takes; build makes the
// request with vals (field -> value; absent fields take valid values).
type hostileRoute struct {
	name   string
	fields []string
	build  func(v map[string]string) (method, path, contentType string, body []byte)
	// writes: the route changes rows when it succeeds.
	writes bool
	// trims: query fields the page trims (blank means absent).
	trims map[string]bool
}

// jsonIndex writes an index as a JSON number when it looks like one, else
// as a string (clients send both).
func jsonIndex(s string) json.RawMessage {
	if _, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, " x") && s == strings.TrimSpace(s) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// rawJSON marshals v, keeping invalid UTF-8 as sent (json.Marshal would
// replace it): the server must cope with what a client really sends.
func rawJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func hostileRoutes() []hostileRoute {
	get := func(path string) (string, string, string, []byte) { return http.MethodGet, path, "", nil }
	post := func(path string, v any) (string, string, string, []byte) {
		return http.MethodPost, path, "application/json", rawJSON(v)
	}
	form := func(path string, vals url.Values) (string, string, string, []byte) {
		return http.MethodPost, path, "application/x-www-form-urlencoded", []byte(vals.Encode())
	}
	esc := url.PathEscape
	stored := func(v map[string]string) (m, s, i string) {
		return or(v["model"], webtest.TestModel), or(v["source"], webtest.TestSource), or(v["index"], "3")
	}
	demo := func(v map[string]string) (m, s, i string) {
		return or(v["model"], webtest.DemoModel), or(v["source"], "2-res-topk"), or(v["index"], "1")
	}
	return []hostileRoute{
		// Pages.
		{"GET /{model}", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return get("/" + esc(m))
		}, false, nil},
		{"GET /{model}/{source}", []string{"model", "source", "page", "jump"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			q := url.Values{}
			for _, k := range []string{"page", "jump"} {
				if x, ok := v[k]; ok {
					q.Set(k, x)
				}
			}
			return get("/" + esc(m) + "/" + esc(s) + "?" + q.Encode())
		}, false, map[string]bool{"jump": true}},
		{"GET /{model}/{source}/{index}", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return get("/" + esc(m) + "/" + esc(s) + "/" + esc(i))
		}, false, nil},
		{"GET /{model}/{source}/{index}/activations", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return get("/" + esc(m) + "/" + esc(s) + "/" + esc(i) + "/activations")
		}, false, nil},
		{"POST /{model}/{source}/{index}/test", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := demo(v)
			return form("/"+esc(m)+"/"+esc(s)+"/"+esc(i)+"/test", url.Values{"text": {"hello"}})
		}, false, nil},
		{"GET /search", []string{"model", "source", "page"}, func(v map[string]string) (string, string, string, []byte) {
			q := url.Values{"q": {"synthetic feature"}}
			for _, k := range []string{"model", "source", "page"} {
				if x, ok := v[k]; ok {
					q.Set(k, x)
				}
			}
			return get("/search?" + q.Encode())
		}, false, map[string]bool{"model": true, "source": true}},
		{"GET /{model}/prompt", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := demo(v)
			return get("/" + esc(m) + "/prompt")
		}, false, nil},
		{"POST /{model}/prompt", []string{"model", "source", "n", "pos"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			vals := url.Values{"text": {"hello world"}, "source": {s}}
			for _, k := range []string{"n", "pos"} {
				if x, ok := v[k]; ok {
					vals.Set(k, x)
				}
			}
			return form("/"+esc(m)+"/prompt", vals)
		}, false, nil},
		{"POST /{model}/prompt/token", []string{"model", "source", "at"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			return form("/"+esc(m)+"/prompt/token", url.Values{"text": {"hello world"}, "source": {s}, "at": {or(v["at"], "1")}})
		}, false, nil},
		// API reads.
		{"GET /api/models/{model}/sources", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return get("/api/models/" + esc(m) + "/sources")
		}, false, nil},
		{"GET /api/feature/{model}/{source}/{index}", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return get("/api/feature/" + esc(m) + "/" + esc(s) + "/" + esc(i))
		}, false, nil},
		{"POST /api/features", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/features", []any{map[string]any{"modelId": m, "layer": s, "index": jsonIndex(i)}})
		}, false, nil},
		{"POST /api/explanation/search", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			return post("/api/explanation/search", map[string]any{"query": "fossils", "modelId": m, "layers": []string{s}})
		}, false, nil},
		{"POST /api/model/get", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return post("/api/model/get", map[string]any{"id": m})
		}, false, nil},
		{"GET /api/source-set/{model}/{name}", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return get("/api/source-set/" + esc(m) + "/res-webtest")
		}, false, nil},
		{"POST /api/activation/get", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/activation/get", map[string]any{"modelId": m, "source": s, "index": jsonIndex(i)})
		}, false, nil},
		// Compute.
		{"POST /api/activation/new", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := demo(v)
			return post("/api/activation/new", map[string]any{"feature": map[string]any{"modelId": m, "source": s, "index": jsonIndex(i)}, "customText": "hello"})
		}, false, nil},
		{"POST /api/activation/source", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			return post("/api/activation/source", map[string]any{"modelId": m, "source": s, "customText": "hello"})
		}, false, nil},
		{"POST /api/search-all", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			return post("/api/search-all", map[string]any{"modelId": m, "selectedLayers": []string{s}, "text": "hello"})
		}, false, nil},
		{"POST /api/search-topk-by-token", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			return post("/api/search-topk-by-token", map[string]any{"modelId": m, "source": s, "text": "hello"})
		}, false, nil},
		// Writes.
		{"POST /api/feature/upload-batch", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			f := uploadFeature(3)
			f["index"] = jsonIndex(i)
			return post("/api/feature/upload-batch", map[string]any{"modelId": m, "source": s, "features": []any{f}})
		}, true, nil},
		{"POST /api/activation/upload-batch", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/activation/upload-batch", map[string]any{"modelId": m, "source": s, "index": jsonIndex(i),
				"activations": []any{map[string]any{"tokens": []string{"x"}, "values": []float64{1}}}})
		}, true, nil},
		{"POST /api/explanation/new", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/explanation/new", map[string]any{"modelId": m, "source": s, "index": jsonIndex(i), "description": "hostile"})
		}, true, nil},
	}
}

// dbFingerprint digests every row of the tables a request could change.
func dbFingerprint(t *testing.T, env *webtest.Env) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"models", "source_sets", "sources", "features", "activations", "explanations", "explanation_scores", "tokens"} {
		var n int
		var digest *string
		err := env.DB.Pool.QueryRow(context.Background(),
			`SELECT count(*), md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))) FROM `+table+` x`).Scan(&n, &digest)
		if err != nil {
			t.Fatalf("fingerprint %s: %v", table, err)
		}
		d := ""
		if digest != nil {
			d = *digest
		}
		parts = append(parts, fmt.Sprintf("%s=%d:%s", table, n, d))
	}
	return strings.Join(parts, " ")
}

// fieldStems are what a message must contain to name each field.
var fieldStems = map[string][]string{
	"model": {"model"}, "source": {"source", "layer"}, "index": {"index"},
	"page": {"page"}, "jump": {"index"}, "n": {`"n"`, "&#34;n&#34;", "results"}, "pos": {"pos"}, "at": {`"at"`, "&#34;at&#34;"},
}

// TestHostileIDsEveryRoute feeds every route hostile ids, one field at a
// time: the answer is a 4xx whose message names the field, never a 5xx,
// and no row changes.
func TestHostileIDsEveryRoute(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	tried := 0
	perField := map[string]int{}
	malformed := 0
	for _, rt := range hostileRoutes() {
		// The valid request works, so the failures below are the hostile field's.
		method, path, ct, body := rt.build(map[string]string{})
		st, _, b := do(t, method, env.URL+path, bytes.NewReader(body), map[string]string{"Content-Type": ct})
		if st >= 300 {
			t.Errorf("%s: the valid request fails: %d %s", rt.name, st, truncate(b))
		}
		before := dbFingerprint(t, env)
		for _, field := range rt.fields {
			for _, val := range hostileIDs {
				v := val
				if rt.trims[field] {
					v = strings.TrimSpace(v)
				}
				wellFormed := v == "" || valid(field, v)
				if wellFormed && rt.writes {
					continue // not hostile: a write of an id that may exist
				}
				method, path, ct, body := rt.build(map[string]string{field: val})
				what := fmt.Sprintf("%s with %s=%.40q", rt.name, field, val)
				st, _, b := do(t, method, env.URL+path, bytes.NewReader(body), map[string]string{"Content-Type": ct})
				tried++
				perField[field]++
				if !wellFormed {
					malformed++
				}
				if wellFormed {
					// A well-formed id that names nothing: a 4xx, or an
					// empty answer where the route filters or skips.
					if st >= 500 || (st >= 300 && st < 400) {
						t.Errorf("%s: status %d for a well-formed id, want 200 or 4xx: %s", what, st, truncate(b))
					}
					continue
				}
				if st < 400 || st >= 500 {
					t.Errorf("%s: status %d, want 4xx: %s", what, st, truncate(b))
					continue
				}
				msg := strings.ToLower(string(b))
				if strings.Contains(rt.name, " /api/") {
					var e struct{ Error string }
					if json.Unmarshal(b, &e) != nil || e.Error == "" {
						t.Errorf("%s: %d without a JSON error: %s", what, st, truncate(b))
						continue
					}
					msg = strings.ToLower(e.Error)
				}
				named := false
				for _, stem := range fieldStems[field] {
					named = named || strings.Contains(msg, stem)
				}
				if !named {
					t.Errorf("%s: %d message does not name the field: %s", what, st, truncate([]byte(msg)))
				}
			}
		}
		if after := dbFingerprint(t, env); after != before {
			t.Errorf("%s: hostile requests changed rows:\nbefore %s\nafter  %s", rt.name, before, after)
		}
	}
	t.Logf("%d hostile requests over %d routes (%d malformed: 4xx naming the field; the rest well-formed ids naming nothing: 200 or 4xx); per field %v",
		tried, len(hostileRoutes()), malformed, perField)
}

// valid reports whether the server must accept s in field: a well-formed
// id (which may name nothing), an index as clients send it (12, "12",
// 12.0, 1e3), an in-range page or position.
func valid(field, s string) bool {
	switch field {
	case "model":
		return features.ValidID(s)
	case "source":
		return features.ValidSourceID(s)
	case "index", "jump":
		x, err := strconv.ParseFloat(s, 64)
		if field == "jump" {
			n, err := strconv.Atoi(s)
			return err == nil && features.ValidIndex(n)
		}
		return err == nil && x == math.Trunc(x) && x >= 0 && x <= features.MaxIndex && !strings.ContainsAny(s, "xX ")
	case "page":
		n, err := strconv.Atoi(s)
		return err == nil && n >= 1 && n <= 1_000_000
	case "n":
		n, err := strconv.Atoi(s)
		return err == nil && n >= 1 && n <= 100
	case "pos", "at":
		n, err := strconv.Atoi(s)
		return err == nil && n >= 0 && n <= 1<<16
	}
	return false
}

// or returns v, or def when v is empty.
func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
