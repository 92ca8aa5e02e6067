package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

// apikeyCLI runs "apikey ARGS --database-url URL" and returns stdout and stderr apart.
func apikeyCLI(t *testing.T, url string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return os.Getenv(k)
	}}
	err = run(context.Background(), append([]string{"apikey"}, args...), env)
	return out.String(), errb.String(), err
}

func TestAPIKeyCommand(t *testing.T) {
	url := storetest.NewURL(t)
	ctx := context.Background()
	db, err := store.Open(ctx, url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	out, _, err := apikeyCLI(t, url, "create", "--name", "alice's notebook")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var created apiKeyJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create printed %q: not JSON: %v", out, err)
	}
	if !strings.HasPrefix(created.Key, store.APIKeyPrefix) || created.ID == "" || created.Name != "alice's notebook" ||
		!strings.HasPrefix(created.Key, created.Prefix) || created.RevokedAt != nil {
		t.Fatalf("create printed %+v", created)
	}
	if k, err := db.Authenticate(ctx, created.Key); err != nil || k.ID != created.ID || k.Scope != features.ScopeUpload || created.Scope != features.ScopeUpload {
		t.Fatalf("the printed key does not authenticate as an upload key (the default scope): %v %+v", err, k)
	}
	if _, _, err := apikeyCLI(t, url, "create", "--name", "x", "--scope", "root"); err == nil || !strings.Contains(err.Error(), "scope") {
		t.Fatalf("create with an unknown scope: %v", err)
	}

	// A second key, so revoking one must pick the right one.
	out2, _, err := apikeyCLI(t, url, "create", "--name", "bob", "--scope", "admin")
	if err != nil {
		t.Fatal(err)
	}
	var bob apiKeyJSON
	if err := json.Unmarshal([]byte(out2), &bob); err != nil {
		t.Fatal(err)
	}

	table, _, err := apikeyCLI(t, url, "list")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if !strings.Contains(table, created.Prefix) || !strings.Contains(table, bob.ID) || strings.Contains(table, created.Key) {
		t.Fatalf("list table must show prefixes and ids but never secrets:\n%s", table)
	}
	js, _, err := apikeyCLI(t, url, "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var listed []apiKeyJSON
	if err := json.Unmarshal([]byte(js), &listed); err != nil || len(listed) != 2 || listed[0].Scope != features.ScopeAdmin {
		t.Fatalf("list --json: %v\n%s", err, js)
	}
	for _, k := range listed {
		if k.Key != "" {
			t.Fatalf("list --json leaks a secret: %+v", k)
		}
	}

	if _, _, err := apikeyCLI(t, url, "revoke", created.Prefix); err != nil {
		t.Fatalf("revoke by prefix: %v", err)
	}
	if _, err := db.Authenticate(ctx, created.Key); features.ErrorCode(err) != features.EUNAUTHORIZED {
		t.Fatalf("revoked key authenticates: %v", err)
	}
	if _, err := db.Authenticate(ctx, bob.Key); err != nil {
		t.Fatalf("revoking alice revoked bob: %v", err)
	}
	if _, _, err := apikeyCLI(t, url, "revoke", bob.ID); err != nil {
		t.Fatalf("revoke by id: %v", err)
	}
	if _, err := db.Authenticate(ctx, bob.Key); features.ErrorCode(err) != features.EUNAUTHORIZED {
		t.Fatalf("revoked key authenticates: %v", err)
	}
	js, _, _ = apikeyCLI(t, url, "list", "--json")
	_ = json.Unmarshal([]byte(js), &listed)
	for _, k := range listed {
		if k.RevokedAt == nil {
			t.Fatalf("key %s not listed as revoked", k.ID)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "subcommand is required"},
		{[]string{"frobnicate"}, "unknown subcommand"},
		{[]string{"create"}, "--name is required"},
		{[]string{"create", "--name", "x", "extra"}, "unexpected argument"},
		{[]string{"revoke"}, "exactly one"},
		{[]string{"revoke", "saex_nosuchkey"}, "not found"},
		{[]string{"create", "--name", "nul\x00byte"}, "NUL"},
	} {
		_, _, err := apikeyCLI(t, url, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("apikey %q: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
