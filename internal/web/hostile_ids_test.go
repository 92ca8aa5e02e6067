package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"saex/internal/web/webtest"
)

// Regression tests of issue 10, defects 1 to 3: ids that do not fit the
// store's integers are refused with a 4xx naming the field, rows already
// stored with such ids do not break the pages, and nothing wraps silently.

// TestHugeLayerSourceRefusedAndHarmless: a source whose layer does not fit a
// 32-bit int is refused on upload, and one already in the database (written
// before the check existed) leaves the model's pages and lists working.
func TestHugeLayerSourceRefusedAndHarmless(t *testing.T) {
	env := webtest.New(t, nil)
	huge := "99999999999-res-webtest"
	body := map[string]any{"modelId": webtest.TestModel, "source": huge, "features": []any{uploadFeature(1)}}
	st, b := postJSON(t, env.URL+"/api/feature/upload-batch", body)
	wantError(t, "upload to "+huge, st, b, http.StatusBadRequest, `"source"`)
	if !strings.Contains(string(b), "layer") {
		t.Errorf("upload to %s: the error does not say the layer is wrong: %s", huge, b)
	}

	// A row stored before the check existed (or written by hand).
	ctx := context.Background()
	if _, err := env.DB.Pool.Exec(ctx, `INSERT INTO sources (model_id, id, set_name)
		SELECT model_id, $3, set_name FROM sources WHERE model_id = $1 AND id = $2`,
		webtest.TestModel, webtest.TestSource, huge); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/" + webtest.TestModel, "/" + webtest.TestModel + "/prompt", "/api/models/" + webtest.TestModel + "/sources"} {
		st, b := get(t, env.URL+path)
		wantStatus(t, "GET "+path+" with a huge-layer source stored", st, http.StatusOK, b)
	}
	st, b = get(t, env.URL+"/api/models/"+webtest.TestModel+"/sources")
	wantStatus(t, "sources API", st, http.StatusOK, b)
	if i, j := strings.Index(string(b), webtest.TestSource), strings.Index(string(b), huge); i < 0 || j < 0 || j < i {
		t.Errorf("sources not listed in layer order (layer 0 before layer 99999999999): %s", truncate(b))
	}
}

// TestIndexBeyondInt32NeverWraps: an index of 2^32 (which int32() turns into
// 0) is refused on every write route, and feature 0 is left as it was.
func TestIndexBeyondInt32NeverWraps(t *testing.T) {
	env := webtest.New(t, nil)
	before := featureSnapshot(t, env, 0)
	for _, idx := range []string{"4294967296", `"4294967296"`, "4294967296.0", "2147483648", "9223372036854775807", "-1"} {
		for _, c := range []struct{ path, body string }{
			{"/api/explanation/new", fmt.Sprintf(`{"modelId":%q,"source":%q,"index":%s,"description":"wrapped"}`, webtest.TestModel, webtest.TestSource, idx)},
			{"/api/activation/upload-batch", fmt.Sprintf(`{"modelId":%q,"source":%q,"index":%s,"activations":[{"tokens":["x"],"values":[1]}]}`, webtest.TestModel, webtest.TestSource, idx)},
			{"/api/feature/upload-batch", fmt.Sprintf(`{"modelId":%q,"source":%q,"features":[{"index":%s,"activations":[{"tokens":["x"],"values":[1]}]}]}`, webtest.TestModel, webtest.TestSource, idx)},
		} {
			st, b := postJSON(t, env.URL+c.path, c.body)
			wantError(t, c.path+" index "+idx, st, b, http.StatusBadRequest, "index")
		}
	}
	if after := featureSnapshot(t, env, 0); after != before {
		t.Fatalf("feature 0 changed: %s -> %s", before, after)
	}
}

// featureSnapshot counts a synthetic feature's examples and explanations.
func featureSnapshot(t *testing.T, env *webtest.Env, idx int) string {
	t.Helper()
	var acts, exps int
	err := env.DB.Pool.QueryRow(context.Background(), `SELECT
		  (SELECT count(*) FROM activations a JOIN sources s USING (sid) WHERE s.model_id = $1 AND s.id = $2 AND a.idx = $3),
		  (SELECT count(*) FROM explanations e JOIN sources s USING (sid) WHERE s.model_id = $1 AND s.id = $2 AND e.idx = $3)`,
		webtest.TestModel, webtest.TestSource, idx).Scan(&acts, &exps)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d examples, %d explanations", acts, exps)
}

// TestLargeIndexIs4xx: in the API, an index the source does not have is
// 404, one no source can have (beyond 2^31-1) is 400; never a 500.
func TestLargeIndexIs4xx(t *testing.T) {
	env := webtest.New(t, nil)
	feat := func(idx string) string { return "/" + webtest.TestModel + "/" + webtest.TestSource + "/" + idx }
	for _, c := range []struct {
		idx  string
		want int
	}{
		{"2147483647", http.StatusNotFound},
		{"60", http.StatusNotFound},
		{"2147483648", http.StatusBadRequest},
		{"4294967296", http.StatusBadRequest},
		{"9223372036854775807", http.StatusBadRequest},
		{"9223372036854775808", http.StatusBadRequest},
	} {
		st, b := get(t, env.URL+"/api/feature/"+webtest.TestModel+"/"+webtest.TestSource+"/"+c.idx)
		wantError(t, "API feature "+c.idx, st, b, c.want, "")
		if c.want == http.StatusBadRequest && !strings.Contains(string(b), "index") {
			t.Errorf("API feature %s: error does not name the index: %s", c.idx, b)
		}
		// Pages: a path that cannot name a feature is "no such page" (404),
		// with the reason naming the index.
		for _, path := range []string{feat(c.idx), feat(c.idx) + "/activations"} {
			st, b := get(t, env.URL+path)
			if st != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404: %s", path, st, truncate(b))
			}
			if c.want == http.StatusBadRequest && !strings.Contains(string(b), "index") {
				t.Errorf("GET %s: the page does not name the index: %s", path, truncate(b))
			}
		}
		st, b = postJSON(t, env.URL+"/api/features", fmt.Sprintf(`[{"modelId":%q,"layer":%q,"index":%q}]`, webtest.TestModel, webtest.TestSource, c.idx))
		if c.want == http.StatusBadRequest {
			wantError(t, "POST /api/features index "+c.idx, st, b, c.want, "index")
		} else if st >= 500 {
			t.Errorf("POST /api/features index %s: status %d: %s", c.idx, st, b)
		}
	}
}
