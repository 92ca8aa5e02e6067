package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// This file is a request-for-request transcript of what Neuronpedia's
// Python client (webapp-python-client in hijohnnylin/neuronpedia, read at
// ebb8426f) sends for each call that maps to a route saex serves, in the
// order its upload_features and upload_vector_and_activations notebooks
// make them: the same method, path (trailing slash included), headers and
// body, and a check of every field the client then reads from the reply.
// It runs against the real server behind the production hardening, so
// the API key is checked and recorded as the owner of what it creates.
// api_client_python_test.go runs the vendored client itself; this
// transcript checks the same flow field by field without Python.

// npClient sends requests as the client's NPRequest.send_request does.
type npClient struct {
	t    *testing.T
	base string // the client's BASE_URL: origin + "/api"
	key  string
}

// send mirrors send_request: X-Api-Key and Accept-Encoding: gzip on every
// request, JSON bodies, URL f"{BASE_URL}/{endpoint}/{uri}". It fails the
// test unless the status is 200 (the client raises on anything else) and
// returns the decoded reply.
func (c *npClient) send(method, endpoint, uri string, body any) any {
	c.t.Helper()
	st, b := c.raw(method, endpoint, uri, body)
	if st != http.StatusOK {
		c.t.Fatalf("%s %s/%s: status %d (the client raises): %s", method, endpoint, uri, st, truncate(b))
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		c.t.Fatalf("%s %s/%s: the client's response.json() fails: %v", method, endpoint, uri, err)
	}
	return v
}

func (c *npClient) raw(method, endpoint, uri string, body any) (int, []byte) {
	c.t.Helper()
	var rd *bytes.Reader
	h := map[string]string{"X-Api-Key": c.key, "Accept-Encoding": "gzip"}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
		h["Content-Type"] = "application/json"
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, c.base+"/"+endpoint+"/"+uri, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var rb io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" { // requests decompresses
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			c.t.Fatal(err)
		}
		rb = zr
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rb); err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, buf.Bytes()
}

// field reads m[k] as the client does (a KeyError fails the test).
func field(t *testing.T, what string, v any, k string) any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object: %v", what, v)
	}
	x, ok := m[k]
	if !ok {
		t.Fatalf("%s: KeyError %q in %v", what, k, m)
	}
	return x
}

func list(t *testing.T, what string, v any) []any {
	t.Helper()
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: not a list: %v", what, v)
	}
	return a
}

func TestNeuronpediaClientTranscript(t *testing.T) {
	e := newHardened(t, false, nil)
	e.Server.Registry, e.Server.Lists, e.Server.Vectors = e.DB, e.DB, e.DB
	c := &npClient{t: t, base: e.URL + "/api", key: e.Key}

	// ModelRequest.new: the notebook's Model.new(id, layers, display_name).
	m := c.send("POST", "model", "new", map[string]any{"id": "pup-xl", "layers": 3, "displayName": "Puppy Model XL", "url": nil})
	if field(t, "model", m, "id") != "pup-xl" || field(t, "model", m, "layers") != 3.0 || field(t, "model", m, "displayName") != "Puppy Model XL" {
		t.Errorf("model/new: %v", m)
	}
	_ = field(t, "model", m, "website")
	if m.(map[string]any)["creatorId"] == "" {
		t.Error("model/new: the key is not recorded as the creator")
	}

	// SourceSetRequest.new, then .get; SourceSet.from_np_db_json reads
	// name, modelId, description, urls (urls[0] when not empty) and
	// sources[].{id, modelId, setName}.
	readSet := func(what string, v any) []string {
		t.Helper()
		field(t, what, v, "name")
		field(t, what, v, "modelId")
		field(t, what, v, "description")
		list(t, what+".urls", field(t, what, v, "urls"))
		var ids []string
		for _, s := range list(t, what+".sources", field(t, what, v, "sources")) {
			field(t, what+" source", s, "modelId")
			field(t, what+" source", s, "setName")
			ids = append(ids, field(t, what+" source", s, "id").(string))
		}
		return ids
	}
	ids := readSet("source-set/new", c.send("POST", "source-set", "new", map[string]any{"name": "puppyscope-res-2k", "modelId": "pup-xl", "description": nil, "url": nil}))
	if strings.Join(ids, ",") != "0-puppyscope-res-2k,1-puppyscope-res-2k,2-puppyscope-res-2k" {
		t.Fatalf("source-set/new sources %v, want one per layer", ids)
	}
	ids = readSet("source-set get", c.send("GET", "source-set", "pup-xl/puppyscope-res-2k", nil))
	if len(ids) != 3 {
		t.Fatalf("source-set get: %v", ids)
	}

	// FeatureRequest.upload_batch to layer 1 (get_source_for_layer_number(1))
	// of the notebook's two features, as upload_batch serializes them: the
	// explanations' method and explainer model are None, feature 2 has no
	// logits and no quantiles.
	src := "1-puppyscope-res-2k"
	act := func(toks []string, vals []float64, qmax, qmin, qfrac any) map[string]any {
		return map[string]any{"tokens": toks, "values": vals, "quantileMax": qmax, "quantileMin": qmin, "quantileFraction": qfrac}
	}
	expl := func(text string) []any {
		return []any{map[string]any{"text": text, "methodName": nil, "modelName": nil}}
	}
	c.send("POST", "feature", "upload-batch", map[string]any{"modelId": "pup-xl", "source": src, "features": []any{
		map[string]any{"index": 0, "density": 0.03,
			"activations": []any{
				act([]string{"my", " border", " collie"}, []float64{0, 2.5, 5.3}, 6, 5, 0.1),
				act([]string{"the", " golden", " retriever"}, []float64{0.2, 3.1, 4.8}, 5, 4, 0.05),
			},
			"explanations": expl("magic dog"),
			"topLogits":    []any{map[string]any{"token": "dog", "value": 0.9}, map[string]any{"token": "cat", "value": 0.7}},
			"bottomLogits": []any{map[string]any{"token": "car", "value": -1.1}, map[string]any{"token": "house", "value": -0.9}},
		},
		map[string]any{"index": 1, "density": 0.05,
			"activations": []any{
				act([]string{"my", " tabby", " cat"}, []float64{0, 1.5, 3.2}, nil, nil, nil),
				act([]string{"the", " persian", " cat"}, []float64{0.1, 2.4, 4.1}, nil, nil, nil),
			},
			"explanations": expl("magic cat"),
			"topLogits":    nil,
			"bottomLogits": nil,
		},
	}})

	// ActivationRequest.upload_batch: more examples for feature 0.
	c.send("POST", "activation", "upload-batch", map[string]any{"modelId": "pup-xl", "source": src, "index": "0",
		"activations": []any{map[string]any{"tokens": []string{"big", " dog"}, "values": []float64{0.1, 4.9}}}})

	// Feature 1 reads back too (Feature.get).
	f1 := c.send("GET", "feature", "pup-xl/"+src+"/1", nil)
	if n := len(list(t, "activations", field(t, "feature 1", f1, "activations"))); n != 2 {
		t.Errorf("feature 1: %d activations", n)
	}
	// FeatureRequest.get reads modelId, layer, index, frac_nonzero,
	// explanations[] (Explanation.from_np_db_json: modelId, source, index,
	// description, typeName?, explanationModelName?) and activations[]
	// (Activation.from_np_db_json: tokens, values of equal length,
	// modelId, source, index, binMax, binMin, binContains).
	f := c.send("GET", "feature", "pup-xl/"+src+"/0", nil)
	if field(t, "feature", f, "modelId") != "pup-xl" || field(t, "feature", f, "layer") != src || field(t, "feature", f, "index") != "0" || field(t, "feature", f, "frac_nonzero") != 0.03 {
		t.Errorf("feature: %v", f)
	}
	exps := list(t, "explanations", field(t, "feature", f, "explanations"))
	if len(exps) != 1 || field(t, "explanation", exps[0], "description") != "magic dog" {
		t.Errorf("explanations %v", exps)
	}
	for _, k := range []string{"modelId", "source", "index", "typeName", "explanationModelName"} {
		field(t, "explanation", exps[0], k)
	}
	acts := list(t, "activations", field(t, "feature", f, "activations"))
	if len(acts) != 3 {
		t.Fatalf("%d activations, want 3", len(acts))
	}
	for i, a := range acts {
		toks := list(t, "tokens", field(t, "activation", a, "tokens"))
		vals := list(t, "values", field(t, "activation", a, "values"))
		if len(toks) != len(vals) {
			t.Errorf("activation %d: %d tokens, %d values (the client raises)", i, len(toks), len(vals))
		}
		for _, k := range []string{"modelId", "source", "index", "binMax", "binMin", "binContains"} {
			field(t, "activation", a, k)
		}
		// Activation.__post_init__ raises unless quantileFraction is in 0..1 or None.
		if q, ok := field(t, "activation", a, "binContains").(float64); ok && (q < 0 || q > 1) {
			t.Errorf("activation %d: binContains %v: the client raises", i, q)
		}
	}
	if field(t, "activation", acts[0], "maxValue") != 5.3 || field(t, "activation", acts[2], "binContains") != 0.05 {
		t.Errorf("activations not largest first: %v", acts[0])
	}

	// VectorRequest.new (upload_vector_and_activations notebook), on the
	// new model: its dimension is unknown, so any length is taken.
	vec := []float64{0.25, -1, 3}
	v := c.send("POST", "vector", "new", map[string]any{"modelId": "pup-xl", "layerNumber": 2, "hookType": "hook_resid_pre",
		"vector": vec, "vectorDefaultSteerStrength": 44, "vectorLabel": "dinosaurs"})
	nv := field(t, "vector/new", v, "vector")
	for _, k := range []string{"modelId", "source", "index", "label", "hookName", "values", "defaultSteerStrength"} {
		field(t, "vector/new vector", nv, k)
	}
	if !strings.HasSuffix(field(t, "vector/new", v, "url").(string), "/pup-xl/2-neuronpedia-resid-pre/0") || field(t, "vector", nv, "hookName") != "blocks.2.hook_resid_pre" {
		t.Errorf("vector/new: %v", v)
	}
	vsrc, vidx := field(t, "vector", nv, "source").(string), field(t, "vector", nv, "index").(string)
	// np_vector.upload_activations: the vector is a feature, examples go to it.
	c.send("POST", "activation", "upload-batch", map[string]any{"modelId": "pup-xl", "source": vsrc, "index": vidx,
		"activations": []any{map[string]any{"tokens": []string{"this", " is", " a", " dinosaur"}, "values": []float64{0, 0, 0.5, 7}}}})
	// VectorRequest.get and get_owned read modelId, layer, index,
	// vectorLabel, hookName, vector, vectorDefaultSteerStrength.
	readVector := func(what string, x any) {
		t.Helper()
		for _, k := range []string{"modelId", "layer", "index", "vectorLabel", "hookName", "vector", "vectorDefaultSteerStrength"} {
			field(t, what, x, k)
		}
		if field(t, what, x, "vectorDefaultSteerStrength") != 44.0 || len(list(t, what, field(t, what, x, "vector"))) != 3 {
			t.Errorf("%s: %v", what, x)
		}
	}
	readVector("vector/get", field(t, "vector/get", c.send("POST", "vector", "get", map[string]any{"modelId": "pup-xl", "source": vsrc, "index": vidx}), "vector"))
	owned := list(t, "vectors", field(t, "list-owned", c.send("POST", "vector", "list-owned", nil), "vectors"))
	if len(owned) != 1 {
		t.Fatalf("list-owned: %v", owned)
	}
	readVector("vector/list-owned", owned[0])

	// ListRequest.new, add_items, get, get_owned (which posts to list/list).
	l := c.send("POST", "list", "new", map[string]any{"name": "dogs and cats", "description": ""})
	listID := field(t, "list/new", l, "id").(string)
	field(t, "list/new", l, "name")
	field(t, "list/new", l, "description")
	added := list(t, "add-features", c.send("POST", "list", "add-features", map[string]any{"listId": listID, "featuresToAdd": []any{
		map[string]any{"modelId": "pup-xl", "layer": src, "index": "0", "description": "the dog one"},
		map[string]any{"modelId": "pup-xl", "layer": src, "index": "1", "description": ""},
	}}))
	if len(added) != 2 {
		t.Fatalf("add-features: %v", added)
	}
	for _, it := range added {
		for _, k := range []string{"modelId", "layer", "index"} {
			field(t, "added item", it, k)
		}
	}
	got := c.send("POST", "list", "get", map[string]any{"listId": listID})
	if field(t, "list/get", got, "id") != listID || field(t, "list/get", got, "name") != "dogs and cats" {
		t.Errorf("list/get: %v", got)
	}
	field(t, "list/get", got, "description")
	neurons := list(t, "neurons", field(t, "list/get", got, "neurons"))
	if len(neurons) != 2 || field(t, "neuron", neurons[0], "index") != "0" || field(t, "neuron", neurons[1], "layer") != src {
		t.Errorf("list/get neurons: %v", neurons)
	}
	mine := list(t, "list/list", c.send("POST", "list", "list", nil))
	if len(mine) != 1 || field(t, "owned list", mine[0], "id") != listID {
		t.Errorf("list/list: %v", mine)
	}
	field(t, "owned list", mine[0], "name")
	field(t, "owned list", mine[0], "description")

	// The feature now names its list.
	f = c.send("GET", "feature", "pup-xl/"+src+"/0", nil)
	if ls := list(t, "lists", field(t, "feature", f, "lists")); len(ls) != 1 || field(t, "list", field(t, "membership", ls[0], "list"), "id") != listID {
		t.Errorf("feature lists: %v", ls)
	}

	// NPVector.delete; the vector is gone.
	c.send("POST", "vector", "delete", map[string]any{"modelId": "pup-xl", "source": vsrc, "index": vidx})
	if st, b := c.raw("POST", "vector", "get", map[string]any{"modelId": "pup-xl", "source": vsrc, "index": vidx}); st != http.StatusNotFound {
		t.Errorf("vector/get after delete: %d %s", st, b)
	}

	// Without a key the client raises NPUnauthorizedError on the writes.
	anon := &npClient{t: t, base: c.base}
	for _, w := range []struct{ endpoint, uri string }{{"model", "new"}, {"source-set", "new"}, {"vector", "new"}, {"vector", "list-owned"}, {"list", "new"}, {"list", "list"}} {
		if st, b := anon.raw("POST", w.endpoint, w.uri, map[string]any{}); st != http.StatusUnauthorized {
			t.Errorf("%s/%s without a key: %d %s", w.endpoint, w.uri, st, b)
		}
	}
}
