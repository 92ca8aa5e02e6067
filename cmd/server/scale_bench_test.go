package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/npexport"
	"saex/internal/store/storetest"
	"saex/internal/web/webtest"
)

const scaleModel, scaleSource = "gemma-2-2b", "12-gemmascope-res-1m"

// TestScaleProof is the 1M-feature scale proof of docs/scaling.md ("1M
// features"): it writes a synthetic wide-SAE export (npexport.ProfileWide),
// imports it with the real `saex import`, reports table and index sizes and
// then serve's handler (response cache off) under a closed loop of
// connections: feature pages and GET /api/feature at random indices across
// the whole source, the source browser at random pages of each sort, and
// explanation search. Without SAEX_SCALE_FEATURES it is a smoke run of
// 4,096 features that proves the code paths (every request must answer
// 2xx); the full run is scripts/bench-1m.sh:
//
//	SAEX_SCALE_FEATURES=1048576 SAEX_SCALE_EXPORT=/data/export SAEX_SCALE_DB=postgres://.../scale1m \
//	  go test ./cmd/server -run TestScaleProof -count=1 -v -timeout 3h
//
// SAEX_SCALE_EXPORT keeps the export (generated when missing), SAEX_SCALE_DB
// names an existing empty database to import into and keep (else a test
// database is made and dropped), SAEX_SCALE_DURATION is each load
// scenario's length (default 1s), SAEX_SCALE_CONNS the connections (16),
// SAEX_SCALE_WORKERS import's --workers (2), SAEX_SCALE_SKIP_IMPORT (any
// value) serves what SAEX_SCALE_DB holds, SAEX_SCALE_ONLY (comma-separated
// substrings of scenario names) runs only those scenarios. Timings are reported, not
// asserted.
func TestScaleProof(t *testing.T) {
	ctx := context.Background()
	n := 4096
	if v := os.Getenv("SAEX_SCALE_FEATURES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("SAEX_SCALE_FEATURES=%q: not a positive number", v)
		}
	}
	dur := time.Second
	if v := os.Getenv("SAEX_SCALE_DURATION"); v != "" {
		var err error
		if dur, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	conns := envInt(t, "SAEX_SCALE_CONNS", 16)
	workers := envInt(t, "SAEX_SCALE_WORKERS", 2)
	dir := os.Getenv("SAEX_SCALE_EXPORT")
	if dir == "" {
		dir = t.TempDir()
	}
	const examples, tokens = 16, 64
	if _, err := os.Stat(filepath.Join(dir, scaleModel, scaleSource, "source.jsonl")); err != nil {
		start := time.Now()
		rows, err := npexport.GenerateSynthetic(dir, npexport.SynthOptions{ModelID: scaleModel, SourceID: scaleSource,
			Features: n, Examples: examples, Tokens: tokens, Vocab: 256000, Seed: 1, Profile: npexport.ProfileWide})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("generated %d features, %d examples in %v", n, rows, time.Since(start).Round(time.Millisecond))
	}
	dbURL := os.Getenv("SAEX_SCALE_DB")
	if dbURL == "" {
		dbURL = storetest.NewURL(t)
	}
	t.Logf("load average before: %s", loadAvg())
	if os.Getenv("SAEX_SCALE_SKIP_IMPORT") == "" {
		cpu0, pgStop := cpuSeconds(), pgCPUSampler(dbNameFromURL(dbURL))
		start := time.Now()
		if out, err := runCLI(t, "import", "--from", dir, "--database-url", dbURL, "--workers", strconv.Itoa(workers)); err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
		wall := time.Since(start)
		cpu, pg := cpuSeconds()-cpu0, pgStop()
		t.Logf("import (--workers %d): %d features in %.1f s: %.0f features/s; CPU: saex %.1f s, PostgreSQL %.1f s; load average after: %s",
			workers, n, wall.Seconds(), float64(n)/wall.Seconds(), cpu, pg, loadAvg())
	}
	db := openTestDB(t, dbURL)
	start := time.Now()
	if _, err := db.Pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		t.Fatal(err)
	}
	t.Logf("VACUUM ANALYZE: %.1f s", time.Since(start).Seconds())

	// Sizes: rows, heap (with TOAST), indexes.
	t.Logf("| table | rows | heap + TOAST MB | indexes MB | total MB | bytes/row |")
	t.Logf("|---|---|---|---|---|---|")
	for _, tbl := range []string{"features", "activations", "explanations", "feature_tallies", "tokens"} {
		var rows, heap, idx int64
		if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+tbl+`), pg_table_size($1::regclass), pg_indexes_size($1::regclass)`, tbl).
			Scan(&rows, &heap, &idx); err != nil {
			t.Fatal(err)
		}
		per := 0.0
		if rows > 0 {
			per = float64(heap+idx) / float64(rows)
		}
		t.Logf("| %s | %d | %.1f | %.1f | %.1f | %.0f |", tbl, rows, float64(heap)/1e6, float64(idx)/1e6, float64(heap+idx)/1e6, per)
	}
	idxRows, err := db.Pool.Query(ctx, `SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index
		WHERE indrelid IN ('features'::regclass, 'activations'::regclass, 'explanations'::regclass) ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for idxRows.Next() {
		var name string
		var size int64
		if err := idxRows.Scan(&name, &size); err != nil {
			t.Fatal(err)
		}
		t.Logf("index %s: %.1f MB", name, float64(size)/1e6)
	}
	idxRows.Close()
	var dbSize int64
	if err := db.Pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&dbSize); err != nil {
		t.Fatal(err)
	}
	t.Logf("database: %.1f MB", float64(dbSize)/1e6)

	// serve's handler with the response cache off.
	handler, err := buildWebHandler(ctx, &serveDeps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Harden: &hardenConfig{Metrics: true, ResponseCacheBytes: 0}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	defer ts.Close()

	rng := rand.New(rand.NewPCG(15, 4))
	get := func(format string, args ...any) webtest.Request {
		return webtest.Request{Method: http.MethodGet, URL: ts.URL + fmt.Sprintf(format, args...)}
	}
	features := func(prefix string) []webtest.Request {
		out := make([]webtest.Request, 8192)
		for i := range out {
			out[i] = get("%s/%s/%s/%d", prefix, scaleModel, scaleSource, rng.IntN(n))
		}
		return out
	}
	pages := (n + 24) / 25
	browser := func(query string, pages int) []webtest.Request {
		out := make([]webtest.Request, 4096)
		for i := range out {
			out[i] = get("/%s/%s?%spage=%d", scaleModel, scaleSource, query, 1+rng.IntN(pages))
		}
		return out
	}
	words := []string{"code", "python", "legal", "chemistry", "colors", "newlines", "variables"}
	search := func(format string) []webtest.Request {
		out := make([]webtest.Request, 1024)
		for i := range out {
			out[i] = get(format, url.QueryEscape(words[rng.IntN(len(words))]))
		}
		return out
	}
	dbName := dbNameFromURL(dbURL)
	t.Logf("| scenario | connections | requests | p50 ms | p90 ms | p99 ms | max ms | req/s | errors | CPU ms/req (saex + PostgreSQL) |")
	t.Logf("|---|---|---|---|---|---|---|---|---|---|")
	only := os.Getenv("SAEX_SCALE_ONLY")
	run := func(name string, targets []webtest.Request, conc int) {
		t.Helper()
		if only != "" && !slices.ContainsFunc(strings.Split(only, ","), func(s string) bool { return strings.Contains(name, s) }) {
			return
		}
		cpu0, pgStop := cpuSeconds(), pgCPUSampler(dbName)
		warm := min(50, len(targets))
		out, err := webtest.Load(ctx, webtest.LoadConfig{Duration: dur, Gzip: true, Warmup: warm,
			Routes: []webtest.Route{{Name: name, Workers: conc, Next: func(_, i int) webtest.Request { return targets[i%len(targets)] }}}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pg := pgStop()
		r := out.Routes[0]
		reqs := float64(r.Count() + warm)
		t.Logf("| %s | %d | %d | %s | %s | %s | %s | %.0f | %d | %.2f + %.2f |", name, conc, r.Count(), webtest.Millis(r.P50),
			webtest.Millis(r.P90), webtest.Millis(r.P99), webtest.Millis(r.Max), r.RPS, r.Errors(),
			(cpuSeconds()-cpu0)*1000/reqs, pg*1000/reqs)
		if r.Errors() > 0 {
			t.Errorf("%s: %d errors, first: %s", name, r.Errors(), r.FirstError)
		}
	}
	run("GET feature page", features(""), conns)
	run("GET /api/feature", features("/api/feature"), conns)
	live := 0
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM features WHERE max_act_approx > 0`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	run("source page, by index", browser("", pages), conns)
	run("source page, max activation desc", browser("sort=maxact&desc=1&", pages), conns)
	run("source page, max activation asc", browser("sort=maxact&", pages), conns)
	run("source page, density desc", browser("sort=density&desc=1&", pages), conns)
	run("source page, density asc, hide dead", browser("sort=density&hidedead=1&", (live+24)/25), conns)
	run("source page, by index, hide dead", browser("hidedead=1&", (live+24)/25), conns)
	run("source page, filter q=python", browser("q=python&", 1), conns)
	run("GET /search (model)", search("/search?q=%s&model="+scaleModel), conns)
	t.Logf("load average after: %s", loadAvg())
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: not a positive number", name, v)
	}
	return n
}

// backendCPU is the user+system CPU seconds of /proc/{pid} if it is a
// PostgreSQL backend of database dbName.
func backendCPU(procDir, dbName string) (float64, bool) {
	cmd, err := os.ReadFile(procDir + "/cmdline")
	if err != nil || !strings.HasPrefix(string(cmd), "postgres: ") || !strings.Contains(string(cmd), " "+dbName+" ") {
		return 0, false
	}
	b, err := os.ReadFile(procDir + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, true
}

func dbNameFromURL(u string) string {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return ""
	}
	return cfg.Database
}

// pgCPUSampler adds up the CPU of the backends of a database while
// connections come and go (an import's pool closes when it ends): it
// samples every backend every 100 ms and keeps each one's last figure.
func pgCPUSampler(dbName string) (stop func() float64) {
	seen := map[string]float64{}
	sample := func() {
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			if v, ok := backendCPU(d, dbName); ok {
				seen[d] = v
			}
		}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	sample()
	base := 0.0
	for _, v := range seen {
		base += v
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() float64 {
		close(done)
		<-finished
		sample()
		sum := 0.0
		for _, v := range seen {
			sum += v
		}
		return sum - base
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
