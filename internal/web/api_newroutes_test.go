package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"saex/internal/web/webtest"
)

// TestNewRoutesRefuseBadBodies sends bad bodies to every route issue 12
// added: each answers 400 or 404 (409 for a taken id) naming the field or
// the missing row, and nothing is written.
func TestNewRoutesRefuseBadBodies(t *testing.T) {
	env := webtest.New(t, nil)
	count := func() (n int) {
		t.Helper()
		err := env.DB.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM models) + (SELECT count(*) FROM source_sets)
			+ (SELECT count(*) FROM sources) + (SELECT count(*) FROM features) + (SELECT count(*) FROM lists)
			+ (SELECT count(*) FROM list_features)`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	st, b := postJSON(t, env.URL+"/api/list/new", map[string]any{"name": "mine"})
	wantStatus(t, "list/new", st, 200, b)
	listID := obj(t, b)["id"].(string)
	before := count()
	feat := func(i any) map[string]any {
		return map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": i}
	}
	tooMany := make([]any, 101)
	for i := range tooMany {
		tooMany[i] = feat(i % 50)
	}
	for _, c := range []struct {
		route  string
		body   any
		status int
		msg    string
	}{
		{"model/new", `{"layers":3}`, 400, `"id"`},
		{"model/new", `{"id":"Bad_Id","layers":3}`, 400, `"id"`},
		{"model/new", `{"id":"ok-model","layers":"many"}`, 400, `"layers"`},
		{"model/new", `{"id":"ok-model","layers":0}`, 400, `"layers"`},
		{"model/new", `{"id":"ok-model","layers":3,"url":"not a url"}`, 400, `"url"`},
		{"model/new", `{"id":"ok-model","layers":3,"displayName":7}`, 400, `displayName`},
		{"model/new", `{"id":"` + webtest.TestModel + `","layers":3}`, 409, "already exists"},
		{"model/get", `{}`, 400, `"id"`},
		{"model/get", `{"id":"nope"}`, 404, "nope"},
		{"source-set/new", `{"modelId":"` + webtest.TestModel + `"}`, 400, `"name"`},
		{"source-set/new", `{"name":"neurons","modelId":"` + webtest.TestModel + `"}`, 400, `"name"`},
		{"source-set/new", `{"name":"a--b","modelId":"` + webtest.TestModel + `"}`, 400, `"name"`},
		{"source-set/new", `{"name":"fresh"}`, 400, `"modelId"`},
		{"source-set/new", `{"name":"fresh","modelId":"nope"}`, 404, "nope"},
		{"source-set/new", `{"name":"res-webtest","modelId":"` + webtest.TestModel + `"}`, 409, "already exists"},
		{"source-set/new", `{"name":"fresh","modelId":"` + webtest.TestModel + `","description":"` + strings.Repeat("d", 129) + `"}`, 400, `"description"`},
		{"activation/get", `{"source":"x","index":1}`, 400, `"modelId"`},
		{"activation/get", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": "x"}, 400, `"index"`},
		{"activation/get", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 999}, 404, "999"},
		{"activation/get", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": webtest.TestFeatures - 1}, 404, "no activations"},
		{"explanation/export", `{"source":"x"}`, 400, `"modelId"`},
		{"explanation/export", map[string]any{"modelId": webtest.TestModel, "source": "9-none"}, 404, "9-none"},
		{"explanation/export", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "limit": 0}, 400, `"limit"`},
		{"vector/new", `{"layerNumber":0,"hookType":"hook_resid_pre","vector":[1],"vectorDefaultSteerStrength":1,"vectorLabel":"x"}`, 400, `"modelId"`},
		{"vector/new", map[string]any{"modelId": webtest.TestModel, "hookType": "hook_resid_pre", "vector": []float64{1}, "vectorDefaultSteerStrength": 1, "vectorLabel": "x"}, 400, `"layerNumber"`},
		{"vector/new", map[string]any{"modelId": webtest.TestModel, "layerNumber": 0, "hookType": "hook_z", "vector": []float64{1}, "vectorDefaultSteerStrength": 1, "vectorLabel": "x"}, 400, `"hookType"`},
		{"vector/new", map[string]any{"modelId": webtest.TestModel, "layerNumber": 0, "hookType": "hook_resid_pre", "vector": "1,2", "vectorDefaultSteerStrength": 1, "vectorLabel": "x"}, 400, `"vector"`},
		{"vector/new", map[string]any{"modelId": webtest.TestModel, "layerNumber": 0, "hookType": "hook_resid_pre", "vector": []float64{1, 2}, "vectorDefaultSteerStrength": 1, "vectorLabel": "x"}, 400, "dimension"},
		{"vector/new", map[string]any{"modelId": webtest.TestModel, "layerNumber": 9, "hookType": "hook_resid_pre", "vector": make([]float64, 64), "vectorDefaultSteerStrength": 1, "vectorLabel": "x"}, 400, `"layerNumber"`},
		{"vector/new", map[string]any{"modelId": webtest.TestModel, "layerNumber": 0, "hookType": "hook_resid_pre", "vector": make([]float64, 64), "vectorDefaultSteerStrength": 1000, "vectorLabel": "x"}, 400, `"vectorDefaultSteerStrength"`},
		{"vector/new", map[string]any{"modelId": webtest.TestModel, "layerNumber": 0, "hookType": "hook_resid_pre", "vector": make([]float64, 64), "vectorDefaultSteerStrength": 1}, 400, `"vectorLabel"`},
		{"vector/new", map[string]any{"modelId": "nope", "layerNumber": 0, "hookType": "hook_resid_pre", "vector": []float64{1}, "vectorDefaultSteerStrength": 1, "vectorLabel": "x"}, 404, "nope"},
		{"vector/get", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource}, 400, `"index"`},
		{"vector/get", feat(3), 404, "no stored vector"},
		{"vector/delete", feat(3), 404, "not found"},
		{"vector/delete", map[string]any{"modelId": webtest.TestModel, "index": 3}, 400, `"source"`},
		{"list/new", `{}`, 400, `"name"`},
		{"list/new", `{"name":"   "}`, 400, `"name"`},
		{"list/new", `{"name":"x","testText":""}`, 400, `"testText"`},
		{"list/get", `{}`, 400, `"listId"`},
		{"list/get", `{"listId":"nope"}`, 404, "nope"},
		{"list/add-features", map[string]any{"featuresToAdd": []any{feat(1)}}, 400, `"listId"`},
		{"list/add-features", map[string]any{"listId": listID}, 400, `"featuresToAdd"`},
		{"list/add-features", map[string]any{"listId": listID, "featuresToAdd": tooMany}, 400, "at most 100"},
		{"list/add-features", map[string]any{"listId": listID, "featuresToAdd": []any{feat(1), feat("x")}}, 400, `"featuresToAdd[1].index"`},
		{"list/add-features", map[string]any{"listId": listID, "featuresToAdd": []any{feat(1), map[string]any{"layer": webtest.TestSource, "index": 1}}}, 400, `"featuresToAdd[1].modelId"`},
		{"list/add-features", map[string]any{"listId": listID, "featuresToAdd": []any{feat(1), feat(999)}}, 404, "999"},
		{"list/add-features", map[string]any{"listId": "nope", "featuresToAdd": []any{feat(1)}}, 404, "nope"},
		{"list/remove", map[string]any{"listId": listID, "modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 2}, 404, "not in list"},
		{"list/remove-feature", map[string]any{"listId": listID, "modelId": webtest.TestModel, "layer": webtest.TestSource}, 400, `"index"`},
	} {
		st, b := postJSON(t, env.URL+"/api/"+c.route, c.body)
		wantError(t, c.route+" "+truncate([]byte(mustJSON(c.body))), st, b, c.status, c.msg)
	}
	if after := count(); after != before {
		t.Errorf("rows changed from %d to %d after refused requests", before, after)
	}
	// The source-set read by path.
	st, b = get(t, env.URL+"/api/source-set/"+webtest.TestModel+"/nope")
	wantError(t, "unknown source set", st, b, 404, "nope")
	st, b = get(t, env.URL+"/api/source-set/"+webtest.TestModel+"/res-webtest")
	wantStatus(t, "source set", st, 200, b)
	if srcs := obj(t, b)["sources"].([]any); len(srcs) != 1 {
		t.Errorf("source set sources: %s", b)
	}

	// Neuronpedia routes saex does not serve: JSON 404 saying so.
	for _, p := range []string{"/api/graph/generate", "/api/graph/list-owned", "/api/explanation/vote", "/api/umap", "/api/features-offset"} {
		st, b := postJSON(t, env.URL+p, `{}`)
		wantError(t, p, st, b, http.StatusNotFound, "not served by saex")
	}
}

// TestNewRoutesServe checks the reads the transcript does not: model/list
// and model/get, activation/get, explanation/export.
func TestNewRoutesServe(t *testing.T) {
	env := webtest.New(t, nil)
	st, b := postJSON(t, env.URL+"/api/model/list", nil)
	wantStatus(t, "model/list", st, 200, b)
	if ms := decode(t, b).([]any); len(ms) < 3 {
		t.Errorf("model/list: %s", truncate(b))
	}
	st, b = postJSON(t, env.URL+"/api/model/get", map[string]any{"id": webtest.GemmaModel})
	wantStatus(t, "model/get", st, 200, b)
	sets := obj(t, b)["sourceSets"].([]any)
	if len(sets) != 1 || len(sets[0].(map[string]any)["sources"].([]any)) != 1 {
		t.Errorf("model/get source sets: %s", truncate(b))
	}
	st, b = postJSON(t, env.URL+"/api/activation/get", map[string]any{"modelId": webtest.GemmaModel, "source": webtest.GemmaSource, "index": "81408"})
	wantStatus(t, "activation/get", st, 200, b)
	acts := decodeNumbers(t, b).([]any)
	if len(acts) < 10 {
		t.Fatalf("activation/get: %d examples", len(acts))
	}
	checkNeuronpediaActivations(t, "activation/get", acts)
	st, b = postJSON(t, env.URL+"/api/explanation/export", map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "offset": 10, "limit": 5})
	wantStatus(t, "export", st, 200, b)
	rows := decode(t, b).([]any)
	if len(rows) != 5 || rows[0].(map[string]any)["index"] != "10" || rows[0].(map[string]any)["description"] != "synthetic feature 10" {
		t.Errorf("export page: %s", truncate(b))
	}
	hasKeys(t, "export row", rows[0].(map[string]any), "id", "modelId", "layer", "index", "authorId", "description", "typeName", "explanationModelName", "scores")
	st, b = get(t, env.URL+"/api/explanation/export?modelId="+webtest.TestModel+"&source="+webtest.TestSource)
	wantStatus(t, "export GET", st, 200, b)
	if n := len(decode(t, b).([]any)); n != webtest.TestFeatures-1 {
		t.Errorf("export: %d explanations, want %d", n, webtest.TestFeatures-1)
	}
}

// TestFeatureListsFollowWrites checks that GET /api/feature, served from
// the response cache, shows a list as soon as the feature joins it.
func TestFeatureListsFollowWrites(t *testing.T) {
	env := webtest.New(t, nil)
	u := env.URL + "/api/feature/" + webtest.TestModel + "/" + webtest.TestSource + "/4"
	lists := func() []any {
		t.Helper()
		st, b := get(t, u)
		wantStatus(t, "feature", st, 200, b)
		return obj(t, b)["lists"].([]any)
	}
	if n := len(lists()); n != 0 {
		t.Fatalf("%d lists before", n)
	}
	lists() // now from the cache
	st, b := postJSON(t, env.URL+"/api/list/new", map[string]any{"name": "cached"})
	wantStatus(t, "list/new", st, 200, b)
	id := obj(t, b)["id"].(string)
	st, b = postJSON(t, env.URL+"/api/list/add-features", map[string]any{"listId": id, "featuresToAdd": []any{
		map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 4, "description": "why"}}})
	wantStatus(t, "add", st, 200, b)
	ls := lists()
	if len(ls) != 1 || ls[0].(map[string]any)["description"] != "why" || ls[0].(map[string]any)["list"].(map[string]any)["name"] != "cached" {
		t.Errorf("lists after adding: %v", ls)
	}
}

// TestListsAndVectorsBelongToTheirKey checks that only the key that made
// a list or vector may change it.
func TestListsAndVectorsBelongToTheirKey(t *testing.T) {
	e := newHardened(t, false, nil)
	e.Server.Registry, e.Server.Lists, e.Server.Vectors = e.DB, e.DB, e.DB
	other, _, err := e.DB.CreateAPIKey(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	as := func(key string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "X-Api-Key": key}
	}
	st, _, b := e.call(t, "POST", "/api/list/new", `{"name":"mine"}`, as(e.Key))
	wantStatus(t, "list/new", st, 200, b)
	id := obj(t, b)["id"].(string)
	add := `{"listId":"` + id + `","featuresToAdd":[{"modelId":"` + webtest.TestModel + `","layer":"` + webtest.TestSource + `","index":1}]}`
	st, _, b = e.call(t, "POST", "/api/list/add-features", add, as(other))
	wantError(t, "add by another key", st, b, 403, "another API key")
	st, _, b = e.call(t, "POST", "/api/list/list", "", as(other))
	if st != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("other key's lists: %d %s", st, b)
	}
	vec := `{"modelId":"` + webtest.TestModel + `","layerNumber":1,"hookType":"hook_resid_post","vector":[` + strings.TrimSuffix(strings.Repeat("0.5,", 64), ",") + `],"vectorDefaultSteerStrength":10,"vectorLabel":"v"}`
	st, _, b = e.call(t, "POST", "/api/vector/new", vec, as(e.Key))
	wantStatus(t, "vector/new", st, 200, b)
	v := obj(t, b)["vector"].(map[string]any)
	del := `{"modelId":"` + webtest.TestModel + `","source":"` + v["source"].(string) + `","index":"` + v["index"].(string) + `"}`
	st, _, b = e.call(t, "POST", "/api/vector/delete", del, as(other))
	wantError(t, "delete by another key", st, b, 403, "another API key")
	st, _, b = e.call(t, "POST", "/api/vector/list-owned", "", as(other))
	if st != 200 || !strings.Contains(string(b), `"vectors":[]`) {
		t.Errorf("other key's vectors: %d %s", st, b)
	}
}

// TestOpenAPINewRoutes validates the replies of the routes issue 12 added,
// success and errors, against the served OpenAPI document.
func TestOpenAPINewRoutes(t *testing.T) {
	env := webtest.New(t, nil)
	_, router := loadOpenAPI(t, env.URL)
	st, b := postJSON(t, env.URL+"/api/list/new", map[string]any{"name": "doc list", "testText": "hello"})
	wantStatus(t, "list/new", st, 200, b)
	listID := obj(t, b)["id"].(string)
	st, b = postJSON(t, env.URL+"/api/vector/new", map[string]any{"modelId": webtest.TestModel, "layerNumber": 1, "hookType": "hook_resid_pre",
		"vector": make([]float64, 64), "vectorDefaultSteerStrength": 10, "vectorLabel": "doc"})
	wantStatus(t, "vector/new", st, 200, b)
	vec := obj(t, b)["vector"].(map[string]any)
	vkey := mustJSON(map[string]any{"modelId": webtest.TestModel, "source": vec["source"], "index": vec["index"]})
	feat := map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 3}
	for _, c := range []apiCase{
		{"POST", "/api/model/list", "", 200},
		{"POST", "/api/model/get", `{"id":"` + webtest.GemmaModel + `"}`, 200},
		{"POST", "/api/model/get", `{"id":"nope"}`, 404},
		{"POST", "/api/model/new", `{"id":"doc-model","layers":2,"displayName":"Doc","url":"https://example.org/m"}`, 200},
		{"POST", "/api/model/new", `{"id":"doc-model","layers":2}`, 409},
		{"POST", "/api/model/new", `{"id":"x","layers":2}`, 400},
		{"POST", "/api/source-set/new", `{"name":"doc-res","modelId":"doc-model","description":"d","url":"https://example.org"}`, 200},
		{"POST", "/api/source-set/new", `{"name":"doc-res","modelId":"nope"}`, 404},
		{"GET", "/api/source-set/doc-model/doc-res", "", 200},
		{"GET", "/api/source-set/doc-model/nope", "", 404},
		{"POST", "/api/activation/get", mustJSON(feat), 200},
		{"POST", "/api/activation/get", `{"modelId":"` + webtest.TestModel + `","source":"` + webtest.TestSource + `","index":999}`, 404},
		{"POST", "/api/explanation/export", `{"modelId":"` + webtest.TestModel + `","source":"` + webtest.TestSource + `","limit":3}`, 200},
		{"GET", "/api/explanation/export?modelId=" + webtest.GemmaModel + "&source=" + webtest.GemmaSource, "", 200},
		{"POST", "/api/explanation/export", `{"modelId":"` + webtest.TestModel + `","source":"9-x"}`, 404},
		{"POST", "/api/vector/get", vkey, 200},
		{"POST", "/api/vector/get", mustJSON(feat), 404},
		{"POST", "/api/vector/list-owned", "", 200},
		{"POST", "/api/vector/new", `{"modelId":"` + webtest.TestModel + `"}`, 400},
		{"POST", "/api/list/add-features", mustJSON(map[string]any{"listId": listID, "featuresToAdd": []any{feat}}), 200},
		{"POST", "/api/list/add-features", mustJSON(map[string]any{"listId": "nope", "featuresToAdd": []any{feat}}), 404},
		{"POST", "/api/list/get", `{"listId":"` + listID + `"}`, 200},
		{"POST", "/api/list/get", `{"listId":"nope"}`, 404},
		{"POST", "/api/list/list", "", 200},
		{"POST", "/api/list/list-owned", "", 200},
		{"GET", "/api/feature/" + webtest.TestModel + "/" + webtest.TestSource + "/3", "", 200}, // now with a list
		{"POST", "/api/list/remove", mustJSON(map[string]any{"listId": listID, "modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 3}), 200},
		{"POST", "/api/list/remove-feature", mustJSON(map[string]any{"listId": listID, "modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 3}), 404},
		{"POST", "/api/vector/delete", vkey, 200},
		{"POST", "/api/vector/delete", vkey, 404},
	} {
		checkAgainstDoc(t, env.URL, router, c)
	}
}
