package web_test

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"saex/internal/web"
	"saex/internal/web/webtest"
)

var (
	demoText  = webtest.DemoPrompts[0]
	demoText2 = webtest.DemoPrompts[1]
	longText  = strings.Repeat("word ", 400) // far more than 256 tokens
)

// floats converts a JSON array to float64s.
func floats(t *testing.T, v any) []float64 {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("not an array: %v", v)
	}
	out := make([]float64, len(arr))
	for i, x := range arr {
		out[i] = x.(float64)
	}
	return out
}

func TestAPIActivationNew(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	u := env.URL + "/api/activation/new"
	// Find a feature that fires on the text, through search-all.
	st, b := postJSON(t, env.URL+"/api/search-all", map[string]any{"modelId": webtest.DemoModel, "text": demoText, "selectedLayers": []string{"2-res-topk"}, "numResults": 1})
	wantStatus(t, "search-all", st, 200, b)
	top := obj(t, b)["result"].([]any)[0].(map[string]any)
	idx := top["index"].(string)
	feature := map[string]any{"modelId": webtest.DemoModel, "source": "2-res-topk", "index": idx}

	st, b = postJSON(t, u, map[string]any{"feature": feature, "customText": demoText})
	wantStatus(t, "activation/new", st, 200, b)
	a := obj(t, b)
	hasKeys(t, "activation", a, "tokens", "values", "maxValue", "minValue", "maxValueTokenIndex", "modelId", "layer", "index", "dataSource")
	toks, vals := a["tokens"].([]any), floats(t, a["values"])
	if toks[0] != "<|endoftext|>" || len(toks) != len(vals) || a["layer"] != "2-res-topk" || a["index"] != idx {
		t.Fatalf("activation: %s", truncate(b))
	}
	// The same numbers as search-all (which ignores BOS by default).
	want := floats(t, top["values"])
	for i := 1; i < len(vals); i++ {
		if math.Abs(vals[i]-want[i]) > 1e-6 {
			t.Fatalf("token %d: activation/new %g, search-all %g", i, vals[i], want[i])
		}
	}
	if mi := int(a["maxValueTokenIndex"].(float64)); vals[mi] != a["maxValue"].(float64) {
		t.Errorf("maxValueTokenIndex %d does not hold maxValue", mi)
	}
	// ignoreBos drops the BOS token; "neuron" and "layer" are accepted aliases.
	st, b = postJSON(t, u, map[string]any{"neuron": map[string]any{"modelId": webtest.DemoModel, "layer": "2-res-topk", "index": idx}, "customText": demoText, "ignoreBos": true})
	wantStatus(t, "ignoreBos", st, 200, b)
	if got := obj(t, b)["tokens"].([]any); len(got) != len(toks)-1 || got[0] == "<|endoftext|>" {
		t.Errorf("ignoreBos tokens: %v", got)
	}
	// An array of texts gives an array.
	st, b = postJSON(t, u, map[string]any{"feature": feature, "customText": []string{demoText, demoText2}})
	wantStatus(t, "array", st, 200, b)
	if arr, ok := decode(t, b).([]any); !ok || len(arr) != 2 {
		t.Fatalf("array response: %s", truncate(b))
	}

	texts := make([]string, 17)
	for i := range texts {
		texts[i] = "x"
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"no feature", map[string]any{"customText": "hi"}, 400, "feature"},
		{"bad index", map[string]any{"feature": map[string]any{"modelId": webtest.DemoModel, "source": "2-res-topk", "index": "x"}, "customText": "hi"}, 400, "feature.index"},
		{"index past width", map[string]any{"feature": map[string]any{"modelId": webtest.DemoModel, "source": "2-res-topk", "index": 4096}, "customText": "hi"}, 404, "4096"},
		{"unknown source", map[string]any{"feature": map[string]any{"modelId": webtest.DemoModel, "source": "7-res-topk", "index": 1}, "customText": "hi"}, 404, ""},
		{"unknown model", map[string]any{"feature": map[string]any{"modelId": "nope", "source": "2-res-topk", "index": 1}, "customText": "hi"}, 404, ""},
		{"no text", map[string]any{"feature": feature}, 400, "customText"},
		{"empty text", map[string]any{"feature": feature, "customText": ""}, 400, "customText"},
		{"text type", map[string]any{"feature": feature, "customText": 5}, 400, "customText"},
		{"too many texts", map[string]any{"feature": feature, "customText": texts}, 413, "at most 16"},
		{"too long", map[string]any{"feature": feature, "customText": longText}, 422, "256"},
		{"no inference for source", map[string]any{"feature": map[string]any{"modelId": webtest.GemmaModel, "source": webtest.GemmaSource, "index": webtest.GemmaIndex}, "customText": "hi"}, 503, "not available"},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, c.name, st, b, c.status, c.msg)
	}
}

func TestAPIActivationSource(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	u := env.URL + "/api/activation/source"
	st, b := postJSON(t, u, map[string]any{"modelId": webtest.DemoModel, "source": "1-res-topk", "customText": demoText})
	wantStatus(t, "activation/source", st, 200, b)
	res := obj(t, b)["results"].([]any)
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	r0 := res[0].(map[string]any)
	toks := r0["tokens"].([]any)
	perToken := make([]int, len(toks))
	for idx, entries := range r0["activeFeatures"].(map[string]any) {
		for _, e := range entries.([]any) {
			pair := floats(t, e)
			if len(pair) != 2 || pair[1] <= 0 || int(pair[0]) >= len(toks) {
				t.Fatalf("feature %s: bad entry %v", idx, pair)
			}
			perToken[int(pair[0])]++
		}
	}
	for i, n := range perToken {
		if n != 32 && i > 0 { // TopK SAE: 32 active features a token
			t.Errorf("token %d has %d active features, want 32", i, n)
		}
	}
	st, b = postJSON(t, u, map[string]any{"modelId": webtest.DemoModel, "layer": "1-res-topk", "customText": []string{demoText, demoText2}})
	wantStatus(t, "two texts", st, 200, b)
	if n := len(obj(t, b)["results"].([]any)); n != 2 {
		t.Errorf("%d results for two texts", n)
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"five texts", map[string]any{"modelId": webtest.DemoModel, "source": "1-res-topk", "customText": []string{"a", "b", "c", "d", "e"}}, 413, "at most 4"},
		{"unknown source", map[string]any{"modelId": webtest.DemoModel, "source": "8-res-topk", "customText": "a"}, 404, ""},
		{"no model", map[string]any{"source": "1-res-topk", "customText": "a"}, 400, "modelId"},
		{"too long", map[string]any{"modelId": webtest.DemoModel, "source": "1-res-topk", "customText": longText}, 422, "256"},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, c.name, st, b, c.status, c.msg)
	}
}

func TestAPISearchAll(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	u := env.URL + "/api/search-all"
	st, b := postJSON(t, u, map[string]any{"modelId": webtest.DemoModel, "sourceSet": "res-topk", "text": demoText, "selectedLayers": []string{}, "numResults": 20})
	wantStatus(t, "search-all", st, 200, b)
	resp := obj(t, b)
	hasKeys(t, "search-all", resp, "tokens", "result", "sortIndexes")
	toks := resp["tokens"].([]any)
	result := resp["result"].([]any)
	if len(result) != 20 {
		t.Fatalf("%d results, want 20", len(result))
	}
	layers := map[any]bool{}
	prev := math.Inf(1)
	for i, r := range result {
		item := r.(map[string]any)
		hasKeys(t, "item", item, "modelId", "layer", "index", "values", "maxValue", "maxValueIndex", "neuron")
		vals := floats(t, item["values"])
		mx := item["maxValue"].(float64)
		if len(vals) != len(toks) || vals[0] != 0 || vals[int(item["maxValueIndex"].(float64))] != mx || mx > prev {
			t.Fatalf("item %d: %v (tokens %d, previous max %g)", i, item, len(toks), prev)
		}
		prev = mx
		layers[item["layer"]] = true
		n := item["neuron"].(map[string]any)
		exps := n["explanations"].([]any)
		if len(exps) != 1 || exps[0].(map[string]any)["description"] != webtest.DemoExplanation(item["layer"].(string), atoi(t, item["index"])) {
			t.Errorf("item %d: neuron explanations %v", i, exps)
		}
		// As Neuronpedia: the top example, explanations with author and
		// votes, the model row.
		hasKeys(t, "neuron explanation", exps[0].(map[string]any), "author", "votes", "scores")
		if acts := n["activations"].([]any); len(acts) != 0 { // the demo rows have no examples
			t.Errorf("item %d: neuron has %d activations, want none", i, len(acts))
		}
		if m, ok := n["model"].(map[string]any); !ok || m["id"] != webtest.DemoModel {
			t.Errorf("item %d: neuron model %v", i, n["model"])
		}
	}
	if len(layers) < 2 {
		t.Errorf("results come from %d sources only", len(layers))
	}
	// Give the first result's feature two examples: its neuron then
	// carries the larger one alone.
	first := result[0].(map[string]any)
	st, b = postJSON(t, env.URL+"/api/activation/upload-batch", map[string]any{"modelId": webtest.DemoModel, "source": first["layer"], "index": first["index"],
		"activations": []any{map[string]any{"tokens": []string{"a", "b"}, "values": []float64{0.5, 1.5}}, map[string]any{"tokens": []string{"c", "d"}, "values": []float64{2.5, 0}}}})
	wantStatus(t, "upload examples", st, 200, b)
	st, b = postJSON(t, u, map[string]any{"modelId": webtest.DemoModel, "sourceSet": "res-topk", "text": demoText, "selectedLayers": []string{}, "numResults": 20})
	wantStatus(t, "search-all again", st, 200, b)
	acts := obj(t, b)["result"].([]any)[0].(map[string]any)["neuron"].(map[string]any)["activations"].([]any)
	if len(acts) != 1 || acts[0].(map[string]any)["maxValue"] != 2.5 {
		t.Errorf("neuron activations %v, want the top example alone (maxValue 2.5)", acts)
	}

	// Sum at chosen positions, density threshold, one layer.
	st, b = postJSON(t, u, map[string]any{"modelId": webtest.DemoModel, "text": demoText, "selectedLayers": []string{"3-res-topk"},
		"sortIndexes": []int{2, 3}, "densityThreshold": 0.05, "numResults": 10})
	wantStatus(t, "sorted", st, 200, b)
	prev = math.Inf(1)
	for _, r := range obj(t, b)["result"].([]any) {
		item := r.(map[string]any)
		vals := floats(t, item["values"])
		sum := vals[2] + vals[3]
		if item["layer"] != "3-res-topk" || sum <= 0 || sum > prev+1e-6 || item["neuron"].(map[string]any)["frac_nonzero"].(float64) > 0.05 {
			t.Fatalf("sorted item: %v (previous sum %g)", item, prev)
		}
		prev = sum
	}

	// Batch mode, and the trailing slash the Python client uses.
	st, b = postJSON(t, u+"/", map[string]any{"modelId": webtest.DemoModel, "text": []string{demoText, demoText2}, "numResults": 5})
	wantStatus(t, "batch with trailing slash", st, 200, b)
	results := obj(t, b)["results"].([]any)
	if len(results) != 2 {
		t.Fatalf("batch: %d results", len(results))
	}
	for _, r := range results {
		for _, it := range r.(map[string]any)["result"].([]any) {
			if _, has := it.(map[string]any)["neuron"]; has {
				t.Fatal("batch mode returned neurons")
			}
		}
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"too many results", map[string]any{"modelId": webtest.DemoModel, "text": "hi", "numResults": 101}, 400, "numResults"},
		{"negative sort index", map[string]any{"modelId": webtest.DemoModel, "text": "hi", "sortIndexes": []int{-1}}, 400, "sortIndexes"},
		{"sort index past prompt", map[string]any{"modelId": webtest.DemoModel, "text": "hi", "sortIndexes": []int{99}}, 400, "sortIndexes[0]"},
		{"density", map[string]any{"modelId": webtest.DemoModel, "text": "hi", "densityThreshold": 2}, 400, "densityThreshold"},
		{"unknown model", map[string]any{"modelId": "nope", "text": "hi"}, 404, ""},
		{"unknown set", map[string]any{"modelId": webtest.DemoModel, "sourceSet": "res-nope", "text": "hi"}, 404, "res-nope"},
		{"unknown layer", map[string]any{"modelId": webtest.DemoModel, "selectedLayers": []string{"9-res-topk"}, "text": "hi"}, 404, "9-res-topk"},
		{"no text", map[string]any{"modelId": webtest.DemoModel}, 400, "text"},
		{"too long", map[string]any{"modelId": webtest.DemoModel, "text": longText}, 422, "256"},
		{"model without inference", map[string]any{"modelId": webtest.GemmaModel, "text": "hi"}, 503, ""},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, c.name, st, b, c.status, c.msg)
	}
}

func TestAPISearchTopkByToken(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	u := env.URL + "/api/search-topk-by-token/" // the Python client's form
	st, b := postJSON(t, u, map[string]any{"modelId": webtest.DemoModel, "source": "1-res-topk", "text": demoText, "numResults": 5})
	wantStatus(t, "topk", st, 200, b)
	resp := obj(t, b)
	if resp["source"] != "1-res-topk" {
		t.Errorf("source %v", resp["source"])
	}
	rows := resp["results"].([]any)
	if len(rows) == 0 {
		t.Fatal("no tokens")
	}
	for i, r := range rows {
		row := r.(map[string]any)
		hasKeys(t, "token", row, "position", "token", "isSpecial", "topFeatures")
		if int(row["position"].(float64)) != i+1 || row["isSpecial"] != false {
			t.Fatalf("row %d: %v (BOS should be skipped)", i, row)
		}
		feats := row["topFeatures"].([]any)
		if len(feats) == 0 || len(feats) > 5 {
			t.Fatalf("row %d: %d features", i, len(feats))
		}
		prev := math.Inf(1)
		for _, f := range feats {
			fm := f.(map[string]any)
			hasKeys(t, "topFeature", fm, "activationValue", "featureIndex", "feature")
			v := fm["activationValue"].(float64)
			feat := fm["feature"].(map[string]any)
			// The feature row as Neuronpedia sends it: logits, explanations with typeName.
			hasKeys(t, "topFeature.feature", feat, "modelId", "layer", "index", "pos_str", "neg_str", "maxActApprox", "explanations")
			for _, e := range feat["explanations"].([]any) {
				hasKeys(t, "topFeature explanation", e.(map[string]any), "description", "typeName", "explanationModelName")
			}
			if v > prev || v <= 0 || feat["frac_nonzero"].(float64) > 0.01 {
				t.Fatalf("row %d: feature %v (previous %g; default density threshold 0.01)", i, fm, prev)
			}
			prev = v
		}
	}
	st, b = postJSON(t, strings.TrimSuffix(u, "/"), map[string]any{"modelId": webtest.DemoModel, "source": "1-res-topk", "text": demoText, "ignoreBos": false, "densityThreshold": -1})
	wantStatus(t, "with BOS", st, 200, b)
	first := obj(t, b)["results"].([]any)[0].(map[string]any)
	if first["position"].(float64) != 0 || first["isSpecial"] != true || len(first["topFeatures"].([]any)) != 10 {
		t.Errorf("BOS row: %v", first)
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"numResults", map[string]any{"modelId": webtest.DemoModel, "source": "1-res-topk", "text": "hi", "numResults": 21}, 400, "numResults"},
		{"no source", map[string]any{"modelId": webtest.DemoModel, "text": "hi"}, 400, "source"},
		{"unknown source", map[string]any{"modelId": webtest.DemoModel, "source": "5-res-topk", "text": "hi"}, 404, ""},
		{"too long", map[string]any{"modelId": webtest.DemoModel, "source": "1-res-topk", "text": longText}, 422, "256"},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, c.name, st, b, c.status, c.msg)
	}
}

// TestComputeRoutesNeverRedirect checks both slash forms of every compute route.
func TestComputeRoutesNeverRedirect(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/api/search-all", "/api/search-topk-by-token", "/api/activation/new", "/api/activation/source"} {
		for _, suffix := range []string{"", "/"} {
			resp, err := client.Post(env.URL+p+suffix, "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("POST %s%s with {}: %d, want 400", p, suffix, resp.StatusCode)
			}
		}
	}
}

func atoi(t *testing.T, v any) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(v.(string), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestComputeTimeoutBoundsARequest: the server's ComputeTimeout (serve's
// --compute-timeout) is what bounds a compute request: past it the
// request gets 503, not a result.
func TestComputeTimeoutBoundsARequest(t *testing.T) {
	env := webtest.NewDemo(t, func(s *web.Server) { s.ComputeTimeout = time.Nanosecond })
	st, b := postJSON(t, env.URL+"/api/search-all", map[string]any{"modelId": webtest.DemoModel, "text": demoText + " once more",
		"selectedLayers": []string{"2-res-topk"}, "numResults": 1})
	wantStatus(t, "search-all past the compute timeout", st, 503, b)
}
