package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

// countingFeatures counts the feature reads that reach the store.
type countingFeatures struct {
	features.FeatureService
	reads atomic.Int64
}

func (c *countingFeatures) GetFeatureWithRelations(ctx context.Context, key features.FeatureKey, opts features.FeatureOptions) (*features.Feature, *features.FeatureRelations, error) {
	c.reads.Add(1)
	return c.FeatureService.GetFeatureWithRelations(ctx, key, opts)
}

func (c *countingFeatures) GetFeature(ctx context.Context, key features.FeatureKey, opts features.FeatureOptions) (*features.Feature, error) {
	c.reads.Add(1)
	return c.FeatureService.GetFeature(ctx, key, opts)
}

// getRaw fetches u asking for gzip (or not) and returns the status, the
// headers and the body as sent.
func getRaw(t *testing.T, u string, gz bool) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// gunzip decompresses a gzip body.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestResponseCache checks that the feature page and feature JSON are
// served from the response cache, byte for byte what the handlers make,
// and that every kind of write is visible in the next response: uploads
// and explanations through the API, and imports, builds and catalog
// changes written by another process (another connection pool).
func TestResponseCache(t *testing.T) {
	var counter *countingFeatures
	env := webtest.New(t, func(s *web.Server) {
		counter = &countingFeatures{FeatureService: s.Features}
		s.Features = counter
	})
	ctx := context.Background()
	const idx = 5
	api := env.URL + "/api/feature/" + webtest.TestModel + "/" + webtest.TestSource + "/" + strconv.Itoa(idx)
	page := env.URL + "/" + webtest.TestModel + "/" + webtest.TestSource + "/" + strconv.Itoa(idx)

	// Same bytes with and without the cache; the second gzip read is a hit.
	for _, u := range []string{api, page, page + "?ctx=full"} {
		st, _, plain := getRaw(t, u, false)
		wantStatus(t, u+" without gzip", st, 200, plain)
		before := counter.reads.Load()
		st, h, first := getRaw(t, u, true)
		wantStatus(t, u+" with gzip", st, 200, first)
		if h.Get("Content-Encoding") != "gzip" || h.Get("Content-Length") != strconv.Itoa(len(first)) || h.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("%s: headers %v", u, h)
		}
		st, h2, second := getRaw(t, u, true)
		wantStatus(t, u+" again", st, 200, second)
		if got := counter.reads.Load() - before; got != 1 {
			t.Errorf("%s: %d store reads for two gzip requests, want 1 (the second from the cache)", u, got)
		}
		if !bytes.Equal(first, second) || h2.Get("Content-Type") != h.Get("Content-Type") || h2.Get("Cache-Control") != h.Get("Cache-Control") {
			t.Errorf("%s: the cached response differs from the first", u)
		}
		if !bytes.Equal(gunzip(t, second), plain) {
			t.Errorf("%s: cached body differs from the uncached one", u)
		}
	}

	fresh := func(what string, u string, want string) {
		t.Helper()
		st, _, b := getRaw(t, u, true)
		wantStatus(t, what, st, 200, b)
		if body := string(gunzip(t, b)); !strings.Contains(body, want) {
			t.Errorf("%s: %s does not show %q after the write", what, u, want)
		}
	}
	// A write through the API.
	st, b := postJSON(t, env.URL+"/api/explanation/new", map[string]any{
		"modelId": webtest.TestModel, "source": webtest.TestSource, "index": strconv.Itoa(idx), "description": "cached no more",
	})
	wantStatus(t, "explanation/new", st, 200, b)
	fresh("explanation through the API", api, "cached no more")
	fresh("explanation through the API", page, "cached no more")

	st, b = postJSON(t, env.URL+"/api/activation/upload-batch", map[string]any{
		"modelId": webtest.TestModel, "source": webtest.TestSource, "index": strconv.Itoa(idx),
		"activations": []any{map[string]any{"tokens": []string{"uploadedtoken", " here"}, "values": []float64{0.5, 60}}},
	})
	wantStatus(t, "activation upload", st, 200, b)
	fresh("activation upload", api, "uploadedtoken")
	fresh("activation upload", page+"?ctx=full", "uploadedtoken")

	// Writes by another process: an import (a new version of the feature)
	// and a catalog change, through a pool of their own.
	other, err := store.Open(ctx, env.DB.Pool.Config().ConnString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	f, err := other.GetFeature(ctx, features.FeatureKey{ModelID: webtest.TestModel, SourceID: webtest.TestSource, Index: idx}, features.FeatureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.PosStr = []string{" importedlogit"}
	f.PosValues = []float64{4.5}
	if err := other.WriteFeatures(ctx, &features.FeatureBatch{ModelID: webtest.TestModel, SourceID: webtest.TestSource, Features: []*features.Feature{f}}); err != nil {
		t.Fatal(err)
	}
	fresh("import by another process", api, "importedlogit")
	fresh("import by another process", page, "importedlogit")

	src, err := other.GetSource(ctx, webtest.TestModel, webtest.TestSource)
	if err != nil {
		t.Fatal(err)
	}
	last := env.URL + "/" + webtest.TestModel + "/" + webtest.TestSource + "/" + strconv.Itoa(webtest.TestFeatures-1)
	nextLink := `/` + webtest.TestModel + `/` + webtest.TestSource + `/` + strconv.Itoa(webtest.TestFeatures)
	_, _, b = getRaw(t, last, true)
	if strings.Contains(string(gunzip(t, b)), nextLink) {
		t.Fatalf("the last feature links to a next one before the source grows")
	}
	src.NumFeatures = webtest.TestFeatures + 10 // the source grows (a build of a wider SAE)
	if err := other.UpsertSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	fresh("source change by another process", last, nextLink)
}
