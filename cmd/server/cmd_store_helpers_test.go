package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/store/storetest"
	"saex/internal/web/webtest"
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

// checkRankMarks checks that a bulk write left fresh rank marks for a
// source, before any page view could have made the store compute them:
// there are some, a refresh now leaves them as they are, and when the
// source is deep enough a page in activation order reads through them
// (moving a mark by hand moves the page; the refresh then restores it).
func checkRankMarks(t *testing.T, db *store.DB, model, source string) {
	t.Helper()
	ctx := context.Background()
	var sid int32
	if err := db.Pool.QueryRow(ctx, `SELECT sid FROM sources WHERE model_id = $1 AND id = $2`, model, source).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	marks := func() []string {
		return tableRows(t, db, fmt.Sprintf(`SELECT m::text FROM feature_rank_marks m WHERE sid = %d ORDER BY ord, pos`, sid))
	}
	before := marks()
	if len(before) == 0 {
		t.Fatalf("%s/%s: no rank marks after the write", model, source)
	}
	if err := db.RefreshRankMarks(ctx, model, source); err != nil {
		t.Fatal(err)
	}
	if after := marks(); !slices.Equal(before, after) {
		t.Fatalf("%s/%s: the rank marks were stale: %d rows, %d after a refresh", model, source, len(before), len(after))
	}
	// The store's default stride (512): a page at 512 is read through mark
	// 512 when at least 512 features follow it.
	const stride, limit = 512, 4
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM features WHERE sid = $1`, sid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 2*stride+limit {
		return
	}
	page := func() []int {
		t.Helper()
		out, _, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: model, SourceID: source,
			Sort: features.SortByMaxAct, Offset: stride, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		return storetest.Indices(out)
	}
	want := page()
	if _, err := db.Pool.Exec(ctx, `UPDATE feature_rank_marks m SET key = f.max_act_approx, idx = f.idx FROM features f
		WHERE m.sid = $1 AND m.ord = 2 AND m.pos = $2 AND f.sid = $1 AND f.idx = $3`, sid, stride, want[1]); err != nil {
		t.Fatal(err)
	}
	if got := page(); len(got) != limit || !slices.Equal(got[:limit-1], want[1:]) {
		t.Errorf("%s/%s: page at %d with its mark moved one on: %v, want it to start at %v (read through the mark)",
			model, source, stride, got, want[1:])
	}
	if err := db.RefreshRankMarks(ctx, model, source); err != nil {
		t.Fatal(err)
	}
}

// serveTest serves the handler serve builds from d (buildWebHandler, as
// runServe does) until the test ends.
func serveTest(ctx context.Context, t *testing.T, d *serveDeps) *httptest.Server {
	t.Helper()
	h, err := buildWebHandler(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// callJSON sends body to ts as JSON, with key as X-Api-Key unless it is "",
// and returns the status and the response body.
func callJSON(t *testing.T, ts *httptest.Server, method, path, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startProc starts cmd (a saex serve or worker) with its output in the
// returned buffer. When the test ends it is stopped as an operator would
// (SIGTERM, then wait; one killed by the test is only reaped) and, if the
// test failed, its output is logged under name.
func startProc(t *testing.T, name string, cmd *exec.Cmd) *webtest.SyncBuffer {
	t.Helper()
	buf := &webtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s:\n%s", name, buf)
		}
	})
	return buf
}
