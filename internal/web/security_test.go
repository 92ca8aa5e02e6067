package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/inference"
	"saex/internal/store"
	"saex/internal/store/storetest"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

// hardEnv is a seeded server behind the production hardening, as serve
// runs it, with two API keys: a live one and a revoked one.
type hardEnv struct {
	DB      *store.DB
	Server  *web.Server
	Metrics *web.Metrics
	URL     string
	Key     string // valid (admin)
	Revoked string // revoked
	// Session is a login session of Key; RevokedSession was one of Revoked.
	Session, RevokedSession string
	Log                     *webtest.SyncBuffer
}

// newHardened starts a hardened server over a fresh seeded database;
// adjust, when not nil, changes the Hardening before Install.
func newHardened(t *testing.T, private bool, adjust func(*web.Hardening)) *hardEnv {
	t.Helper()
	return newHardenedWith(t, private, adjust, nil)
}

// newHardenedWith is newHardened with configure, when not nil, adjusting
// the server (e.g. its auto-interp jobs) before the hardening is installed.
func newHardenedWith(t *testing.T, private bool, adjust func(*web.Hardening), configure func(*web.Server)) *hardEnv {
	t.Helper()
	db := storetest.NewDB(t)
	webtest.Seed(t, db)
	ctx := context.Background()
	key, _, err := db.CreateAPIKey(ctx, "tester")
	if err != nil {
		t.Fatal(err)
	}
	revoked, rk, err := db.CreateAPIKey(ctx, "former tester")
	if err != nil {
		t.Fatal(err)
	}
	revokedSession, err := db.CreateSession(ctx, rk.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeAPIKey(ctx, rk.ID); err != nil {
		t.Fatal(err)
	}
	k, err := db.Authenticate(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	session, err := db.CreateSession(ctx, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer()
	srv.Catalog, srv.Features, srv.Explanations = db, db, db
	srv.Writer, srv.APIKeys, srv.Ready = db, db, db
	srv.Scheduler = inference.NewScheduler(0, 0)
	logs := &webtest.SyncBuffer{}
	h := &web.Hardening{
		Private: private,
		Metrics: web.NewMetrics(),
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DBPool: func() web.DBPoolStats {
			st := db.Pool.Stat()
			return web.DBPoolStats{AcquiredConns: st.AcquiredConns(), IdleConns: st.IdleConns(), TotalConns: st.TotalConns(), MaxConns: st.MaxConns()}
		},
	}
	if adjust != nil {
		adjust(h)
	}
	if configure != nil {
		configure(srv)
	}
	handler, err := h.Install(srv)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	return &hardEnv{DB: db, Server: srv, Metrics: h.Metrics, URL: ts.URL, Key: key, Revoked: revoked, Log: logs,
		Session: session, RevokedSession: revokedSession}
}

// call sends a request with optional headers and returns status, headers and body.
func (e *hardEnv) call(t *testing.T, method, path string, body string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return do(t, method, e.URL+path, rd, header)
}

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// featureCount counts stored features (a dropped or emptied table shows here).
func (e *hardEnv) featureCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM features`).Scan(&n); err != nil {
		t.Fatalf("count features: %v", err)
	}
	return n
}

// uploadBody is a valid one-feature upload to a new source of the synthetic model.
func uploadBody(source string, index int, token, explanation string) string {
	b, _ := json.Marshal(map[string]any{
		"modelId": webtest.TestModel, "source": source,
		"features": []any{map[string]any{
			"index": index, "density": 0.01,
			"topLogits":    []any{map[string]any{"token": token, "value": 1.5}},
			"activations":  []any{map[string]any{"tokens": []string{"a", token, "c"}, "values": []float32{0, 2, 1}}},
			"explanations": []any{map[string]any{"text": explanation, "methodName": "manual", "modelName": "human"}},
		}},
	})
	return string(b)
}

func jsonHdr(extra ...string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

func TestWritesNeedAValidKey(t *testing.T) {
	e := newHardened(t, false, nil)
	actUpload := fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"activations":[{"tokens":["x"],"values":[1]}]}`, webtest.TestModel, webtest.TestSource)
	routes := []struct{ path, body string }{
		{"/api/feature/upload-batch", uploadBody("0-res-keys", 1, "tok", "an explanation")},
		{"/api/activation/upload-batch", actUpload},
		{"/api/explanation/new", fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"description":"keyed"}`, webtest.TestModel, webtest.TestSource)},
	}
	for _, r := range routes {
		for _, c := range []struct {
			what   string
			header map[string]string
			want   int
			substr string
		}{
			{"no key", jsonHdr(), 401, "API key is required"},
			{"empty key", jsonHdr("X-Api-Key", " "), 401, "API key is required"},
			{"unknown key", jsonHdr("X-Api-Key", "saex_not-a-real-key"), 401, "unknown API key"},
			{"revoked key", jsonHdr("X-Api-Key", e.Revoked), 401, "revoked"},
			{"revoked key as bearer", jsonHdr("Authorization", "Bearer "+e.Revoked), 401, "revoked"},
			{"revoked key's session in the cookie", jsonHdr("Cookie", web.SessionCookie+"="+e.RevokedSession), 401, "session"},
			{"a raw key in the cookie", jsonHdr("Cookie", web.SessionCookie+"="+e.Key), 401, "session"},
		} {
			st, h, b := e.call(t, http.MethodPost, r.path, r.body, c.header)
			wantError(t, r.path+" with "+c.what, st, b, c.want, c.substr)
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s with %s: auth failure is cacheable", r.path, c.what)
			}
		}
	}
	if n := e.featureCount(t); n == 0 {
		t.Fatal("no features seeded")
	}
	before := e.featureCount(t)
	st, _, b := e.call(t, http.MethodPost, routes[0].path, routes[0].body, jsonHdr("X-Api-Key", e.Key))
	wantStatus(t, "upload with a valid key", st, 200, b)
	if after := e.featureCount(t); after != before+1 {
		t.Fatalf("upload wrote %d features, want 1", after-before)
	}
	st, _, b = e.call(t, http.MethodPost, routes[1].path, routes[1].body, jsonHdr("Authorization", "Bearer "+e.Key))
	wantStatus(t, "activation upload with a bearer key", st, 200, b)
	st, _, b = e.call(t, http.MethodPost, routes[2].path, routes[2].body, jsonHdr("X-Api-Key", e.Key))
	wantStatus(t, "explanation with a valid key", st, 200, b)
	if !strings.Contains(string(b), `"authorId":"`) || strings.Contains(string(b), `"authorId":"api"`) {
		t.Errorf("explanation author is not the key's name: %s", b)
	}

	// Reads stay public, and a key that is not ours does not break them
	// (Neuronpedia's client always sends one).
	for _, hdr := range []map[string]string{nil, {"X-Api-Key": "sk-np-not-ours"}, {"X-Api-Key": e.Revoked}} {
		st, _, b := e.call(t, http.MethodGet, fmt.Sprintf("/api/feature/%s/%s/%d", webtest.TestModel, webtest.TestSource, 3), "", hdr)
		wantStatus(t, fmt.Sprintf("public read with %v", hdr), st, 200, b)
	}
}

func TestCrossOriginPostsRefused(t *testing.T) {
	e := newHardened(t, false, nil)
	form := url.Values{"text": {"hello"}}.Encode()
	formHdr := func(kv ...string) map[string]string {
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	feature := fmt.Sprintf("/%s/%s/%d/test", webtest.TestModel, webtest.TestSource, 3)
	for _, c := range []struct {
		what, path, body string
		header           map[string]string
	}{
		{"page form post, cross-site fetch metadata", feature, form, formHdr("Sec-Fetch-Site", "cross-site")},
		{"page form post, foreign Origin", feature, form, formHdr("Origin", "https://evil.example")},
		{"prompt form post, cross-site", "/" + webtest.TestModel + "/prompt", form, formHdr("Sec-Fetch-Site", "cross-site")},
		{"write with a valid key, cross-site", "/api/feature/upload-batch", uploadBody("0-res-xo", 1, "t", "x"), jsonHdr("X-Api-Key", e.Key, "Sec-Fetch-Site", "cross-site")},
		{"write with the cookie, foreign Origin", "/api/feature/upload-batch", uploadBody("0-res-xo", 1, "t", "x"), jsonHdr("Cookie", web.SessionCookie+"="+e.Session, "Origin", "https://evil.example")},
		{"login post, cross-site", web.LoginPath, url.Values{"key": {e.Key}}.Encode(), formHdr("Sec-Fetch-Site", "cross-site")},
	} {
		st, _, b := e.call(t, http.MethodPost, c.path, c.body, c.header)
		if st != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403: %.200s", c.what, st, b)
		}
	}
	if _, err := e.DB.GetSource(context.Background(), webtest.TestModel, "0-res-xo"); features.ErrorCode(err) != features.ENOTFOUND {
		t.Fatalf("a refused cross-origin upload wrote its source: %v", err)
	}
	// Same-origin browser posts and non-browser clients still work.
	st, _, b := e.call(t, http.MethodPost, feature, form, formHdr("Sec-Fetch-Site", "same-origin"))
	if st == http.StatusForbidden {
		t.Fatalf("same-origin form post refused: %.200s", b)
	}
	st, _, b = e.call(t, http.MethodPost, "/api/feature/upload-batch", uploadBody("0-res-xo", 1, "t", "x"), jsonHdr("X-Api-Key", e.Key, "Origin", e.URL))
	wantStatus(t, "same-origin write", st, 200, b)
	// The public compute and read API stays open to other origins (CORS *).
	st, _, b = e.call(t, http.MethodPost, "/api/explanation/search", `{"query":"stegosaurus"}`, jsonHdr("Sec-Fetch-Site", "cross-site", "Origin", "https://notebook.example"))
	wantStatus(t, "cross-origin public API read", st, 200, b)
}

func TestPrivateInstanceHidesEverything(t *testing.T) {
	e := newHardened(t, true, nil)
	feat := fmt.Sprintf("/%s/%s/%d", webtest.TestModel, webtest.TestSource, webtest.SeededIndex)
	hidden := []struct{ method, path, body string }{
		{"GET", "/", ""},
		{"GET", "/" + webtest.TestModel, ""},
		{"GET", "/" + webtest.TestModel + "/" + webtest.TestSource, ""},
		{"GET", feat, ""},
		{"GET", "/search?q=stegosaurus", ""},
		{"GET", "/" + webtest.TestModel + "/prompt", ""},
		{"GET", "/api/models", ""},
		{"GET", "/api/openapi.json", ""},
		{"GET", "/api/models/" + webtest.TestModel + "/sources", ""},
		{"GET", "/api" + strings.Replace(feat, "/", "/feature/", 1), ""},
		{"POST", "/api/features", fmt.Sprintf(`[{"modelId":%q,"layer":%q,"index":"1"}]`, webtest.TestModel, webtest.TestSource)},
		{"POST", "/api/explanation/search", `{"query":"stegosaurus"}`},
		{"POST", "/api/search-all", `{"modelId":"x","text":"hello"}`},
		{"POST", "/api/activation/new", `{}`},
		{"GET", web.MetricsPath, ""},
	}
	for _, h := range hidden {
		for _, c := range []struct {
			what   string
			header map[string]string
		}{
			{"no key", jsonHdr()},
			{"a revoked key", jsonHdr("X-Api-Key", e.Revoked)},
			{"a foreign key", jsonHdr("X-Api-Key", "sk-np-whatever")},
			{"a revoked key's session", jsonHdr("Cookie", web.SessionCookie+"="+e.RevokedSession)},
		} {
			st, _, b := e.call(t, h.method, h.path, h.body, c.header)
			if st != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: status %d, want 401: %.200s", h.method, h.path, c.what, st, b)
			}
			// Seeded data that no request URL names: the explanation's other
			// words and the other models.
			if bytes.Contains(b, []byte("fossils")) || bytes.Contains(b, []byte(webtest.GemmaModel)) || bytes.Contains(b, []byte(webtest.GPT2Model)) {
				t.Errorf("%s %s with %s: the 401 leaks data: %.300s", h.method, h.path, c.what, b)
			}
		}
	}
	// Pages answer with the login form; the API with JSON.
	st, hd, b := e.call(t, "GET", feat, "", nil)
	if st != 401 || !strings.Contains(hd.Get("Content-Type"), "text/html") || !bytes.Contains(b, []byte(`action="/login"`)) {
		t.Fatalf("private page without a key: %d %s %.300s", st, hd.Get("Content-Type"), b)
	}
	st, _, b = e.call(t, "GET", "/api/models", "", nil)
	wantError(t, "private API without a key", st, b, 401, "API key")

	// Open: process and readiness probes, static files, the login form.
	for _, p := range []string{"/healthz", "/readyz", "/static/htmx-2.0.11.min.js", web.LoginPath} {
		st, _, b := e.call(t, "GET", p, "", nil)
		wantStatus(t, "private "+p, st, 200, b)
	}

	// With the key in the header everything is back.
	for _, h := range hidden {
		st, _, b := e.call(t, h.method, h.path, h.body, jsonHdr("X-Api-Key", e.Key))
		if st == http.StatusUnauthorized || st == http.StatusForbidden || st >= 500 && h.path != "/api/search-all" && h.path != "/api/activation/new" {
			t.Errorf("%s %s with the key: status %d: %.200s", h.method, h.path, st, b)
		}
	}

	// Browser flow: a wrong key re-shows the form, the right one sets an
	// HttpOnly SameSite=Lax session cookie and goes back to the page.
	post := func(vals url.Values) *http.Response {
		req, _ := http.NewRequest("POST", e.URL+web.LoginPath, strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(url.Values{"key": {e.Revoked}, "next": {feat}}); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("login with a revoked key: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp := post(url.Values{"key": {e.Key}, "next": {feat}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != feat {
		t.Fatalf("login: %d to %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), feat)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == web.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Secure {
		t.Fatalf("login cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP", cookie)
	}
	if strings.Contains(cookie.Value, e.Key) || strings.Contains(e.Key, cookie.Value) {
		t.Fatal("the login cookie holds the API key")
	}
	st, _, b = e.call(t, "GET", feat, "", map[string]string{"Cookie": cookie.String()})
	wantStatus(t, "private page with the login cookie", st, 200, b)
	if !bytes.Contains(b, []byte("stegosaurus")) {
		t.Fatalf("feature page with the cookie does not show the feature")
	}
	// A cookie-authenticated cross-origin post is refused even on the public-shaped API.
	st, _, b = e.call(t, "POST", "/api/explanation/search", `{"query":"stegosaurus"}`,
		jsonHdr("Cookie", cookie.String(), "Sec-Fetch-Site", "cross-site"))
	wantError(t, "cross-site post with the cookie", st, b, 403, "cross-origin")
	// Open redirects are not possible through next.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`, "javascript:alert(1)"} {
		if resp := post(url.Values{"key": {e.Key}, "next": {next}}); resp.Header.Get("Location") != "/" {
			t.Errorf("login next=%q redirects to %q, want /", next, resp.Header.Get("Location"))
		}
	}
	// Revoking the key logs the browser out.
	k, err := e.DB.Authenticate(context.Background(), e.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DB.RevokeAPIKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	st, _, _ = e.call(t, "GET", feat, "", map[string]string{"Cookie": cookie.String()})
	if st != 401 {
		t.Fatalf("page with a revoked key's cookie: %d, want 401", st)
	}
}

// sqlMeta are the hostile texts driven through every text parameter.
var sqlMeta = []string{`'; DROP TABLE features; --`, `%`, `_`, `\`, "nul\x00byte", `%' OR '1'='1`, `"); DELETE FROM explanations; --`, `$1`, `' UNION SELECT secret_hash FROM api_keys --`}

func TestSQLMetacharactersAreHarmless(t *testing.T) {
	e := newHardened(t, false, nil)
	before := e.featureCount(t)
	no5xx := func(what string, st int, b []byte) {
		t.Helper()
		if st >= 500 {
			t.Errorf("%s: status %d: %.300s", what, st, b)
		}
	}
	for _, m := range sqlMeta {
		esc := url.PathEscape(m)
		q := url.QueryEscape(m)
		// Ids in paths: unknown ids are 404 (or 400), never a query.
		for _, p := range []string{
			"/api/feature/" + esc + "/" + webtest.TestSource + "/1",
			"/api/feature/" + webtest.TestModel + "/" + esc + "/1",
			"/api/feature/" + webtest.TestModel + "/" + webtest.TestSource + "/" + esc,
			"/api/models/" + esc + "/sources",
			"/" + esc,
			"/" + webtest.TestModel + "/" + esc,
			"/" + webtest.TestModel + "/" + webtest.TestSource + "/" + esc,
		} {
			st, _, b := e.call(t, "GET", p, "", nil)
			no5xx("GET "+p, st, b)
			if st == 200 && strings.HasPrefix(p, "/api/feature/") {
				t.Errorf("GET %s: 200 for a hostile id", p)
			}
		}
		// Free text: search page, source browser filter, explanation search API.
		for _, p := range []string{
			"/search?q=" + q, "/search?q=" + q + q + q, "/search?q=fossils&model=" + q, "/search?q=fossils&source=" + q,
			"/" + webtest.TestModel + "/" + webtest.TestSource + "?q=" + q,
			"/" + webtest.TestModel + "/" + webtest.TestSource + "?sort=" + q + "&page=" + q + "&jump=" + q,
		} {
			st, _, b := e.call(t, "GET", p, "", nil)
			no5xx("GET "+p, st, b)
		}
		for _, body := range []map[string]any{
			{"query": m + m + m},
			{"query": "stegosaurus " + m},
			{"query": "fossils", "modelId": m},
			{"query": "fossils", "modelId": webtest.TestModel, "layers": []string{m}},
		} {
			raw, _ := json.Marshal(body)
			st, _, b := e.call(t, "POST", "/api/explanation/search", string(raw), jsonHdr())
			no5xx("explanation search "+string(raw), st, b)
			if st == 200 {
				var res struct {
					Results []struct{ Description string } `json:"results"`
				}
				_ = json.Unmarshal(b, &res)
				// A wildcard must not turn into "match everything".
				for _, r := range res.Results {
					if !strings.Contains(strings.ToLower(r.Description), "stegosaurus") && !strings.Contains(r.Description, m) &&
						!strings.Contains(strings.ToLower(r.Description), "fossil") {
						t.Errorf("explanation search %s matched %q", raw, r.Description)
					}
				}
			}
		}
		// Batch reads with hostile ids.
		raw, _ := json.Marshal([]map[string]any{{"modelId": m, "layer": webtest.TestSource, "index": "1"}, {"modelId": webtest.TestModel, "layer": m, "index": m}})
		st, _, b := e.call(t, "POST", "/api/features", string(raw), jsonHdr())
		no5xx("batch features", st, b)
		// Compute requests name models and sources.
		raw, _ = json.Marshal(map[string]any{"modelId": m, "sourceSet": m, "text": m, "selectedLayers": []string{m}})
		st, _, b = e.call(t, "POST", "/api/search-all", string(raw), jsonHdr())
		if st != 400 && st != 404 && st != 503 {
			t.Errorf("search-all with hostile ids: status %d: %.200s", st, b)
		}
		// Page forms (this server runs no model: 503 "inference is not
		// available" is the honest answer, never a 500).
		st, _, b = e.call(t, "POST", fmt.Sprintf("/%s/%s/3/test", webtest.TestModel, webtest.TestSource), url.Values{"text": {m}}.Encode(),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if st >= 500 && st != 503 {
			t.Errorf("feature test form: status %d: %.300s", st, b)
		}
	}

	// Writes: hostile text in every upload field is stored verbatim (or
	// refused with 400 when Postgres text cannot hold it: NUL).
	for i, m := range sqlMeta {
		src := fmt.Sprintf("0-res-meta%d", i)
		st, _, b := e.call(t, "POST", "/api/feature/upload-batch", uploadBody(src, 5, m, "explains "+m), jsonHdr("X-Api-Key", e.Key))
		if strings.ContainsRune(m, 0) {
			wantError(t, "upload with NUL", st, b, 400, "NUL")
			continue
		}
		wantStatus(t, "upload "+m, st, 200, b)
		st, _, b = e.call(t, "GET", fmt.Sprintf("/api/feature/%s/%s/5", webtest.TestModel, src), "", nil)
		wantStatus(t, "read back "+m, st, 200, b)
		var f struct {
			PosStr       []string `json:"pos_str"`
			Activations  []struct{ Tokens []string }
			Explanations []struct{ Description string }
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		if len(f.PosStr) != 1 || f.PosStr[0] != m || len(f.Activations) != 1 || f.Activations[0].Tokens[1] != m ||
			len(f.Explanations) != 1 || f.Explanations[0].Description != "explains "+m {
			t.Errorf("upload of %q read back as %+v", m, f)
		}
		// Hostile ids in the upload itself are refused.
		bad := strings.Replace(uploadBody(src, 5, "t", "x"), `"source":"`+src+`"`, `"source":`+jsonString(m), 1)
		st, _, b = e.call(t, "POST", "/api/feature/upload-batch", bad, jsonHdr("X-Api-Key", e.Key))
		wantStatus(t, "upload to hostile source id "+m, st, 400, b)
		bad = strings.Replace(uploadBody(src, 5, "t", "x"), `"modelId":"`+webtest.TestModel+`"`, `"modelId":`+jsonString(m), 1)
		st, _, b = e.call(t, "POST", "/api/feature/upload-batch", bad, jsonHdr("X-Api-Key", e.Key))
		wantStatus(t, "upload to hostile model id "+m, st, 400, b)
		// And as an API key name (the CLI path) and a key.
		if _, _, err := e.DB.CreateAPIKey(context.Background(), "key "+m); err != nil {
			t.Errorf("API key named %q: %v", m, err)
		}
		st, _, _ = e.call(t, "POST", "/api/feature/upload-batch", uploadBody(src, 6, "t", "x"), jsonHdr("X-Api-Key", m))
		if st != 401 {
			t.Errorf("upload with key %q: status %d, want 401", m, st)
		}
	}
	// The search for a literal metacharacter finds the explanation holding it, and only such.
	raw, _ := json.Marshal(map[string]any{"query": "explains %", "modelId": webtest.TestModel})
	st, _, b := e.call(t, "POST", "/api/explanation/search", string(raw), jsonHdr())
	no5xx("search for a literal %", st, b)

	after := e.featureCount(t)
	if after != before+len(sqlMeta)-1 {
		t.Fatalf("features: %d before, %d after %d uploads", before, after, len(sqlMeta)-1)
	}
	var tables int
	if err := e.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_name IN ('features','explanations','activations','api_keys','models','sources')`).Scan(&tables); err != nil || tables != 6 {
		t.Fatalf("tables intact: %d of 6 (%v)", tables, err)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHTMLInTokensRenderedAsText(t *testing.T) {
	e := newHardened(t, false, nil)
	// The seeded hostile example and an uploaded one.
	evil := `<img src=x onerror=alert(1)>`
	st, _, b := e.call(t, "POST", "/api/feature/upload-batch", uploadBody("0-res-html", 2, evil, `<script>alert("expl")</script>`), jsonHdr("X-Api-Key", e.Key))
	wantStatus(t, "upload hostile tokens", st, 200, b)
	for _, p := range []string{
		fmt.Sprintf("/%s/%s/%d", webtest.TestModel, webtest.TestSource, webtest.HostileIndex),
		fmt.Sprintf("/%s/0-res-html/2", webtest.TestModel),
		fmt.Sprintf("/search?q=%s", url.QueryEscape("alert expl")),
	} {
		st, _, b := e.call(t, "GET", p, "", nil)
		wantStatus(t, p, st, 200, b)
		for _, raw := range []string{"<script>alert", "<img src=x", "</span><b>bold</b>"} {
			if bytes.Contains(b, []byte(raw)) {
				t.Errorf("%s renders %q as markup", p, raw)
			}
		}
	}
	st, _, b = e.call(t, "GET", fmt.Sprintf("/%s/0-res-html/2", webtest.TestModel), "", nil)
	wantStatus(t, "hostile feature page", st, 200, b)
	if !bytes.Contains(b, []byte("&lt;img src=x onerror=alert(1)&gt;")) {
		t.Errorf("the uploaded token is not shown as escaped text")
	}
	// JSON escapes markup too, so a page that inlines API output stays safe.
	st, _, b = e.call(t, "GET", fmt.Sprintf("/api/feature/%s/0-res-html/2", webtest.TestModel), "", nil)
	wantStatus(t, "hostile feature API", st, 200, b)
	if bytes.Contains(b, []byte("<img")) || bytes.Contains(b, []byte("<script")) {
		t.Errorf("API JSON carries raw markup: %.300s", b)
	}
}
