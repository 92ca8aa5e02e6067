package web_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"saex/internal/web/webtest"
)

func TestAPIFeature(t *testing.T) {
	env := webtest.New(t, nil)
	u := fmt.Sprintf("%s/api/feature/%s/%s/%d", env.URL, webtest.GemmaModel, webtest.GemmaSource, webtest.GemmaIndex)
	st, body := get(t, u)
	wantStatus(t, "GET feature", st, http.StatusOK, body)
	f := obj(t, body)
	hasKeys(t, "feature", f, "modelId", "layer", "index", "frac_nonzero", "maxActApprox", "pos_str", "neg_values",
		"freq_hist_data_bar_heights", "logits_hist_data_bar_values", "topkCosSimIndices", "activations", "explanations")
	if f["index"] != fmt.Sprint(webtest.GemmaIndex) || f["layer"] != webtest.GemmaSource || f["modelId"] != webtest.GemmaModel {
		t.Errorf("identity: index %v layer %v modelId %v", f["index"], f["layer"], f["modelId"])
	}
	acts, _ := f["activations"].([]any)
	if len(acts) == 0 {
		t.Fatal("no activations")
	}
	a := acts[0].(map[string]any)
	hasKeys(t, "activation", a, "tokens", "values", "maxValue", "maxValueTokenIndex", "binMin", "binMax", "binContains", "modelId", "layer", "source", "index")
	exps, _ := f["explanations"].([]any)
	if len(exps) == 0 {
		t.Fatal("no explanations")
	}
	hasKeys(t, "explanation", exps[0].(map[string]any), "description", "typeName", "explanationModelName", "scores", "modelId", "source", "index")

	// The Python client always sends X-Api-Key and asks for gzip.
	st, h, raw := do(t, http.MethodGet, u, nil, map[string]string{"X-Api-Key": "sk-np-anything", "Accept-Encoding": "gzip"})
	wantStatus(t, "GET feature gzip", st, http.StatusOK, raw)
	if h.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", h.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, body) {
		t.Error("gzip body differs from the plain body")
	}
	if h.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header on the API")
	}

	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/feature/gemma-2-2b/20-gemmascope-res-131k/1", 404, "not"},
		{"/api/feature/gemma-2-2b/20-gemmascope-res-131k/abc", 400, "index"},
		{"/api/feature/gemma-2-2b/20-gemmascope-res-131k/-3", 400, "index"},
		{"/api/feature/nomodel/20-gemmascope-res-131k/1", 404, ""},
		{"/api/feature/gemma%20bad/x/1", 400, "model"},
		{"/api/nothing-here", 404, "no API route"},
	} {
		st, b := get(t, env.URL+c.path)
		wantError(t, "GET "+c.path, st, b, c.status, c.msg)
	}
	st, _, b := do(t, http.MethodDelete, u, nil, nil)
	wantError(t, "DELETE feature", st, b, http.StatusMethodNotAllowed, "not allowed")
}

func TestAPIFeaturesBatch(t *testing.T) {
	env := webtest.New(t, nil)
	u := env.URL + "/api/features"
	st, body := postJSON(t, u, []map[string]any{
		{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 3, "maxActsToReturn": 1},
		{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": "999"}, // missing: skipped
		{"modelId": webtest.GemmaModel, "layer": webtest.GemmaSource, "index": webtest.GemmaIndex},
	})
	wantStatus(t, "POST features", st, http.StatusOK, body)
	var arr []any
	if v, ok := decode(t, body).([]any); ok {
		arr = v
	}
	if len(arr) != 2 {
		t.Fatalf("got %d features, want 2 (missing skipped): %s", len(arr), truncate(body))
	}
	first := arr[0].(map[string]any)
	if first["index"] != "3" || len(first["activations"].([]any)) != 1 {
		t.Errorf("first: index %v, %d activations (want 3, 1)", first["index"], len(first["activations"].([]any)))
	}
	// As in Neuronpedia, the first item's maxActsToReturn applies to all.
	if second := arr[1].(map[string]any); second["index"] != fmt.Sprint(webtest.GemmaIndex) || len(second["activations"].([]any)) != 1 {
		t.Errorf("second: index %v, activations %d (want 1: the first item's maxActsToReturn)", second["index"], len(second["activations"].([]any)))
	}
	// Without it on the first item, a later item's limit is ignored.
	st, body = postJSON(t, u, []map[string]any{
		{"modelId": webtest.GemmaModel, "layer": webtest.GemmaSource, "index": webtest.GemmaIndex},
		{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 3, "maxActsToReturn": 1},
	})
	wantStatus(t, "POST features", st, http.StatusOK, body)
	arr, _ = decode(t, body).([]any)
	if len(arr) != 2 || len(arr[0].(map[string]any)["activations"].([]any)) < 2 || len(arr[1].(map[string]any)["activations"].([]any)) != 2 {
		t.Errorf("no limit on the first item: want every example of both features: %s", truncate(body))
	}

	big := make([]map[string]any, 300)
	for i := range big {
		big[i] = map[string]any{"modelId": "m", "layer": "0-x", "index": i}
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"empty array", "[]", 400, "non-empty"},
		{"not JSON", "{oops", 400, "JSON"},
		{"object", `{"modelId":"x"}`, 400, "expected"},
		{"bad index", `[{"modelId":"m","layer":"0-x","index":"x1"}]`, 400, "[0].index"},
		{"bad model", `[{"modelId":"a/b","layer":"0-x","index":1}]`, 400, "[0]"},
		{"negative maxActs", `[{"modelId":"m","layer":"0-x","index":1,"maxActsToReturn":-1}]`, 400, "maxActsToReturn"},
		{"too many", big, 413, "at most"},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, c.name, st, b, c.status, c.msg)
	}
}

func TestAPIModelsAndSources(t *testing.T) {
	env := webtest.New(t, nil)
	st, body := get(t, env.URL+"/api/models")
	wantStatus(t, "GET models", st, http.StatusOK, body)
	models, _ := decode(t, body).([]any)
	ids := map[string]bool{}
	for _, m := range models {
		mm := m.(map[string]any)
		hasKeys(t, "model", mm, "id", "displayName", "layers", "dimension")
		ids[mm["id"].(string)] = true
	}
	for _, want := range []string{webtest.GemmaModel, webtest.GPT2Model, webtest.TestModel} {
		if !ids[want] {
			t.Errorf("model %s not listed", want)
		}
	}
	st, body = get(t, env.URL+"/api/models/"+webtest.TestModel+"/sources")
	wantStatus(t, "GET sources", st, http.StatusOK, body)
	srcs, _ := decode(t, body).([]any)
	if len(srcs) != 1 || srcs[0].(map[string]any)["id"] != webtest.TestSource {
		t.Fatalf("sources: %s", truncate(body))
	}
	hasKeys(t, "source", srcs[0].(map[string]any), "id", "modelId", "setName", "hasDashboards")
	st, body = get(t, env.URL+"/api/models/nope/sources")
	wantError(t, "unknown model", st, body, 404, "")
	st, body = get(t, env.URL+"/api/models/bad%20id/sources")
	wantError(t, "bad model id", st, body, 400, "model")
}

func TestAPIExplanationSearch(t *testing.T) {
	env := webtest.New(t, nil)
	u := env.URL + "/api/explanation/search"
	st, body := postJSON(t, u, map[string]any{"modelId": webtest.TestModel, "layers": []string{webtest.TestSource}, "query": "stegosaurus"})
	wantStatus(t, "search", st, http.StatusOK, body)
	resp := obj(t, body)
	hasKeys(t, "search", resp, "request", "results", "resultsCount", "hasMore")
	if _, ok := resp["nextOffset"]; ok || resp["hasMore"] != false || resp["resultsCount"] != 1.0 {
		t.Errorf("one hit: resultsCount %v, hasMore %v, nextOffset %v (want 1, false, absent)", resp["resultsCount"], resp["hasMore"], resp["nextOffset"])
	}
	results, _ := resp["results"].([]any)
	if len(results) == 0 {
		t.Fatalf("seeded explanation not found: %s", truncate(body))
	}
	hit := results[0].(map[string]any)
	hasKeys(t, "hit", hit, "modelId", "layer", "index", "description", "explanationModelName", "typeName", "neuron", "cosine_similarity", "textRank")
	if hit["cosine_similarity"] != nil {
		t.Errorf("cosine_similarity %v: saex computes none, it must be null", hit["cosine_similarity"])
	}
	if hit["description"] != webtest.SeededExplanation || hit["index"] != fmt.Sprint(webtest.SeededIndex) {
		t.Errorf("hit: %v", hit)
	}
	// Without filters, paging through all synthetic explanations.
	st, body = postJSON(t, u, map[string]any{"query": "synthetic feature", "offset": 0})
	wantStatus(t, "search all", st, http.StatusOK, body)
	resp = obj(t, body)
	if n := len(resp["results"].([]any)); n != 20 || resp["hasMore"] != true || resp["nextOffset"] != 20.0 || resp["resultsCount"] != 20.0 {
		t.Errorf("page 1: %d results, hasMore %v, nextOffset %v, resultsCount %v", n, resp["hasMore"], resp["nextOffset"], resp["resultsCount"])
	}
	// The last page: resultsCount is its length, no nextOffset.
	total := int(resp["totalCount"].(float64))
	st, body = postJSON(t, u, map[string]any{"query": "synthetic feature", "offset": total - 3})
	wantStatus(t, "last page", st, http.StatusOK, body)
	resp = obj(t, body)
	if _, ok := resp["nextOffset"]; ok || resp["hasMore"] != false || resp["resultsCount"] != 3.0 {
		t.Errorf("last page: resultsCount %v, hasMore %v, nextOffset %v (want 3, false, absent)", resp["resultsCount"], resp["hasMore"], resp["nextOffset"])
	}
	// search-model, search-release and search-all.
	for _, c := range []struct {
		route string
		body  map[string]any
		want  int // hits of the seeded explanation
	}{
		{"search-model", map[string]any{"modelId": webtest.TestModel, "query": "stegosaurus"}, 1},
		{"search-model", map[string]any{"modelId": webtest.GemmaModel, "query": "stegosaurus"}, 0},
		{"search-all", map[string]any{"query": "stegosaurus"}, 1},
		{"search-release", map[string]any{"releaseName": "no-such-release", "query": "stegosaurus"}, 0},
	} {
		st, body := postJSON(t, env.URL+"/api/explanation/"+c.route, c.body)
		wantStatus(t, c.route, st, http.StatusOK, body)
		if n := len(obj(t, body)["results"].([]any)); n != c.want {
			t.Errorf("%s %v: %d results, want %d", c.route, c.body, n, c.want)
		}
	}
	for _, c := range []struct {
		route, body string
		status      int
		msg         string
	}{
		{"search-model", `{"query":"abc"}`, 400, "modelId"},
		{"search-model", `{"query":"abc","modelId":"nope"}`, 404, "nope"},
		{"search-release", `{"query":"abc"}`, 400, "releaseName"},
		{"search-all", `{"query":"ab"}`, 400, "query"},
		{"search-all", `{"query":"abc","offset":"x"}`, 400, "offset"},
	} {
		st, b := postJSON(t, env.URL+"/api/explanation/"+c.route, c.body)
		wantError(t, c.route+" "+c.body, st, b, c.status, c.msg)
	}
	for _, c := range []struct {
		name string
		body string
		msg  string
	}{
		{"short query", `{"query":"ab"}`, "at least 3"},
		{"negative offset", `{"query":"abc","offset":-1}`, "offset"},
		{"layers without model", `{"query":"abc","layers":["0-x"]}`, "modelId"},
		{"bad layer", `{"query":"abc","modelId":"m","layers":["a b"]}`, "source id"},
		{"wrong type", `{"query":5}`, "query"},
		{"trailing data", `{"query":"abc"} {}`, "after"},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, c.name, st, b, 400, c.msg)
	}
	// Bodies are capped.
	huge := `{"query":"` + strings.Repeat("a", 2<<20) + `"}`
	st, b := postJSON(t, u, huge)
	wantError(t, "huge body", st, b, 413, "larger")
}

func TestHealthzAndStatic(t *testing.T) {
	env := webtest.New(t, nil)
	st, b := get(t, env.URL+"/healthz")
	wantStatus(t, "healthz", st, 200, b)
	st, b = get(t, env.URL+"/readyz")
	wantStatus(t, "readyz", st, 200, b)
	st, h, b := do(t, http.MethodGet, env.URL+"/static/htmx-2.0.11.min.js", nil, nil)
	wantStatus(t, "htmx", st, 200, b)
	if !strings.Contains(h.Get("Content-Type"), "javascript") || h.Get("ETag") == "" || h.Get("Cache-Control") == "" {
		t.Errorf("static headers: %v", h)
	}
	st, _, _ = do(t, http.MethodGet, env.URL+"/static/htmx-2.0.11.min.js", nil, map[string]string{"If-None-Match": h.Get("ETag")})
	if st != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", st)
	}
	// http.ServeContent: ranges and If-Range too.
	st, hr, rb := do(t, http.MethodGet, env.URL+"/static/htmx-2.0.11.min.js", nil, map[string]string{"Range": "bytes=0-9", "Accept-Encoding": "gzip"})
	if st != http.StatusPartialContent || len(rb) != 10 || hr.Get("Content-Range") == "" {
		t.Errorf("range GET: %d, %d bytes, Content-Range %q", st, len(rb), hr.Get("Content-Range"))
	}
	st, _, _ = do(t, http.MethodGet, env.URL+"/static/nope.js", nil, nil)
	if st != 404 {
		t.Errorf("missing asset: %d", st)
	}
}

func TestHeadRequests(t *testing.T) {
	env := webtest.New(t, nil)
	for _, p := range []string{"/", "/api/models", "/static/saex.css", "/" + webtest.TestModel + "/" + webtest.TestSource} {
		st, _, b := do(t, http.MethodHead, env.URL+p, nil, nil)
		if st != 200 || len(b) != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes", p, st, len(b))
		}
	}
}
