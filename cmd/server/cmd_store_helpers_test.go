package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

// runCLI runs a subcommand in-process and returns its stderr.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return "" // tests always pass --database-url
		}
		return os.Getenv(k)
	}}
	err := run(context.Background(), args, env)
	return stderr.String() + stdout.String(), err
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// serverBinary builds ./cmd/server once per test binary into a folder any
// user may read and run.
func serverBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "saex-bin-")
		if err != nil {
			binErr = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "saex")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("build server: %v\n%s", binErr, binPath)
	}
	return binPath
}

// sameFeature reports how want (as read from files) and got (from the
// store) differ, field by field; "" when equal.
func sameFeature(want, got *features.Feature) string {
	w := *want
	w.Activations = append([]*features.Activation(nil), want.Activations...)
	w.Explanations = append([]*features.Explanation(nil), want.Explanations...)
	storetest.OrderLike(&w, got)
	if len(w.Activations) != len(got.Activations) {
		return "activation count differs"
	}
	for i := range w.Activations {
		if !reflect.DeepEqual(w.Activations[i], got.Activations[i]) {
			return "activation " + w.Activations[i].ID + " differs"
		}
	}
	if !reflect.DeepEqual(w.Explanations, got.Explanations) {
		return "explanations differ"
	}
	g := *got
	w.Activations, w.Explanations, g.Activations, g.Explanations = nil, nil, nil, nil
	if !reflect.DeepEqual(w, g) {
		return "feature row differs"
	}
	return ""
}

func openTestDB(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// fingerprint digests every stored row, to show that a rerun changed nothing.
func fingerprint(t *testing.T, db *store.DB) string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT md5(coalesce(string_agg(f::text, '|' ORDER BY sid, idx), '')) FROM features f`,
		`SELECT md5(coalesce(string_agg(a::text, '|' ORDER BY id), '')) FROM activations a`,
		`SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY id), '')) FROM explanations e`,
		`SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY model_id, id), '')) FROM sources s`,
		`SELECT md5(coalesce(string_agg(k::text, '|' ORDER BY model_id, id), '')) FROM tokens k`,
	} {
		var s string
		if err := db.Pool.QueryRow(context.Background(), q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}
