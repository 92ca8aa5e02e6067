package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"saex/internal/inference"
	"saex/internal/store"
	"saex/internal/testenv"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

// TestLoadDemo is the load benchmark recorded in docs/performance.md:
// the production handler (router behind the hardening middleware, metrics
// on) with the demo engine, over a database holding the demo dashboards,
// driven on loopback by a closed loop of clients. It skips unless
// SAEX_LOAD_DB names that database:
//
//	SAEX_LOAD_DB=postgres://postgres@127.0.0.1:5432/saex go test ./internal/web -run TestLoadDemo -count=1 -v
//
// SAEX_LOAD_DURATION (default 10s) is each scenario's length,
// SAEX_LOAD_SOURCES (default the three demo sources) the sources whose
// features are requested, SAEX_LOAD_ONLY a substring of the scenario names
// to run (e.g. "page"), SAEX_LOAD_NO_CACHE (any value) turns the response
// cache off, SAEX_LOAD_READ_SLOTS sets the scheduler's read slots (-1: no
// bound). It reports and checks nothing against targets:
// timings on a shared 2-core machine are recorded, not asserted.
func TestLoadDemo(t *testing.T) {
	dbURL := os.Getenv("SAEX_LOAD_DB")
	if dbURL == "" {
		t.Skip("set SAEX_LOAD_DB to a database with the demo dashboards to run the load benchmark")
	}
	dur := 10 * time.Second
	if v := os.Getenv("SAEX_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	sources := webtest.DemoSources
	if v := os.Getenv("SAEX_LOAD_SOURCES"); v != "" {
		sources = strings.Split(v, ",")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := web.NewServer()
	s.Catalog, s.Features, s.Explanations, s.Writer, s.APIKeys, s.Ready = db, db, db, db, db, db
	s.Versions = db // as serve builds it
	if os.Getenv("SAEX_LOAD_NO_CACHE") != "" {
		s.ResponseCacheBytes = 0
	}
	readSlots := 0
	if v := os.Getenv("SAEX_LOAD_READ_SLOTS"); v != "" {
		if readSlots, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	sched := inference.NewScheduler(0, readSlots)
	s.Inference, s.Scheduler = webtest.DemoEngine(t, sched), sched
	h := &web.Hardening{Metrics: web.NewMetrics()}
	handler, err := h.Install(s)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	defer ts.Close()

	rng := rand.New(rand.NewPCG(7, 7))
	featureTargets := func(prefix string) []webtest.Request {
		out := make([]webtest.Request, 4096)
		for i := range out {
			src := sources[rng.IntN(len(sources))]
			out[i] = webtest.Request{Method: http.MethodGet, URL: fmt.Sprintf("%s%s/%s/%s/%d", ts.URL, prefix, webtest.DemoModel, src, rng.IntN(webtest.DemoWidth))}
		}
		return out
	}
	prompts, err := webtest.CutPrompts(ctx, ts.URL, webtest.DemoModel, webtest.DemoSources[0],
		filepath.Join(testenv.RepoRoot(t), "demo", webtest.DemoModel, "corpus", "eval.jsonl.gz"), 64, 160)
	if err != nil {
		t.Fatal(err)
	}
	var searchTargets []webtest.Request
	for _, p := range prompts {
		body, _ := json.Marshal(map[string]any{"modelId": webtest.DemoModel, "text": p, "selectedLayers": webtest.DemoSources,
			"ignoreBos": true, "densityThreshold": -1, "numResults": 50})
		searchTargets = append(searchTargets, webtest.Request{Method: http.MethodPost, URL: ts.URL + "/api/search-all", Body: body})
	}
	dbName := dbNameOf(dbURL)
	only := os.Getenv("SAEX_LOAD_ONLY") // a substring of the scenarios to run
	run := func(name string, targets []webtest.Request, conc int) {
		t.Helper()
		if only != "" && !strings.Contains(name, only) {
			return
		}
		self0, pg0 := cpuTime(t, dbName)
		out, err := webtest.Load(ctx, webtest.LoadConfig{
			Duration: dur, Gzip: true, Warmup: min(200, len(targets)),
			Routes: []webtest.Route{{Name: name, Workers: conc,
				Next: func(_, n int) webtest.Request { return targets[n%len(targets)] }}},
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res := out.Routes[0]
		// CPU per request (this process, server and client, plus the
		// PostgreSQL backends of the database) is what contention on a shared
		// machine does not change: on an idle 2-core machine the loop would
		// reach about 2000/cpu req/s.
		self1, pg1 := cpuTime(t, dbName)
		n := float64(res.Count() + min(200, len(targets)))
		perReq := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
		t.Logf("| %s | %d | %s | %.2f | %.2f | %.2f | %.0f | %d | %.2f + %.2f |", name, conc, strconv.Itoa(res.Count()),
			float64(res.P50.Microseconds())/1000, float64(res.P90.Microseconds())/1000, float64(res.P99.Microseconds())/1000, res.RPS, res.Errors(),
			perReq(self1-self0), perReq(pg1-pg0))
		if res.Errors() > 0 {
			t.Errorf("%s: %d errors, first: %s", name, res.Errors(), res.FirstError)
		}
	}
	t.Logf("load average before: %s", loadAverage())
	t.Logf("| scenario | connections | requests | p50 ms | p90 ms | p99 ms | req/s | errors | CPU ms/req (Go + PostgreSQL) |")
	t.Logf("|---|---|---|---|---|---|---|---|---|")
	run("GET feature page", featureTargets(""), 16)
	run("GET /api/feature", featureTargets("/api/feature"), 16)
	run("POST /api/search-all (64 tokens, 3 SAEs)", searchTargets, 1)
	run("POST /api/search-all (64 tokens, 3 SAEs)", searchTargets, 4)
	t.Logf("load average after: %s", loadAverage())
}

// cpuTime is the user+system CPU time of this process and that of the
// PostgreSQL backends serving database dbName (Linux /proc; 0 elsewhere).
func cpuTime(t *testing.T, dbName string) (self, pg time.Duration) {
	t.Helper()
	self = procCPU("/proc/self/stat")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmd, err := os.ReadFile(d + "/cmdline")
		if err != nil || !strings.HasPrefix(string(cmd), "postgres: ") || !strings.Contains(string(cmd), " "+dbName+" ") {
			continue
		}
		pg += procCPU(d + "/stat")
	}
	return self, pg
}

// procCPU reads utime+stime from a /proc stat file (clock ticks of 10 ms).
func procCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state); utime and stime are fields 14 and 15
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// dbNameOf extracts the database name from a postgres:// URL.
func dbNameOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexByte(u, '/'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return u
}

// loadAverage is the machine's 1/5/15-minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// benchServer builds the production handler over SAEX_LOAD_DB for the
// benchmarks below (skipped without it).
func benchServer(b *testing.B) http.Handler {
	dbURL := os.Getenv("SAEX_LOAD_DB")
	if dbURL == "" {
		b.Skip("set SAEX_LOAD_DB to a database with the demo dashboards")
	}
	db, err := store.Open(context.Background(), dbURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	s := web.NewServer()
	s.Catalog, s.Features, s.Explanations, s.Writer, s.APIKeys, s.Ready = db, db, db, db, db, db
	return s.Handler()
}

// benchGet serves GET path through h, n times, in one goroutine per CPU.
func benchGet(b *testing.B, h http.Handler, path func(i int) string, gzip bool) {
	b.ReportAllocs()
	var i atomicCounter
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, path(i.next()), nil)
			if gzip {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%s: %d %s", req.URL, rec.Code, rec.Body.String())
			}
		}
	})
}

// BenchmarkFeaturePage renders feature pages of the first SAEX_LOAD_SOURCES source.
func BenchmarkFeaturePage(b *testing.B) {
	h := benchServer(b)
	src := benchSource()
	benchGet(b, h, func(i int) string {
		return fmt.Sprintf("/%s/%s/%d", webtest.DemoModel, src, (i*7919)%webtest.DemoWidth)
	}, os.Getenv("SAEX_BENCH_GZIP") == "1")
}

// BenchmarkAPIFeature serves GET /api/feature for the same features.
func BenchmarkAPIFeature(b *testing.B) {
	h := benchServer(b)
	src := benchSource()
	benchGet(b, h, func(i int) string {
		return fmt.Sprintf("/api/feature/%s/%s/%d", webtest.DemoModel, src, (i*7919)%webtest.DemoWidth)
	}, os.Getenv("SAEX_BENCH_GZIP") == "1")
}

// benchSource is the first of SAEX_LOAD_SOURCES, or the first demo source.
func benchSource() string {
	if v := os.Getenv("SAEX_LOAD_SOURCES"); v != "" {
		return strings.Split(v, ",")[0]
	}
	return webtest.DemoSources[0]
}

type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) next() int { return int(c.n.Add(1)) }
