package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/pgcluster"
	"saex/internal/testenv"
	"saex/internal/web/webtest"
)

// The recorded run (SAEX_RELIABILITY=1): the real binary serving the demo
// from a private PostgreSQL cluster, driven over loopback. It prints a
// Markdown report (also written to SAEX_RELIABILITY_OUT, default
// DIR/report.md) that docs/reliability.md quotes. SAEX_RELIABILITY_DIR
// keeps the cluster and the built demo between runs (the first build
// takes a few minutes); by default everything lives in a temp dir.

const (
	demoModel  = "demo-gpt2-4l"
	demoWidth  = 4096
	loadSource = "9-res-loadtest" // where the load's writer uploads
)

var demoSources = []string{"1-res-topk", "2-res-topk", "3-res-topk"}

// serveProc is a running `saex serve`.
type serveProc struct {
	cmd  *exec.Cmd
	URL  string
	done chan error
	log  string
}

// startServe runs the binary's serve on dbURL with its own data dir.
func startServe(t *testing.T, bin, root, dbURL, dataDir, logPath string) *serveProc {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--database-url", dbURL, "--data-dir", dataDir, "--compute-rate", "off")
	cmd.Dir = root // the demo is ./demo
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "SAEX_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SAEX_LOG_FORMAT=json")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, URL: "http://" + addr, done: make(chan error, 1), log: logPath}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if st, _ := httpGet(p.URL + "/readyz"); st == 200 {
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve exited: %v (log %s)", err, logPath)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 3 minutes (log %s)", logPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exit is how a signalled serve ended.
type exit struct {
	Err    error         // the process's exit error (nil: exit status 0)
	Took   time.Duration // from the signal to the exit
	Exited bool          // false: still running after the wait
}

// signal sends sig and waits up to within for the process to exit.
func (p *serveProc) signal(sig syscall.Signal, within time.Duration) exit {
	start := time.Now()
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		return exit{Err: err, Took: time.Since(start), Exited: true}
	case <-time.After(within):
		return exit{Took: time.Since(start)}
	}
}

func httpGet(u string) (int, []byte) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// metrics scrapes /metrics into series -> value.
func metrics(base string) map[string]float64 {
	st, b := httpGet(base + "/metrics")
	out := map[string]float64{}
	if st != 200 {
		return out
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// buildProgress sums the demo's build gauges: features and contexts done
// and whether every source is done.
func buildProgress(base string) (featuresDone, contextsDone float64, allDone bool) {
	m := metrics(base)
	done := 0
	for _, s := range demoSources {
		lbl := fmt.Sprintf(`{model=%q,source=%q}`, demoModel, s)
		featuresDone += m["saex_build_features_done"+lbl]
		contextsDone += m["saex_build_contexts_done"+lbl]
		if m[fmt.Sprintf(`saex_build_state{model=%q,source=%q,state="done"}`, demoModel, s)] == 1 {
			done++
		}
	}
	return featuresDone, contextsDone, done == len(demoSources)
}

// waitBuilt waits until the demo build is done.
func waitBuilt(t *testing.T, p *serveProc, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if _, _, done := buildProgress(p.URL); done {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("demo not built after %v (log %s)", within, p.log)
		}
		time.Sleep(time.Second)
	}
}

// report accumulates the Markdown report.
type report struct {
	mu sync.Mutex
	b  strings.Builder
}

func (r *report) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(&r.b, format, args...)
}

// machine describes where the run happened.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%d CPUs (%s), GOMAXPROCS %d, %s, load average at start %s", runtime.NumCPU(), cpu, runtime.GOMAXPROCS(0), runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
}

// demoRoutes is the load mix: pages, API reads and prompts, with workers each.
func demoRoutes(base string, pages, reads, prompts int, promptTexts []string) []webtest.Route {
	gz := map[string]string{"Accept-Encoding": "gzip"}
	pick := func(w, i int) (string, int) {
		r := rand.New(rand.NewPCG(uint64(w), uint64(i)))
		return demoSources[r.IntN(len(demoSources))], r.IntN(demoWidth)
	}
	routes := []webtest.Route{
		{Name: "GET feature page", Workers: pages, Next: func(w, i int) webtest.Request {
			s, idx := pick(w, i)
			return webtest.Request{Method: "GET", URL: fmt.Sprintf("%s/%s/%s/%d", base, demoModel, s, idx), Header: gz}
		}},
		{Name: "GET /api/feature", Workers: reads, Next: func(w, i int) webtest.Request {
			s, idx := pick(1000+w, i)
			return webtest.Request{Method: "GET", URL: fmt.Sprintf("%s/api/feature/%s/%s/%d", base, demoModel, s, idx), Header: gz}
		}},
	}
	if prompts > 0 {
		routes = append(routes, webtest.Route{Name: "POST /api/search-all", Workers: prompts, Next: func(w, i int) webtest.Request {
			body, _ := json.Marshal(map[string]any{
				"modelId": demoModel, "sourceSet": "res-topk", "selectedLayers": demoSources,
				"text": promptTexts[(w*37+i)%len(promptTexts)], "ignoreBos": true, "densityThreshold": -1, "numResults": 50,
			})
			return webtest.Request{Method: "POST", URL: base + "/api/search-all", Body: body, Header: gz}
		}})
	}
	return routes
}

// createKey makes an API key with the binary's apikey subcommand.
func createKey(t *testing.T, bin, dbURL string) string {
	t.Helper()
	cmd := exec.Command(bin, "apikey", "create", "--name", "reliability run", "--database-url", dbURL)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	var k struct{ Key string }
	if err := json.Unmarshal(out, &k); err != nil || k.Key == "" {
		t.Fatalf("apikey create printed %q", out)
	}
	return k.Key
}

func withDB(url, name string) string {
	i := strings.LastIndex(url, "/")
	q := ""
	if j := strings.IndexByte(url[i:], '?'); j >= 0 {
		q = url[i+j:]
	}
	return url[:i+1] + name + q
}

// digest summarises a database's demo dashboards per source: counts and
// hashes of every feature's statistics and every example's values.
func digest(t *testing.T, dbURL string) map[string][4]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string][4]string{}
	rows, err := conn.Query(ctx, `
		SELECT s.id, count(*)::text,
		       md5(string_agg(f.idx || ':' || f.max_act_approx || ':' || f.frac_nonzero || ':' ||
		           coalesce(f.pos_values::text, '') || ':' || coalesce(f.neg_values::text, '') || ':' ||
		           coalesce(f.freq_hist_heights::text, '') || ':' || coalesce(f.topk_cos_sim_indices::text, ''), ',' ORDER BY f.idx))
		FROM features f JOIN sources s USING (sid) WHERE s.model_id = $1 GROUP BY s.id`, demoModel)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, n, h string
		if err := rows.Scan(&id, &n, &h); err != nil {
			t.Fatal(err)
		}
		d := out[id]
		d[0], d[1] = n, h
		out[id] = d
	}
	rows, err = conn.Query(ctx, `
		SELECT s.id, count(*)::text,
		       md5(string_agg(a.idx || ':' || a.max_value || ':' || a.max_value_token_index || ':' ||
		           coalesce(a.bin_min::text, '') || ':' || encode(a.vals, 'hex'), ','
		           ORDER BY a.idx, a.max_value, a.max_value_token_index, coalesce(a.bin_min, 0), encode(a.vals, 'hex')))
		FROM activations a JOIN sources s USING (sid) WHERE s.model_id = $1 GROUP BY s.id`, demoModel)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, n, h string
		if err := rows.Scan(&id, &n, &h); err != nil {
			t.Fatal(err)
		}
		d := out[id]
		d[2], d[3] = n, h
		out[id] = d
	}
	return out
}

// normalizedFeature fetches a feature from the API without the fields a
// rebuild changes (creation times, row ids).
func normalizedFeature(t *testing.T, base, source string, idx int) any {
	t.Helper()
	st, b := httpGet(fmt.Sprintf("%s/api/feature/%s/%s/%d", base, demoModel, source, idx))
	if st != 200 {
		t.Fatalf("GET feature %s/%d: %d", source, idx, st)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var strip func(any)
	strip = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for _, k := range []string{"createdAt", "updatedAt", "id"} {
				delete(x, k)
			}
			for _, v := range x {
				strip(v)
			}
		case []any:
			for _, v := range x {
				strip(v)
			}
		}
	}
	strip(v)
	return v
}

func TestRecordedRun(t *testing.T) {
	if os.Getenv("SAEX_RELIABILITY") != "1" {
		t.Skip("the recorded load and fault run (about 10 minutes): set SAEX_RELIABILITY=1; see docs/reliability.md")
	}
	ctx := context.Background()
	root := testenv.RepoRoot(t)
	dir := os.Getenv("SAEX_RELIABILITY_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // the cluster runs as postgres when we are root
	rep := &report{}
	rep.printf("Machine: %s.\n\n", machine())

	bin := filepath.Join(dir, "saex")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "server")).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cluster, err := pgcluster.Start(ctx, filepath.Join(dir, "pg"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	pg := PGControl{BinDir: cluster.BinDir, DataDir: cluster.DataDir, Port: cluster.Port}

	// 1. Serve the demo; on a fresh directory this builds it first.
	main := startServe(t, bin, root, cluster.URL, filepath.Join(dir, "data-main"), filepath.Join(dir, "serve-main.log"))
	built := waitBuilt(t, main, 15*time.Minute)
	rep.printf("Demo ready %v after serve answered /readyz (0 when reused from SAEX_RELIABILITY_DIR).\n\n", built.Round(time.Second))
	key := createKey(t, bin, cluster.URL)
	prompts, err := webtest.CutPrompts(ctx, main.URL, demoModel, demoSources[0], filepath.Join(root, "demo", demoModel, "corpus", "eval.jsonl.gz"), 64, 256)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d prompts of 64 tokens", len(prompts))

	// Warm caches and connections.
	if _, err := webtest.Load(ctx, webtest.LoadConfig{Routes: demoRoutes(main.URL, 8, 4, 4, prompts), Duration: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}

	// 2. Pages and reads alone: the idle reference.
	idle, err := webtest.Load(ctx, webtest.LoadConfig{Routes: demoRoutes(main.URL, 16, 8, 0, nil), Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rep.printf("### Reference: pages and API reads, no prompts (24 connections, 20 s)\n\n%s\n", idle.Table())

	// 3. The mix: 32 connections for 60 s.
	mixed, err := webtest.Load(ctx, webtest.LoadConfig{Routes: demoRoutes(main.URL, 16, 8, 8, prompts), Duration: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rep.printf("### Load: pages, API reads and search-all (32 connections, 60 s)\n\n%s\n", mixed.Table())
	pageIdle, pageMixed := idle.Route("GET feature page").P99, mixed.Route("GET feature page").P99
	rep.printf("Feature page p99: %s ms alone, %s ms with prompt load: ratio %.2f (limit 2).\n\n", webtest.Millis(pageIdle), webtest.Millis(pageMixed), float64(pageMixed)/float64(pageIdle))
	for _, r := range mixed.Routes {
		if r.Count5xx() > 0 {
			t.Errorf("load: %s got %d 5xx responses: %v", r.Name, r.Count5xx(), r.Statuses)
		}
	}
	if float64(pageMixed) > 2*float64(pageIdle) {
		t.Errorf("feature page p99 %v under prompt load is more than 2x its reference %v", pageMixed, pageIdle)
	}

	// 4. PostgreSQL stopped for 10 s in the middle of 40 s of load (with a writer).
	var writes acked
	routes := demoRoutes(main.URL, 15, 8, 8, prompts)
	routes = append(routes, webtest.Route{Name: "POST upload-batch", Workers: 1, Next: func(w, i int) webtest.Request {
		return upload(main.URL, key, demoModel, loadSource, 200000+i)
	}})
	var stopAt, startAt time.Duration
	var outageErr error
	runStart := time.Now()
	outageDone := make(chan struct{})
	go func() {
		defer close(outageDone)
		time.Sleep(10 * time.Second)
		stopAt = time.Since(runStart)
		if outageErr = pg.Stop(ctx); outageErr != nil {
			return
		}
		time.Sleep(10 * time.Second)
		outageErr = pg.Start(ctx)
		startAt = time.Since(runStart)
	}()
	outage, err := webtest.Load(ctx, webtest.LoadConfig{Routes: routes, Duration: 40 * time.Second, OnResult: func(route string, req webtest.Request, status int) {
		if route == "POST upload-batch" && status == 200 {
			var b struct {
				Features []struct{ Index int } `json:"features"`
			}
			_ = json.Unmarshal(req.Body, &b)
			writes.mu.Lock()
			writes.idx = append(writes.idx, b.Features[0].Index)
			writes.mu.Unlock()
		}
	}})
	<-outageDone
	if err != nil || outageErr != nil {
		t.Fatalf("outage run: %v %v", err, outageErr)
	}
	// Load's clock started a moment after runStart; the offset is tiny
	// next to the windows checked.
	var fast503, slow503, other5xx, during200 int
	var max503 time.Duration
	recovered := time.Duration(-1)
	for _, r := range outage.Routes {
		for _, s := range r.Samples {
			inOutage := s.At > stopAt+500*time.Millisecond && s.At+s.Latency < startAt
			switch {
			case s.Status == 503:
				max503 = max(max503, s.Latency)
				if s.Latency < time.Second {
					fast503++
				} else {
					slow503++
				}
			case s.Status >= 500 || s.Status == 0:
				other5xx++
			case inOutage && s.Status == 200:
				during200++
			}
			if s.Status == 200 && s.At > startAt && (recovered < 0 || s.At < recovered) {
				recovered = s.At
			}
		}
	}
	rep.printf("### Outage: PostgreSQL stopped (pg_ctl stop -m fast) at %.1f s, started again at %.1f s, 32 connections for 40 s\n\n%s\n",
		stopAt.Seconds(), startAt.Seconds(), outage.Table())
	rep.printf("503s: %d under 1 s, %d slower, slowest %s ms; other 5xx or no response: %d; 200s inside the outage: %d (prompt-cache hits need no database).\n",
		fast503, slow503, webtest.Millis(max503), other5xx, during200)
	rep.printf("First success %s ms after PostgreSQL was back.\n\n", webtest.Millis(recovered-startAt))
	timeline := webtest.Timeline(outage.Routes...)
	rep.printf("Per second (all routes): ")
	for sec, m := range timeline {
		rep.printf("%ds %s; ", sec, webtest.StatusList(m))
	}
	rep.printf("\n\n")
	if other5xx > 0 || slow503 > 0 || recovered < 0 {
		t.Errorf("outage: %d other 5xx, %d slow 503s, recovered %v", other5xx, slow503, recovered)
	}
	lost := 0
	for _, i := range writes.idx {
		if st, _ := httpGet(fmt.Sprintf("%s/api/feature/%s/%s/%d", main.URL, demoModel, loadSource, i)); st != 200 {
			lost++
		}
	}
	rep.printf("Writes acknowledged during the outage run: %d; missing afterwards: %d.\n\n", len(writes.idx), lost)
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}

	// 5. kill -9 during the demo build on a fresh database, SIGTERM, kill
	// -9 again, then let it finish: the result must equal the uninterrupted build.
	admin, err := pgx.Connect(ctx, withDB(cluster.URL, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS saex_kill WITH (FORCE)`)
	if _, err := admin.Exec(ctx, `CREATE DATABASE saex_kill`); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	killURL := withDB(cluster.URL, "saex_kill")
	killData := filepath.Join(dir, "data-kill")
	_ = os.RemoveAll(killData)
	killLog := filepath.Join(dir, "serve-kill.log")
	_ = os.Remove(killLog)
	rep.printf("### Interrupted demo build\n\n")
	buildStart := time.Now()
	stages := []struct {
		what string
		sig  syscall.Signal
		when func(f, c float64) bool
	}{
		{"kill -9 while the model runs over the corpus (pass 1)", syscall.SIGKILL, func(f, c float64) bool { return c > 0 && f == 0 }},
		{"SIGTERM (graceful) later in the build", syscall.SIGTERM, func(f, c float64) bool { return c > 0 }},
		{"kill -9 while dashboards are written", syscall.SIGKILL, func(f, c float64) bool { return f > 0 }},
	}
	for _, st := range stages {
		p := startServe(t, bin, root, killURL, killData, killLog)
		var f, c float64
		var done bool
		deadline := time.Now().Add(10 * time.Minute)
		for {
			f, c, done = buildProgress(p.URL)
			if done || st.when(f, c) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if done {
			rep.printf("- %s: the build finished before the signal; skipped\n", st.what)
			p.signal(syscall.SIGTERM, 40*time.Second)
			continue
		}
		ex := p.signal(st.sig, 40*time.Second)
		rep.printf("- %s at %.0f contexts / %.0f features done: exited (%v) in %s ms\n", st.what, c, f, ex.Err, webtest.Millis(ex.Took))
		if !ex.Exited || st.sig == syscall.SIGTERM && ex.Err != nil {
			t.Errorf("%s: exited %v with %v, want a clean exit within 40 s", st.what, ex.Exited, ex.Err)
		}
	}
	final := startServe(t, bin, root, killURL, killData, killLog)
	waitBuilt(t, final, 15*time.Minute)
	rep.printf("- restarted: build complete %v after the first start.\n\n", time.Since(buildStart).Round(time.Second))
	want, got := digest(t, cluster.URL), digest(t, killURL)
	rep.printf("| source | features (uninterrupted / interrupted) | examples | feature digest equal | example digest equal |\n| --- | --- | --- | --- | --- |\n")
	for _, s := range demoSources {
		w, g := want[s], got[s]
		rep.printf("| %s | %s / %s | %s / %s | %v | %v |\n", s, w[0], g[0], w[2], g[2], w[1] == g[1], w[3] == g[3])
		if w != g {
			t.Errorf("source %s: interrupted build differs: %v vs %v", s, g, w)
		}
	}
	mismatch := 0
	for i := range 60 {
		s, idx := demoSources[i%3], (i*997)%demoWidth
		if !reflect.DeepEqual(normalizedFeature(t, main.URL, s, idx), normalizedFeature(t, final.URL, s, idx)) {
			mismatch++
		}
	}
	rep.printf("\nAPI comparison of 60 features (examples' tokens included): %d differ.\n\n", mismatch)
	if mismatch > 0 {
		t.Errorf("%d of 60 features differ between the interrupted and the uninterrupted build", mismatch)
	}

	// 6. Graceful shutdown under load: requests in flight at SIGTERM are
	// answered; later ones find the listener closed (status 0).
	var sig exit
	var sigAt time.Duration
	loadStart := time.Now()
	sigDone := make(chan struct{})
	drainCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	go func() {
		defer close(sigDone)
		time.Sleep(2 * time.Second)
		sigAt = time.Since(loadStart)
		sig = main.signal(syscall.SIGTERM, 30*time.Second)
		stopLoad() // requests after the exit would only count refused connections
	}()
	drain, err := webtest.Load(drainCtx, webtest.LoadConfig{Routes: demoRoutes(main.URL, 8, 4, 4, prompts), Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	<-sigDone
	inFlight, answered := 0, 0
	for _, r := range drain.Routes {
		for _, s := range r.Samples {
			if s.At < sigAt && s.At+s.Latency > sigAt {
				inFlight++
				if s.Status == 200 {
					answered++
				}
			}
			if s.Status >= 500 {
				t.Errorf("SIGTERM under load: %s got %d", r.Name, s.Status)
			}
		}
	}
	rep.printf("### SIGTERM under load (16 connections)\n\nserve exited (%v) %s ms after SIGTERM; %d requests were in flight at the signal, %d of them answered 200.\n\n%s\n",
		sig.Err, webtest.Millis(sig.Took), inFlight, answered, drain.Table())
	if !sig.Exited || sig.Err != nil {
		t.Errorf("SIGTERM under load: exited %v with %v", sig.Exited, sig.Err)
	}

	out := os.Getenv("SAEX_RELIABILITY_OUT")
	if out == "" {
		out = filepath.Join(dir, "report.md")
	}
	if err := os.WriteFile(out, []byte(rep.b.String()), 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("report (%s):\n%s", out, rep.b.String())
}
