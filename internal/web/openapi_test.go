package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"

	"saex/internal/web/webtest"
)

// loadOpenAPI fetches and validates the served OpenAPI document.
func loadOpenAPI(t *testing.T, base string) (*openapi3.T, routers.Router) {
	t.Helper()
	st, b := get(t, base+"/api/openapi.json")
	wantStatus(t, "openapi.json", st, 200, b)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("load OpenAPI: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	// Match paths alone: the document's relative server URL has no host.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// TestOpenAPIRoutesExist checks the document against the router both ways:
// every documented operation is routed, and every API route is documented.
func TestOpenAPIRoutesExist(t *testing.T) {
	env := webtest.New(t, nil)
	doc, _ := loadOpenAPI(t, env.URL)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	routed := map[string]bool{}
	rt, ok := env.Server.Handler().(chi.Routes)
	if !ok {
		t.Fatal("handler is not a chi router")
	}
	err := chi.Walk(rt, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/")
		if strings.HasPrefix(route, "/api/") {
			routed[method+" "+strings.TrimSuffix(route, "/")] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, undocumented []string
	for op := range documented {
		if !routed[op] {
			missing = append(missing, op)
		}
	}
	for op := range routed {
		if !documented[op] {
			undocumented = append(undocumented, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(undocumented)
	if len(missing) > 0 {
		t.Errorf("documented but not routed: %v", missing)
	}
	if len(undocumented) > 0 {
		t.Errorf("routed but not documented: %v", undocumented)
	}
}

// apiCase is one request whose response must match the document.
type apiCase struct {
	method, path string
	body         string
	status       int // expected status; 0 accepts any documented one
}

// checkAgainstDoc sends c and validates the request (when it should
// succeed) and the response against the OpenAPI document.
func checkAgainstDoc(t *testing.T, base string, router routers.Router, c apiCase) {
	t.Helper()
	name := c.method + " " + c.path
	var rdr io.Reader
	if c.body != "" {
		rdr = strings.NewReader(c.body)
	}
	st, header, body := do(t, c.method, base+c.path, rdr, map[string]string{"Content-Type": "application/json", "X-Api-Key": "sk-test"})
	if c.status != 0 && st != c.status {
		t.Errorf("%s: status %d, want %d: %s", name, st, c.status, truncate(body))
		return
	}
	req, err := http.NewRequest(c.method, "http://saex.test"+c.path, bytes.NewReader([]byte(c.body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: not in the document: %v", name, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if st < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s: accepted a request the document rejects: %v", name, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: st, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s: response %d does not match the document: %v\n%s", name, st, err, truncate(body))
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// readAndWriteCases exercise every read and write route, success and errors.
func readAndWriteCases() []apiCase {
	feat := "/api/feature/" + webtest.TestModel + "/" + webtest.TestSource
	return []apiCase{
		{"GET", "/api/models", "", 200},
		{"GET", "/api/models/" + webtest.TestModel + "/sources", "", 200},
		{"GET", "/api/models/" + webtest.GemmaModel + "/sources", "", 200},
		{"GET", "/api/models/nope/sources", "", 404},
		{"GET", feat + "/3", "", 200},
		{"GET", feat + "/" + itoa(webtest.HostileIndex), "", 200},
		{"GET", feat + "/" + itoa(webtest.TestFeatures-1), "", 200}, // dead, no examples
		{"GET", "/api/feature/" + webtest.GemmaModel + "/" + webtest.GemmaSource + "/" + itoa(webtest.GemmaIndex), "", 200},
		{"GET", "/api/feature/" + webtest.GPT2Model + "/" + webtest.GPT2Source + "/0", "", 200},
		{"GET", feat + "/999", "", 404},
		{"GET", feat + "/x", "", 400},
		{"POST", "/api/features", mustJSON([]any{map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 1, "maxActsToReturn": 1}}), 200},
		{"POST", "/api/features", "[]", 400},
		{"POST", "/api/explanation/search", `{"query":"stegosaurus"}`, 200},
		{"POST", "/api/explanation/search", `{"query":"synthetic feature","modelId":"` + webtest.TestModel + `","layers":["` + webtest.TestSource + `"],"offset":20}`, 200},
		{"POST", "/api/explanation/search", `{"query":"x"}`, 400},
		{"POST", "/api/explanation/search-model", `{"query":"synthetic feature","modelId":"` + webtest.TestModel + `"}`, 200},
		{"POST", "/api/explanation/search-model", `{"query":"synthetic feature","modelId":"nope"}`, 404},
		{"POST", "/api/explanation/search-release", `{"query":"synthetic feature","releaseName":"gemma-scope"}`, 200},
		{"POST", "/api/explanation/search-release", `{"query":"synthetic feature"}`, 400},
		{"POST", "/api/explanation/search-all", `{"query":"synthetic feature","offset":55}`, 200},
		{"POST", "/api/explanation/new", mustJSON(map[string]any{"feature": map[string]any{"modelId": webtest.TestModel, "layer": webtest.TestSource, "index": 2, "explanation": "Neuronpedia body", "explanationModel": "gpt-4o-mini"}}), 200},
		{"POST", "/api/feature/upload-batch", mustJSON(map[string]any{"modelId": webtest.TestModel, "source": "2-res-doc", "features": []any{uploadFeature(1)}}), 200},
		{"POST", "/api/feature/upload-batch", mustJSON(map[string]any{"modelId": "nope", "source": "2-res-doc", "features": []any{uploadFeature(1)}}), 404},
		{"POST", "/api/feature/upload-batch", `{"modelId":"m"}`, 400},
		{"POST", "/api/activation/upload-batch", mustJSON(map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 2,
			"activations": []any{map[string]any{"tokens": []string{"a"}, "values": []float64{1}}}}), 200},
		{"POST", "/api/activation/upload-batch", mustJSON(map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 999,
			"activations": []any{map[string]any{"tokens": []string{"a"}, "values": []float64{1}}}}), 404},
		{"POST", "/api/explanation/new", mustJSON(map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": "2", "description": "documented explanation"}), 200},
		{"POST", "/api/explanation/new", mustJSON(map[string]any{"modelId": webtest.TestModel, "source": webtest.TestSource, "index": 999, "description": "x"}), 404},
		{"POST", "/api/explanation/new", `{"modelId":"m","source":"1-x","index":1}`, 400},
		{"GET", "/api/openapi.json", "", 200},
	}
}

// TestOpenAPIResponsesMatch runs real requests through the real handlers
// (with the demo model for the compute routes) and validates each response
// against its documented schema.
func TestOpenAPIResponsesMatch(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	_, router := loadOpenAPI(t, env.URL)
	for _, c := range readAndWriteCases() {
		checkAgainstDoc(t, env.URL, router, c)
	}
	m, text := webtest.DemoModel, webtest.DemoPrompts[0]
	feature := map[string]any{"modelId": m, "source": "1-res-topk", "index": 5}
	for _, c := range []apiCase{
		{"POST", "/api/activation/new", mustJSON(map[string]any{"feature": feature, "customText": text}), 200},
		{"POST", "/api/activation/new", mustJSON(map[string]any{"feature": feature, "customText": []string{text, "x"}, "ignoreBos": true}), 200},
		{"POST", "/api/activation/new", mustJSON(map[string]any{"feature": feature, "customText": strings.Repeat("a b ", 300)}), 422},
		{"POST", "/api/activation/new", mustJSON(map[string]any{"feature": map[string]any{"modelId": webtest.GemmaModel, "source": webtest.GemmaSource, "index": 1}, "customText": "x"}), 503},
		{"POST", "/api/activation/source", mustJSON(map[string]any{"modelId": m, "source": "2-res-topk", "customText": text}), 200},
		{"POST", "/api/activation/source", mustJSON(map[string]any{"modelId": m, "source": "2-res-topk", "customText": []string{"a", "b", "c", "d", "e"}}), 413},
		{"POST", "/api/search-all", mustJSON(map[string]any{"modelId": m, "text": text, "numResults": 5}), 200},
		{"POST", "/api/search-all", mustJSON(map[string]any{"modelId": m, "text": []string{text, "x"}, "numResults": 5, "sortIndexes": []int{1}}), 200},
		{"POST", "/api/search-all", mustJSON(map[string]any{"modelId": m, "text": text, "numResults": 500}), 400},
		{"POST", "/api/search-all", mustJSON(map[string]any{"modelId": "nope", "text": text}), 404},
		{"POST", "/api/search-topk-by-token", mustJSON(map[string]any{"modelId": m, "source": "3-res-topk", "text": text}), 200},
		{"POST", "/api/search-topk-by-token", mustJSON(map[string]any{"modelId": m, "source": "3-res-topk", "text": []string{text, "x"}}), 200},
	} {
		checkAgainstDoc(t, env.URL, router, c)
	}
	// Without an inference engine the compute routes answer a documented 503.
	plain := webtest.New(t, nil)
	for _, p := range []string{"/api/activation/new", "/api/activation/source", "/api/search-all", "/api/search-topk-by-token"} {
		body := `{"modelId":"` + webtest.TestModel + `","source":"` + webtest.TestSource + `","text":"hi","customText":"hi","feature":{"modelId":"` + webtest.TestModel + `","source":"` + webtest.TestSource + `","index":1}}`
		checkAgainstDoc(t, plain.URL, router, apiCase{"POST", p, body, 503})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
