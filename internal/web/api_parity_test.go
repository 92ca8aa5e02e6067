package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"saex/internal/web/webtest"
)

// decodeNumbers decodes JSON keeping numbers as their text.
func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, truncate(b))
	}
	return v
}

// noNulls fails for every array-valued field name of Neuronpedia's that
// holds null in m.
func noNulls(t *testing.T, what string, m map[string]any, fields ...string) {
	t.Helper()
	for _, f := range fields {
		v, ok := m[f]
		if !ok {
			t.Errorf("%s: missing %q", what, f)
			continue
		}
		if _, isArr := v.([]any); !isArr {
			t.Errorf("%s: %q is %v, want an array", what, f, v)
		}
	}
}

var featureArrayFields = []string{"vector", "topkCosSimIndices", "topkCosSimValues",
	"neuron_alignment_indices", "neuron_alignment_values", "neuron_alignment_l1",
	"correlated_neurons_indices", "correlated_neurons_pearson", "correlated_neurons_l1",
	"correlated_features_indices", "correlated_features_pearson", "correlated_features_l1",
	"neg_str", "neg_values", "pos_str", "pos_values", "freq_hist_data_bar_heights", "freq_hist_data_bar_values",
	"logits_hist_data_bar_heights", "logits_hist_data_bar_values", "decoder_weights_dist", "activations", "explanations"}

// checkNeuronpediaFeature checks a feature object as Neuronpedia's clients
// read it: arrays never null, activations with Neuronpedia's fields,
// ordered by maxValue descending, each maxValue printed exactly as its
// values[maxValueTokenIndex]; explanations with scores, author, votes and
// triggeredByUser.
func checkNeuronpediaFeature(t *testing.T, what string, f map[string]any) {
	t.Helper()
	noNulls(t, what, f, featureArrayFields...)
	acts, _ := f["activations"].([]any)
	checkNeuronpediaActivations(t, what, acts)
	exps, _ := f["explanations"].([]any)
	for i, e := range exps {
		em := e.(map[string]any)
		w := fmt.Sprintf("%s explanation %d", what, i)
		noNulls(t, w, em, "scores", "votes")
		hasKeys(t, w, em, "description", "typeName", "explanationModelName", "triggeredByUser", "author")
		if a, ok := em["author"].(map[string]any); !ok || a["name"] == nil {
			t.Errorf("%s: author %v, want {id, name}", w, em["author"])
		}
	}
}

// checkNeuronpediaActivations checks examples as checkNeuronpediaFeature does.
func checkNeuronpediaActivations(t *testing.T, what string, acts []any) {
	t.Helper()
	prev := ""
	for i, a := range acts {
		am := a.(map[string]any)
		w := fmt.Sprintf("%s activation %d", what, i)
		noNulls(t, w, am, "tokens", "values", "dfaValues", "lossValues", "zQIndices", "zKIndices", "zValues")
		hasKeys(t, w, am, "maxValue", "maxValueTokenIndex", "minValue", "binMin", "binMax", "binContains", "dfaTargetIndex", "dfaMaxValue", "source")
		vals, _ := am["values"].([]any)
		mi, _ := am["maxValueTokenIndex"].(json.Number).Int64()
		mv := am["maxValue"].(json.Number).String()
		if len(vals) > 0 {
			if got := vals[mi].(json.Number).String(); got != mv {
				t.Errorf("%s: values[maxValueTokenIndex=%d] is %s but maxValue is %s", w, mi, got, mv)
			}
		}
		if prev != "" {
			p, _ := strconv.ParseFloat(prev, 64)
			c, _ := strconv.ParseFloat(mv, 64)
			if c > p {
				t.Errorf("%s: maxValue %s after %s: not ordered largest first", w, mv, prev)
			}
		}
		prev = mv
	}
}

// TestAPIFeatureNeuronpediaShape checks GET /api/feature against what
// Neuronpedia returns (issue 12's "what was found", items 1-4).
func TestAPIFeatureNeuronpediaShape(t *testing.T) {
	env := webtest.New(t, nil)
	for _, path := range []string{
		"/api/feature/" + webtest.GemmaModel + "/" + webtest.GemmaSource + "/" + strconv.Itoa(webtest.GemmaIndex),
		"/api/feature/" + webtest.GPT2Model + "/" + webtest.GPT2Source + "/0",
		"/api/feature/" + webtest.TestModel + "/" + webtest.TestSource + "/" + strconv.Itoa(webtest.SeededIndex),
		"/api/feature/" + webtest.TestModel + "/" + webtest.TestSource + "/" + strconv.Itoa(webtest.TestFeatures-1), // dead
	} {
		st, b := get(t, env.URL+path)
		wantStatus(t, path, st, http.StatusOK, b)
		f, ok := decodeNumbers(t, b).(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object", path)
		}
		checkNeuronpediaFeature(t, path, f)
		hasKeys(t, path, f, "model", "source", "sourceSet", "lists", "creator", "comments")
		noNulls(t, path, f, "lists", "comments")
		if m, ok := f["model"].(map[string]any); !ok || m["id"] != f["modelId"] {
			t.Errorf("%s: model %v, want the model row", path, f["model"])
		}
		if src, ok := f["source"].(map[string]any); !ok || src["id"] != f["layer"] {
			t.Errorf("%s: source %v, want the source row", path, f["source"])
		}
		if set, ok := f["sourceSet"].(map[string]any); !ok || set["name"] == nil {
			t.Errorf("%s: sourceSet %v, want the source set row", path, f["sourceSet"])
		}
	}
	// The Gemma export's examples: more than one group, so the order is tested.
	st, b := get(t, env.URL+"/api/feature/"+webtest.GemmaModel+"/"+webtest.GemmaSource+"/"+strconv.Itoa(webtest.GemmaIndex))
	wantStatus(t, "gemma", st, 200, b)
	if acts := obj(t, b)["activations"].([]any); len(acts) < 10 {
		t.Fatalf("gemma feature: %d examples, want the fixture's groups", len(acts))
	}
}

// TestAPIFeaturesNeuronpediaShape checks POST /api/features rows the same way.
func TestAPIFeaturesNeuronpediaShape(t *testing.T) {
	env := webtest.New(t, nil)
	st, b := postJSON(t, env.URL+"/api/features", []map[string]any{
		{"modelId": webtest.GemmaModel, "layer": webtest.GemmaSource, "index": webtest.GemmaIndex, "maxActsToReturn": 5},
		{"modelId": webtest.GPT2Model, "layer": webtest.GPT2Source, "index": 0},
	})
	wantStatus(t, "features", st, 200, b)
	arr, _ := decodeNumbers(t, b).([]any)
	if len(arr) != 2 {
		t.Fatalf("want 2 features: %s", truncate(b))
	}
	for i, f := range arr {
		fm := f.(map[string]any)
		checkNeuronpediaFeature(t, fmt.Sprintf("feature %d", i), fm)
		if n := len(fm["activations"].([]any)); n != 5 {
			t.Errorf("feature %d: %d examples, want 5 (the first item's maxActsToReturn)", i, n)
		}
	}
}
