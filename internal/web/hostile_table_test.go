package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

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
	// validStatus: what the valid request answers when not 2xx (steer-chat
	// on a model without a chat template, auto-interp with no endpoint);
	// well-formed ids may get it too.
	validStatus int
	// prep runs before the valid request (e.g. adds the member it removes).
	prep func(t *testing.T, env *webtest.Env)
}

// hostileFixture holds the rows the new routes' valid requests name: a
// list (holding feature 3) and two stored vectors, one to read, one to delete.
type hostileFixture struct {
	listID              string
	vecSource, vecIndex string // read by vector/get
	delSource, delIndex string // deleted by vector/delete
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

func hostileRoutes(fx hostileFixture) []hostileRoute {
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
	steerFeature := func(v map[string]string) []any {
		_, s, i := demo(v)
		return []any{map[string]any{"modelId": webtest.DemoModel, "layer": s, "index": jsonIndex(i), "strength": 4}}
	}
	listMember := func(v map[string]string) map[string]any {
		m, s, i := stored(v)
		return map[string]any{"listId": or(v["listId"], fx.listID), "modelId": m, "layer": s, "index": jsonIndex(i)}
	}
	addMember := func(t *testing.T, env *webtest.Env) {
		st, b := postJSON(t, env.URL+"/api/list/add-features", map[string]any{"listId": fx.listID,
			"featuresToAdd": []any{map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 3}}})
		wantStatus(t, "add the member to remove", st, http.StatusOK, b)
	}
	chat := []any{map[string]any{"role": "user", "content": "hi"}}
	return []hostileRoute{
		// Pages.
		{"GET /{model}", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return get("/" + esc(m))
		}, false, nil, 0, nil},
		{"GET /{model}/{source}", []string{"model", "source", "page", "jump"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			q := url.Values{}
			for _, k := range []string{"page", "jump"} {
				if x, ok := v[k]; ok {
					q.Set(k, x)
				}
			}
			return get("/" + esc(m) + "/" + esc(s) + "?" + q.Encode())
		}, false, map[string]bool{"jump": true}, 0, nil},
		{"GET /{model}/{source}/{index}", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return get("/" + esc(m) + "/" + esc(s) + "/" + esc(i))
		}, false, nil, 0, nil},
		{"GET /{model}/{source}/{index}/activations", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return get("/" + esc(m) + "/" + esc(s) + "/" + esc(i) + "/activations")
		}, false, nil, 0, nil},
		{"POST /{model}/{source}/{index}/test", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := demo(v)
			return form("/"+esc(m)+"/"+esc(s)+"/"+esc(i)+"/test", url.Values{"text": {"hello"}})
		}, false, nil, 0, nil},
		{"GET /search", []string{"model", "source", "page"}, func(v map[string]string) (string, string, string, []byte) {
			q := url.Values{"q": {"synthetic feature"}}
			for _, k := range []string{"model", "source", "page"} {
				if x, ok := v[k]; ok {
					q.Set(k, x)
				}
			}
			return get("/search?" + q.Encode())
		}, false, map[string]bool{"model": true, "source": true}, 0, nil},
		{"GET /{model}/prompt", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := demo(v)
			return get("/" + esc(m) + "/prompt")
		}, false, nil, 0, nil},
		{"POST /{model}/prompt", []string{"model", "source", "n", "pos"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			vals := url.Values{"text": {"hello world"}, "source": {s}}
			for _, k := range []string{"n", "pos"} {
				if x, ok := v[k]; ok {
					vals.Set(k, x)
				}
			}
			return form("/"+esc(m)+"/prompt", vals)
		}, false, nil, 0, nil},
		{"POST /{model}/prompt/token", []string{"model", "source", "at"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			return form("/"+esc(m)+"/prompt/token", url.Values{"text": {"hello world"}, "source": {s}, "at": {or(v["at"], "1")}})
		}, false, nil, 0, nil},
		{"GET /{model}/steer", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := demo(v)
			return get("/" + esc(m) + "/steer?" + url.Values{"prompt": {"hi"}, "feature": {s + ":" + i}, "strength": {"4"}}.Encode())
		}, false, nil, 0, nil},
		{"GET /{model}/{source}/build-state", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			return get("/" + esc(m) + "/" + esc(s) + "/build-state")
		}, false, nil, 0, nil},
		{"GET /{model}/{source}/autointerp", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			return get("/" + esc(m) + "/" + esc(s) + "/autointerp")
		}, false, nil, 0, nil},
		// No LLM endpoint here: the valid start is a 503 naming the settings;
		// bad ids are still 4xx naming them.
		{"POST /{model}/{source}/autointerp", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			return form("/"+esc(m)+"/"+esc(s)+"/autointerp", url.Values{"features": {"0-3"}, "scorers": {"eleuther_recall"}})
		}, true, nil, http.StatusServiceUnavailable, nil},
		{"GET /list/{id}", []string{"listId"}, func(v map[string]string) (string, string, string, []byte) {
			return get("/list/" + esc(or(v["listId"], fx.listID)))
		}, false, nil, 0, nil},
		{"POST /list/{id}/test", []string{"listId"}, func(v map[string]string) (string, string, string, []byte) {
			return form("/list/"+esc(or(v["listId"], fx.listID))+"/test", url.Values{"text": {"hello"}})
		}, false, nil, 0, nil},
		// API reads.
		{"GET /api/models/{model}/sources", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return get("/api/models/" + esc(m) + "/sources")
		}, false, nil, 0, nil},
		{"GET /api/feature/{model}/{source}/{index}", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return get("/api/feature/" + esc(m) + "/" + esc(s) + "/" + esc(i))
		}, false, nil, 0, nil},
		{"POST /api/features", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/features", []any{map[string]any{"modelId": m, "layer": s, "index": jsonIndex(i)}})
		}, false, nil, 0, nil},
		{"POST /api/explanation/search", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			return post("/api/explanation/search", map[string]any{"query": "fossils", "modelId": m, "layers": []string{s}})
		}, false, nil, 0, nil},
		{"POST /api/model/get", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return post("/api/model/get", map[string]any{"id": m})
		}, false, nil, 0, nil},
		{"GET /api/source-set/{model}/{name}", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return get("/api/source-set/" + esc(m) + "/res-webtest")
		}, false, nil, 0, nil},
		{"POST /api/activation/get", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/activation/get", map[string]any{"modelId": m, "source": s, "index": jsonIndex(i)})
		}, false, nil, 0, nil},
		{"POST /api/model/list", nil, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/model/list", map[string]any{})
		}, false, nil, 0, nil},
		{"POST /api/explanation/search-model", []string{"model"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return post("/api/explanation/search-model", map[string]any{"query": "synthetic feature", "modelId": m})
		}, false, nil, 0, nil},
		{"POST /api/explanation/search-release", []string{"releaseName"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/explanation/search-release", map[string]any{"query": "synthetic feature", "releaseName": or(v["releaseName"], "gemma-scope")})
		}, false, nil, 0, nil},
		{"POST /api/explanation/search-all", nil, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/explanation/search-all", map[string]any{"query": "synthetic feature"})
		}, false, nil, 0, nil},
		{"GET /api/explanation/export", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			return get("/api/explanation/export?" + url.Values{"modelId": {m}, "source": {s}}.Encode())
		}, false, nil, 0, nil},
		{"POST /api/explanation/export", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := stored(v)
			return post("/api/explanation/export", map[string]any{"modelId": m, "source": s, "offset": 0, "limit": 5})
		}, false, nil, 0, nil},
		{"POST /api/vector/get", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/vector/get", map[string]any{"modelId": or(v["model"], webtest.TestModel), "source": or(v["source"], fx.vecSource), "index": jsonIndex(or(v["index"], fx.vecIndex))})
		}, false, nil, 0, nil},
		{"POST /api/list/get", []string{"listId"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/list/get", map[string]any{"listId": or(v["listId"], fx.listID)})
		}, false, nil, 0, nil},
		// Compute.
		{"POST /api/activation/new", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := demo(v)
			return post("/api/activation/new", map[string]any{"feature": map[string]any{"modelId": m, "source": s, "index": jsonIndex(i)}, "customText": "hello"})
		}, false, nil, 0, nil},
		{"POST /api/activation/source", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			return post("/api/activation/source", map[string]any{"modelId": m, "source": s, "customText": "hello"})
		}, false, nil, 0, nil},
		{"POST /api/search-all", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			return post("/api/search-all", map[string]any{"modelId": m, "selectedLayers": []string{s}, "text": "hello"})
		}, false, nil, 0, nil},
		{"POST /api/search-topk-by-token", []string{"model", "source"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, _ := demo(v)
			return post("/api/search-topk-by-token", map[string]any{"modelId": m, "source": s, "text": "hello"})
		}, false, nil, 0, nil},
		{"POST /api/steer", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := demo(v)
			return post("/api/steer", map[string]any{"prompt": "The quick", "modelId": m, "features": steerFeature(v), "n_tokens": 2, "temperature": 0})
		}, false, nil, 0, nil},
		// The demo's GPT-2 has no chat template: the valid request is a 400
		// naming modelId, after the ids are checked.
		{"POST /api/steer-chat", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := demo(v)
			return post("/api/steer-chat", map[string]any{"modelId": m, "defaultChatMessages": chat, "steeredChatMessages": chat, "features": steerFeature(v), "n_tokens": 2})
		}, false, nil, http.StatusBadRequest, nil},
		// Writes.
		{"POST /api/feature/upload-batch", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			f := uploadFeature(3)
			f["index"] = jsonIndex(i)
			return post("/api/feature/upload-batch", map[string]any{"modelId": m, "source": s, "features": []any{f}})
		}, true, nil, 0, nil},
		{"POST /api/activation/upload-batch", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/activation/upload-batch", map[string]any{"modelId": m, "source": s, "index": jsonIndex(i),
				"activations": []any{map[string]any{"tokens": []string{"x"}, "values": []float64{1}}}})
		}, true, nil, 0, nil},
		{"POST /api/explanation/new", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/explanation/new", map[string]any{"modelId": m, "source": s, "index": jsonIndex(i), "description": "hostile"})
		}, true, nil, 0, nil},
		// No LLM endpoint in tests: 503 "not configured", but only after the ids pass.
		{"POST /api/explanation/generate", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			m, s, i := stored(v)
			return post("/api/explanation/generate", map[string]any{"modelId": m, "layer": s, "index": jsonIndex(i)})
		}, true, nil, http.StatusServiceUnavailable, nil},
		{"POST /api/explanation/score", []string{"explanationId"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/explanation/score", map[string]any{"explanationId": or(v["explanationId"], "some-explanation"), "scorerType": "eleuther_recall"})
		}, true, nil, http.StatusServiceUnavailable, nil},
		{"POST /api/model/new", []string{"id"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/model/new", map[string]any{"id": or(v["id"], "hostile-new-model"), "layers": 2})
		}, true, nil, 0, nil},
		{"POST /api/source-set/new", []string{"model", "name"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return post("/api/source-set/new", map[string]any{"name": or(v["name"], "hostile-res"), "modelId": m})
		}, true, nil, 0, nil},
		{"POST /api/vector/new", []string{"model", "layerNumber"}, func(v map[string]string) (string, string, string, []byte) {
			m, _, _ := stored(v)
			return post("/api/vector/new", map[string]any{"modelId": m, "layerNumber": jsonIndex(or(v["layerNumber"], "0")), "hookType": "hook_resid_pre",
				"vector": make([]float64, 64), "vectorDefaultSteerStrength": 1, "vectorLabel": "hostile"})
		}, true, nil, 0, nil},
		{"POST /api/vector/delete", []string{"model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/vector/delete", map[string]any{"modelId": or(v["model"], webtest.TestModel), "source": or(v["source"], fx.delSource), "index": jsonIndex(or(v["index"], fx.delIndex))})
		}, true, nil, 0, nil},
		{"POST /api/vector/list-owned", nil, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/vector/list-owned", map[string]any{})
		}, true, nil, 0, nil},
		{"POST /api/list/new", nil, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/list/new", map[string]any{"name": "hostile list"})
		}, true, nil, 0, nil},
		{"POST /api/list/add-features", []string{"listId", "model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/list/add-features", map[string]any{"listId": or(v["listId"], fx.listID), "featuresToAdd": []any{listMember(v)}})
		}, true, nil, 0, nil},
		{"POST /api/list/remove", []string{"listId", "model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/list/remove", listMember(v))
		}, true, nil, 0, addMember},
		{"POST /api/list/remove-feature", []string{"listId", "model", "source", "index"}, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/list/remove-feature", listMember(v))
		}, true, nil, 0, addMember},
		{"POST /api/list/list", nil, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/list/list", map[string]any{})
		}, true, nil, 0, nil},
		{"POST /api/list/list-owned", nil, func(v map[string]string) (string, string, string, []byte) {
			return post("/api/list/list-owned", map[string]any{})
		}, true, nil, 0, nil},
	}
}

// dbFingerprint digests every row of the tables a request could change.
func dbFingerprint(t *testing.T, env *webtest.Env) string {
	t.Helper()
	var parts []string
	for _, table := range []string{"models", "source_sets", "sources", "features", "activations", "explanations", "explanation_scores", "tokens", "lists", "list_features", "explanation_runs"} {
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
	"listId": {"list"}, "releaseName": {"release"}, "explanationId": {"explanationid"}, "name": {`"name"`}, "id": {`"id"`}, "layerNumber": {"layernumber"},
}

// TestHostileIDsEveryRoute feeds every route hostile ids, one field at a
// time: the answer is a 4xx whose message names the field, never a 5xx,
// and no row changes.
func TestHostileIDsEveryRoute(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	fx := newHostileFixture(t, env)
	routes := hostileRoutes(fx)
	checkEveryRouteListed(t, env, routes)
	tried := 0
	perField := map[string]int{}
	malformed := 0
	for _, rt := range routes {
		if rt.prep != nil {
			rt.prep(t, env)
		}
		// The valid request works, so the failures below are the hostile field's.
		method, path, ct, body := rt.build(map[string]string{})
		st, _, b := do(t, method, env.URL+path, bytes.NewReader(body), map[string]string{"Content-Type": ct})
		if rt.validStatus != 0 && st != rt.validStatus || rt.validStatus == 0 && st >= 300 {
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
					if (st >= 500 && st != rt.validStatus) || (st >= 300 && st < 400) {
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
		tried, len(routes), malformed, perField)
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
	case "listId":
		return len(s) <= 64 && features.ValidID(s)
	case "releaseName":
		return features.ValidID(s)
	case "explanationId":
		return strings.TrimSpace(s) != "" && len(s) <= 128 && utf8.ValidString(s) &&
			!strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
	case "id": // POST /api/model/new's rule
		return len(s) >= 2 && len(s) <= 32 && newModelID.MatchString(s) && !strings.Contains(s, "--") && !strings.Contains(s, "..")
	case "name":
		return len(s) <= 100 && newSourceSetName.MatchString(s) && !strings.Contains(s, "--") && s != "neurons"
	case "layerNumber":
		x, err := strconv.ParseFloat(s, 64)
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

// newSourceSetName is the source-set name rule of POST /api/source-set/new.
var newSourceSetName = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$`)

// newModelID is the model id rule of POST /api/model/new.
var newModelID = regexp.MustCompile(`^[a-z][a-z0-9.-]*[a-z0-9]$|^[a-z]$`)

// newHostileFixture makes the rows the new routes' valid requests name:
// a list and two stored vectors of the synthetic model.
func newHostileFixture(t *testing.T, env *webtest.Env) hostileFixture {
	t.Helper()
	var fx hostileFixture
	st, b := postJSON(t, env.URL+"/api/list/new", map[string]any{"name": "hostile fixture"})
	wantStatus(t, "list/new", st, http.StatusOK, b)
	var l struct{ ID string }
	if err := json.Unmarshal(b, &l); err != nil || l.ID == "" {
		t.Fatalf("list/new: no id: %s", b)
	}
	fx.listID = l.ID
	for range 2 {
		st, b := postJSON(t, env.URL+"/api/vector/new", map[string]any{"modelId": webtest.TestModel, "layerNumber": 0, "hookType": "hook_resid_pre",
			"vector": make([]float64, 64), "vectorDefaultSteerStrength": 1, "vectorLabel": "fixture"})
		wantStatus(t, "vector/new", st, http.StatusOK, b)
		var v struct {
			Vector struct{ Source, Index string }
		}
		if err := json.Unmarshal(b, &v); err != nil || v.Vector.Source == "" {
			t.Fatalf("vector/new: no layer: %s", b)
		}
		if fx.vecSource == "" {
			fx.vecSource, fx.vecIndex = v.Vector.Source, v.Vector.Index
		} else {
			fx.delSource, fx.delIndex = v.Vector.Source, v.Vector.Index
		}
	}
	return fx
}

// noIDRoutes are the routes with no id to feed (probes, static files, the
// OpenAPI document, the model list); every other route must be in the table.
var noIDRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /static/*": true, "GET /favicon.ico": true,
	"GET /": true, "GET /api/openapi.json": true, "GET /api/models": true,
}

// checkEveryRouteListed walks the router: a route added to routes.go
// without a row here (or in noIDRoutes) fails the test.
func checkEveryRouteListed(t *testing.T, env *webtest.Env, routes []hostileRoute) {
	t.Helper()
	listed := map[string]bool{}
	for _, rt := range routes {
		listed[rt.name] = true
	}
	walked := 0
	err := chi.Walk(env.Server.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		name := method + " " + strings.ReplaceAll(route, "/*/", "/")
		walked++
		if !listed[name] && !noIDRoutes[name] {
			t.Errorf("route %s is not in TestHostileIDsEveryRoute's table: add it to hostileRoutes (or to noIDRoutes if it takes no id)", name)
		}
		delete(listed, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range listed {
		t.Errorf("table row %s matches no route in routes.go", name)
	}
	if walked < 50 {
		t.Errorf("walked only %d routes", walked)
	}
}
