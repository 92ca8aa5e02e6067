package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"saex/internal/store"
	"saex/internal/store/storetest"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

// Fuzz targets for the write routes as a whole: the handler decodes the
// body and writes through a real store (PostgreSQL). Every answer must be
// a 2xx or a 4xx with a JSON error, never a 5xx; and a 4xx must leave
// every row as it was (no half-written batch).

// writeFuzzEnv is a server over a small seeded database.
type writeFuzzEnv struct {
	db      *store.DB
	handler http.Handler
}

func newWriteFuzzEnv(f *testing.F) *writeFuzzEnv {
	db := storetest.NewDB(f)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := webtest.SeedSynthetic(ctx, db, webtest.TestModel, webtest.TestSource); err != nil {
		f.Fatal(err)
	}
	srv := web.NewServer()
	srv.Catalog, srv.Features, srv.Explanations = db, db, db
	srv.Writer, srv.APIKeys, srv.Ready = db, db, db
	srv.MaxUploadBytes = 64 << 10
	return &writeFuzzEnv{db: db, handler: srv.Handler()}
}

// fingerprint digests the rows a write could change.
func (e *writeFuzzEnv) fingerprint(t *testing.T) string {
	var out string
	err := e.db.Pool.QueryRow(context.Background(), `SELECT concat_ws(' ',
		  (SELECT count(*) || md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))) FROM sources x),
		  (SELECT count(*) || md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))) FROM features x),
		  (SELECT count(*) || md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))) FROM activations x),
		  (SELECT count(*) || md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))) FROM explanations x))`).Scan(&out)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return out
}

// post runs one write and checks the answer and the rows.
func (e *writeFuzzEnv) post(t *testing.T, path string, body []byte) {
	before := e.fingerprint(t)
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	st := w.Code
	switch {
	case st >= 500:
		t.Fatalf("%s: status %d: %s", path, st, w.Body.String())
	case st >= 400:
		if !strings.Contains(w.Body.String(), `"error"`) {
			t.Fatalf("%s: %d without a JSON error: %s", path, st, w.Body.String())
		}
		if after := e.fingerprint(t); after != before {
			t.Fatalf("%s: refused with %d but rows changed: %s", path, st, w.Body.String())
		}
	case st >= 300:
		t.Fatalf("%s: status %d", path, st)
	}
}

// writeSeeds are bodies around the write routes' shapes, valid and not.
func writeSeeds(route string) []string {
	m, s := webtest.TestModel, webtest.TestSource
	switch route {
	case "feature":
		return []string{
			fmt.Sprintf(`{"modelId":%q,"source":"5-res-fuzz","features":[{"index":1,"density":0.01,"topLogits":[{"token":"a","value":1}],"activations":[{"tokens":["a","b"],"values":[0,1]}],"explanations":[{"text":"fuzzed","methodName":"m","modelName":"h"}]}]}`, m),
			fmt.Sprintf(`{"modelId":%q,"source":%q,"features":[{"index":"4294967296","activations":[{"tokens":["a"],"values":[1]}]}]}`, m, s),
			fmt.Sprintf(`{"modelId":%q,"source":"99999999999-res-x","features":[{"index":1,"activations":[{"tokens":["a"],"values":[1]}]}]}`, m),
			fmt.Sprintf(`{"modelId":%q,"source":%q,"features":[{"index":2,"activations":[{"tokens":["a"],"values":[1]}]},{"index":2147483648,"activations":[{"tokens":["a"],"values":[1]}]}]}`, m, s),
			fmt.Sprintf(`{"modelId":%q,"source":%q,"features":[{"index":3,"activations":[{"tokens":["a\u0000"],"values":[1]}]}]}`, m, s),
		}
	case "activation":
		return []string{
			fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"activations":[{"tokens":["x","y"],"values":[1,0]}]}`, m, s),
			fmt.Sprintf(`{"modelId":%q,"source":%q,"index":4294967296,"activations":[{"tokens":["x"],"values":[1]}]}`, m, s),
			fmt.Sprintf(`{"modelId":%q,"source":%q,"index":"-1","activations":[{"tokens":["x"],"values":[1]}]}`, m, s),
			fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"activations":[{"tokens":["x"],"values":[1,2]}]}`, m, s),
		}
	default:
		return []string{
			fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"description":"fuzzed explanation"}`, m, s),
			fmt.Sprintf(`{"modelId":%q,"layer":%q,"index":"12","text":"via text"}`, m, s),
			fmt.Sprintf(`{"modelId":%q,"source":%q,"index":4294967296,"description":"wrap"}`, m, s),
			fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"description":"\u0000"}`, m, s),
		}
	}
}

func FuzzWriteFeatureUpload(f *testing.F) {
	for _, s := range writeSeeds("feature") {
		f.Add([]byte(s))
	}
	e := newWriteFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) { e.post(t, "/api/feature/upload-batch", body) })
}

func FuzzWriteActivationUpload(f *testing.F) {
	for _, s := range writeSeeds("activation") {
		f.Add([]byte(s))
	}
	e := newWriteFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) { e.post(t, "/api/activation/upload-batch", body) })
}

func FuzzWriteExplanationNew(f *testing.F) {
	for _, s := range writeSeeds("explanation") {
		f.Add([]byte(s))
	}
	e := newWriteFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) { e.post(t, "/api/explanation/new", body) })
}
