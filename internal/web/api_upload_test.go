package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"saex/internal/web/webtest"
)

// uploadFeature is a valid upload-batch feature in Neuronpedia's shape.
func uploadFeature(index int) map[string]any {
	return map[string]any{
		"index":        index,
		"density":      0.002,
		"topLogits":    []map[string]any{{"token": " yes", "value": 1.5}},
		"bottomLogits": []map[string]any{{"token": " no", "value": -1.5}},
		"explanations": []map[string]any{{"text": "uploaded explanation", "methodName": "np_max-act-logits", "modelName": "claude"}},
		"activations": []map[string]any{
			{"tokens": []string{"a", " b", " c"}, "values": []float64{0, 2.5, 1}},
			{"tokens": []string{"x", " y"}, "values": []float64{0.5, 0}, "quantileMax": 1, "quantileMin": 0, "quantileFraction": 0.1},
		},
	}
}

func TestAPIFeatureUploadBatch(t *testing.T) {
	env := webtest.New(t, nil)
	u := env.URL + "/api/feature/upload-batch"
	src := "1-res-upload"
	body := map[string]any{"modelId": webtest.TestModel, "source": src, "features": []any{uploadFeature(3), uploadFeature(4)}}
	for round := range 2 { // uploading twice replaces, it does not duplicate
		st, b := postJSON(t, u, body)
		wantStatus(t, fmt.Sprintf("upload round %d", round), st, http.StatusOK, b)
	}
	st, b := get(t, env.URL+"/api/feature/"+webtest.TestModel+"/"+src+"/3")
	wantStatus(t, "read back", st, 200, b)
	f := obj(t, b)
	if f["maxActApprox"] != 2.5 || f["frac_nonzero"] != 0.002 || len(f["activations"].([]any)) != 2 || len(f["explanations"].([]any)) != 1 {
		t.Fatalf("uploaded feature read back wrong: %s", truncate(b))
	}
	if pos := f["pos_str"].([]any); len(pos) != 1 || pos[0] != " yes" {
		t.Errorf("pos_str %v", pos)
	}
	st, b = get(t, env.URL+"/api/models/"+webtest.TestModel+"/sources")
	if st != 200 || !strings.Contains(string(b), src) {
		t.Errorf("new source not listed: %s", truncate(b))
	}

	many := make([]any, 129)
	for i := range many {
		many[i] = uploadFeature(i)
	}
	mod := func(edit func(f map[string]any)) map[string]any {
		f := uploadFeature(1)
		edit(f)
		return map[string]any{"modelId": webtest.TestModel, "source": src, "features": []any{f}}
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"unknown model", map[string]any{"modelId": "nope", "source": src, "features": []any{uploadFeature(1)}}, 404, ""},
		{"bad source", map[string]any{"modelId": webtest.TestModel, "source": "a/b", "features": []any{uploadFeature(1)}}, 400, "source"},
		{"no features", map[string]any{"modelId": webtest.TestModel, "source": src, "features": []any{}}, 400, "features"},
		{"too many features", map[string]any{"modelId": webtest.TestModel, "source": src, "features": many}, 413, "at most 128"},
		{"duplicate index", map[string]any{"modelId": webtest.TestModel, "source": src, "features": []any{uploadFeature(1), uploadFeature(1)}}, 400, "twice"},
		{"missing index", mod(func(f map[string]any) { delete(f, "index") }), 400, "features[0].index"},
		{"no activations", mod(func(f map[string]any) { f["activations"] = []any{} }), 400, "activations"},
		{"length mismatch", mod(func(f map[string]any) {
			f["activations"] = []any{map[string]any{"tokens": []string{"a"}, "values": []float64{1, 2}}}
		}), 400, "features[0].activations[0].values"},
		{"too many tokens", mod(func(f map[string]any) {
			f["activations"] = []any{map[string]any{"tokens": make([]string, 1025), "values": make([]float64, 1025)}}
		}), 413, "1024"},
		{"long explanation", mod(func(f map[string]any) {
			f["explanations"] = []any{map[string]any{"text": strings.Repeat("x", 513)}}
		}), 400, "512"},
		{"NUL in explanation", mod(func(f map[string]any) {
			f["explanations"] = []any{map[string]any{"text": "a\x00b"}}
		}), 400, "features[0].explanations[0].text"},
		{"bad fraction", mod(func(f map[string]any) {
			f["activations"] = []any{map[string]any{"tokens": []string{"a"}, "values": []float64{1}, "quantileFraction": 2}}
		}), 400, "quantileFraction"},
		{"bad density", mod(func(f map[string]any) { f["density"] = -0.5 }), 400, "density"},
		{"too many logits", mod(func(f map[string]any) {
			l := make([]any, 21)
			for i := range l {
				l[i] = map[string]any{"token": "t", "value": 1}
			}
			f["topLogits"] = l
		}), 413, "topLogits"},
		{"wrong type", `{"modelId":"m","source":"0-x","features":{"a":1}}`, 400, "features"},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, c.name, st, b, c.status, c.msg)
	}
}

func TestAPIActivationUploadBatch(t *testing.T) {
	env := webtest.New(t, nil)
	u := env.URL + "/api/activation/upload-batch"
	st, b := postJSON(t, u, map[string]any{
		"modelId": webtest.TestModel, "source": webtest.TestSource, "index": "5",
		"activations": []any{map[string]any{"tokens": []string{"new", " example"}, "values": []float64{0.5, 6}}},
	})
	wantStatus(t, "upload activations", st, 200, b)
	st, b = get(t, env.URL+"/api/feature/"+webtest.TestModel+"/"+webtest.TestSource+"/5")
	wantStatus(t, "read back", st, 200, b)
	acts := obj(t, b)["activations"].([]any)
	if len(acts) != 3 {
		t.Fatalf("%d activations after upload, want 3", len(acts))
	}
	found := false
	for _, a := range acts {
		am := a.(map[string]any)
		found = found || (am["maxValue"] == 6.0 && am["maxValueTokenIndex"] == 1.0)
	}
	if !found {
		t.Errorf("uploaded example not found with maxValue 6 at token 1: %s", truncate(b))
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"missing feature", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 999,
			"activations": []any{map[string]any{"tokens": []string{"a"}, "values": []float64{1}}}}, 404, ""},
		{"bad index", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": "x",
			"activations": []any{map[string]any{"tokens": []string{"a"}, "values": []float64{1}}}}, 400, "index"},
		{"mismatch", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 1,
			"activations": []any{map[string]any{"tokens": []string{"a", "b"}, "values": []float64{1}}}}, 400, "activations[0].values"},
		{"empty", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 1, "activations": []any{}}, 400, "activations"},
	} {
		st, b := postJSON(t, u, c.body)
		wantError(t, c.name, st, b, c.status, c.msg)
	}
}
