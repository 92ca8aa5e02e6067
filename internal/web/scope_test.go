package web_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

// scopedKey creates a key with a scope in e's database.
func scopedKey(t *testing.T, e *hardEnv, name, scope string) string {
	t.Helper()
	secret, _, err := e.DB.CreateScopedAPIKey(context.Background(), name, scope)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// examples counts the stored examples of a feature of the synthetic source.
func (e *hardEnv) examples(t *testing.T, source string, idx int) int {
	t.Helper()
	var n int
	err := e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM activations a JOIN sources s USING (sid)
		WHERE s.model_id = $1 AND s.id = $2 AND a.idx = $3`, webtest.TestModel, source, idx).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKeyScopes (issue 10 defect 5): an upload key writes to the sources it
// created and nowhere else (it can no longer replace a seeded feature's
// examples), a read key writes nothing, an admin key writes anywhere.
func TestKeyScopes(t *testing.T) {
	e := newHardened(t, false, nil)
	alice := scopedKey(t, e, "alice", features.ScopeUpload)
	bob := scopedKey(t, e, "bob", features.ScopeUpload)
	reader := scopedKey(t, e, "reader", features.ScopeRead)
	seeded := e.examples(t, webtest.TestSource, 3)
	if seeded == 0 {
		t.Fatal("seeded feature 3 has no examples")
	}
	post := func(key, path, body string) (int, []byte) {
		st, _, b := e.call(t, http.MethodPost, path, body, jsonHdr("X-Api-Key", key))
		return st, b
	}
	actUpload := func(source string) string {
		return fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"activations":[{"tokens":["x"],"values":[1]}]}`, webtest.TestModel, source)
	}
	explanation := fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"description":"scoped"}`, webtest.TestModel, webtest.TestSource)

	// An upload key creates its own source and may write to it again.
	for round := range 2 {
		st, b := post(alice, "/api/feature/upload-batch", uploadBody("4-res-alice", 3, "tok", "mine"))
		wantStatus(t, fmt.Sprintf("alice uploads to her source, round %d", round), st, 200, b)
	}
	st, b := post(alice, "/api/activation/upload-batch", actUpload("4-res-alice"))
	wantStatus(t, "alice adds examples to her source", st, 200, b)
	// It may not replace the admin's (seeded) feature, nor another key's.
	for _, c := range []struct{ what, key, path, body string }{
		{"alice replaces a seeded feature", alice, "/api/feature/upload-batch", uploadBody(webtest.TestSource, 3, "tok", "overwritten")},
		{"alice adds examples to a seeded feature", alice, "/api/activation/upload-batch", actUpload(webtest.TestSource)},
		{"bob writes to alice's source", bob, "/api/feature/upload-batch", uploadBody("4-res-alice", 3, "tok", "bob's")},
		{"bob adds examples to alice's source", bob, "/api/activation/upload-batch", actUpload("4-res-alice")},
		{"a read key uploads to a new source", reader, "/api/feature/upload-batch", uploadBody("5-res-reader", 1, "tok", "x")},
		{"a read key adds an explanation", reader, "/api/explanation/new", explanation},
		{"a read key adds examples", reader, "/api/activation/upload-batch", actUpload(webtest.TestSource)},
	} {
		st, b := post(c.key, c.path, c.body)
		wantError(t, c.what, st, b, http.StatusForbidden, "")
	}
	if n := e.examples(t, webtest.TestSource, 3); n != seeded {
		t.Fatalf("seeded feature 3 has %d examples after refused writes, want %d", n, seeded)
	}
	if _, err := e.DB.GetSource(context.Background(), webtest.TestModel, "5-res-reader"); features.ErrorCode(err) != features.ENOTFOUND {
		t.Fatalf("a read key's refused upload created its source: %v", err)
	}
	// Explanations are added, never replaced: an upload key may add one anywhere.
	st, b = post(bob, "/api/explanation/new", explanation)
	wantStatus(t, "bob adds an explanation to a seeded feature", st, 200, b)
	// A read key reads.
	st, _, b = e.call(t, http.MethodGet, fmt.Sprintf("/api/feature/%s/%s/3", webtest.TestModel, webtest.TestSource), "", jsonHdr("X-Api-Key", reader))
	wantStatus(t, "a read key reads", st, 200, b)
	// The admin key writes anywhere, alice's source included.
	st, b = post(e.Key, "/api/feature/upload-batch", uploadBody(webtest.TestSource, 3, "tok", "admin's"))
	wantStatus(t, "admin replaces a seeded feature", st, 200, b)
	st, b = post(e.Key, "/api/activation/upload-batch", actUpload("4-res-alice"))
	wantStatus(t, "admin adds examples to alice's source", st, 200, b)
}

// TestLoginSessions (issue 17 item 3): the login cookie is an opaque
// session token stored hashed, HttpOnly, SameSite=Lax, Secure behind a
// declared TLS proxy; it ends at logout, at expiry and with its key.
func TestLoginSessions(t *testing.T) {
	e := newHardened(t, true, func(h *web.Hardening) { h.TrustProxyTLS = true })
	login := func(key string) *http.Cookie {
		req, _ := http.NewRequest(http.MethodPost, e.URL+web.LoginPath, strings.NewReader(url.Values{"key": {key}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == web.SessionCookie {
				return c
			}
		}
		t.Fatalf("login: %d without a session cookie", resp.StatusCode)
		return nil
	}
	page := "/" + webtest.TestModel
	status := func(c *http.Cookie) int {
		st, _, _ := e.call(t, http.MethodGet, page, "", map[string]string{"Cookie": c.Name + "=" + c.Value})
		return st
	}
	reader := scopedKey(t, e, "reader", features.ScopeRead)
	c := login(reader)
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie behind a declared TLS proxy: %+v, want Secure, HttpOnly, SameSite=Lax", c)
	}
	if st := status(c); st != 200 {
		t.Fatalf("page with a fresh session: %d", st)
	}
	// Stored hashed: the token itself is nowhere in the database.
	var stored, raw int
	h := sha256.Sum256([]byte(c.Value))
	if err := e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE token_hash = $1), count(*) FILTER (WHERE token_hash = $2)
		FROM sessions`, h[:], []byte(c.Value)).Scan(&stored, &raw); err != nil || stored != 1 || raw != 0 {
		t.Fatalf("session row: %d by hash, %d by raw token (%v)", stored, raw, err)
	}
	// A read key's session cannot write.
	st, _, b := e.call(t, http.MethodPost, "/api/explanation/new", fmt.Sprintf(`{"modelId":%q,"source":%q,"index":3,"description":"x"}`, webtest.TestModel, webtest.TestSource),
		jsonHdr("Cookie", c.Name+"="+c.Value, "Sec-Fetch-Site", "same-origin"))
	wantError(t, "write with a read key's session", st, b, http.StatusForbidden, "read-only")

	// Logout deletes the session: the old cookie no longer works.
	req, _ := http.NewRequest(http.MethodPost, e.URL+web.LogoutPath, nil)
	req.Header.Set("Cookie", c.Name+"="+c.Value)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := status(c); st != http.StatusUnauthorized {
		t.Errorf("page with a logged-out session: %d, want 401", st)
	}

	// Revoking the key ends its sessions.
	c = login(reader)
	k, err := e.DB.Authenticate(context.Background(), reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DB.RevokeAPIKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	if st := status(c); st != http.StatusUnauthorized {
		t.Errorf("page with a revoked key's session: %d, want 401", st)
	}

	// Expired sessions end.
	admin, err := e.DB.Authenticate(context.Background(), e.Key)
	if err != nil {
		t.Fatal(err)
	}
	token, err := e.DB.CreateSession(context.Background(), admin.ID, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := e.DB.SessionKey(context.Background(), token); features.ErrorCode(err) != features.EUNAUTHORIZED || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired session: %v", err)
	}
}

// TestSourceSetBelongsToItsCreator: the sources of a source set made
// through /api/source-set/new belong to the key that made it, so an upload
// key can then upload features to them (Neuronpedia's upload_features
// flow), and another upload key cannot.
func TestSourceSetBelongsToItsCreator(t *testing.T) {
	e := newHardened(t, false, nil)
	e.Server.Registry, e.Server.Lists, e.Server.Vectors = e.DB, e.DB, e.DB
	alice := scopedKey(t, e, "alice", features.ScopeUpload)
	bob := scopedKey(t, e, "bob", features.ScopeUpload)
	post := func(key, path, body string) (int, []byte) {
		st, _, b := e.call(t, http.MethodPost, path, body, jsonHdr("X-Api-Key", key))
		return st, b
	}
	st, b := post(alice, "/api/model/new", `{"id":"alice-model","layers":2,"displayName":"Alice's model"}`)
	wantStatus(t, "alice creates a model", st, 200, b)
	st, b = post(alice, "/api/source-set/new", `{"modelId":"alice-model","name":"res-alice","description":"mine"}`)
	wantStatus(t, "alice creates a source set", st, 200, b)
	upload := func(key string) (int, []byte) {
		return post(key, "/api/feature/upload-batch", strings.Replace(uploadBody("1-res-alice", 3, "tok", "mine"),
			`"modelId":"`+webtest.TestModel+`"`, `"modelId":"alice-model"`, 1))
	}
	st, b = upload(alice)
	wantStatus(t, "alice uploads to her source set's source", st, 200, b)
	st, b = upload(bob)
	wantError(t, "bob uploads to alice's source set's source", st, b, http.StatusForbidden, "")
}
