package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/jobs"
	"saex/internal/store"
	"saex/internal/store/storetest"
	"saex/internal/web/webtest"
)

// countingEndpoint answers every chat completion with an explanation that
// carries the request's number ("demo answer <k>"), so a stored
// explanation tells which request made it; onRequest runs before each
// answer.
type countingEndpoint struct {
	mu        sync.Mutex
	n         int
	onRequest func(k int)
}

func (e *countingEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	e.mu.Lock()
	e.n++
	k := e.n
	on := e.onRequest
	e.mu.Unlock()
	if on != nil {
		on(k)
	}
	time.Sleep(20 * time.Millisecond) // requests overlap: the kill lands with some in flight
	reply, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion", "created": 1, "model": "x",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant",
			"content": "[EXPLANATION]: demo answer " + strconv.Itoa(k)}}},
		"usage": map[string]any{"prompt_tokens": 50, "completion_tokens": 10}})
	w.Header().Set("Content-Type", "application/json")
	w.Write(reply)
}

func (e *countingEndpoint) requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// TestExplainQueueWorkerKilled enqueues an auto-interp job over live demo
// features (`explain --enqueue`), kills the `saex worker --queues explain`
// process running it with SIGKILL after some features are stored, and
// lets a second worker finish it once River's rescuer gives the job up:
// every feature of the range has exactly one explanation, the ones stored
// before the kill are not asked again, and the second worker asks each
// remaining feature once.
func TestExplainQueueWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const n = 20
	const timeout = 5 * time.Second // --explain-timeout: how long the killed job waits
	bin := serverBinary(t)
	url := storetest.NewURL(t)
	if out, err := runCLI(t, "build", "--model", demoRoot+"/model", "--sae", demoRoot+"/saes/blocks.1.hook_resid_pre",
		"--corpus", demoRoot+"/corpus/eval.jsonl.gz", "--contexts", "8", "--chunk", "8",
		"--database-url", url, "--work-dir", t.TempDir()); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	db := openTestDB(t, url)
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT f.idx FROM features f JOIN sources s ON s.sid = f.sid
		WHERE s.model_id = 'demo-gpt2-4l' AND s.id = '1-res-topk' AND f.max_act_approx > 0 ORDER BY f.idx LIMIT $1`, n)
	if err != nil {
		t.Fatal(err)
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil || len(live) != n {
		t.Fatalf("live demo features: %v, %v", live, err)
	}
	var list []string
	for _, i := range live {
		list = append(list, strconv.Itoa(i))
	}

	ep := &countingEndpoint{}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	llmEnv := []string{"SAEX_LLM_BASE_URL=" + srv.URL + "/v1", "SAEX_LLM_MODEL=explainer-q", "SAEX_LLM_API_KEY=" + explainSecret}

	// Enqueue: nothing is asked here.
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		for _, kv := range llmEnv {
			if name, v, _ := strings.Cut(kv, "="); name == k {
				return v
			}
		}
		return ""
	}}
	if err := run(ctx, []string{"explain", "--enqueue", "--model", "demo-gpt2-4l", "--source", "1-res-topk",
		"--features", strings.Join(list, ","), "--database-url", url}, env); err != nil {
		t.Fatalf("explain --enqueue: %v\n%s", err, stderr.String())
	}
	var enq struct {
		Job   int64
		Total int
	}
	if err := json.Unmarshal(stdout.Bytes(), &enq); err != nil || enq.Job == 0 || enq.Total != n {
		t.Fatalf("explain --enqueue printed %q (%v)", stdout.String(), err)
	}
	if ep.requests() != 0 {
		t.Fatalf("--enqueue asked the endpoint %d times", ep.requests())
	}

	start := func(id string) (*exec.Cmd, *webtest.SyncBuffer) {
		cmd := exec.Command(bin, "worker", "--queues", "explain", "--database-url", url, "--data-dir", t.TempDir(),
			"--id", id, "--explain-timeout", timeout.String(), "--explain-features", "3")
		cmd.Env = append(os.Environ(), llmEnv...)
		return cmd, startProc(t, "worker "+id, cmd)
	}

	// The first worker is killed when the endpoint gets its 9th request
	// (others are in flight).
	killed := make(chan struct{})
	victim, victimLog := start("q1")
	var once sync.Once
	ep.onRequest = func(k int) {
		if k == 9 {
			once.Do(func() { _ = victim.Process.Signal(syscall.SIGKILL); close(killed) })
		}
	}
	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatalf("the first worker never reached the 9th feature\n%s", victimLog)
	}
	_ = victim.Wait()
	waitIdle(t, db)
	asked1 := ep.requests()
	before := explanationTexts(t, db)
	if len(before) == 0 || len(before) >= n {
		t.Fatalf("the killed worker stored %d of %d features, want some but not all\n%s", len(before), n, victimLog)
	}
	j, err := db.AutoInterpJobByID(ctx, enq.Job)
	if err != nil || j.State != features.JobRunning || !j.Queued {
		t.Fatalf("job after the kill: %+v, %v", j, err)
	}
	// serve's in-process runners never take a queued job.
	if claimed, err := db.ClaimAutoInterpJobs(ctx, 0); err != nil || len(claimed) != 0 {
		t.Errorf("a serve runner claimed %d jobs (%v)", len(claimed), err)
	}

	// Start the second worker once the killed try is past its timeout, so
	// that the rescuer's first pass gives it up.
	var attempted time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT attempted_at FROM river_job WHERE kind = 'autointerp_job'`).Scan(&attempted); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(attempted.Add(timeout + timeout/10 + time.Second)))
	_, log2 := start("q2")
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err = db.AutoInterpJobByID(ctx, enq.Job)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != features.JobRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second worker did not finish the job (%d/%d)\n%s", j.Done, j.Total, log2)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if j.State != features.JobDone || j.Done != n || j.Explained+j.AlreadyDone != n {
		t.Errorf("job: %+v", j)
	}
	// River records the job completed once Work returns.
	var state string
	var attempt int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := db.Pool.QueryRow(ctx, `SELECT state, attempt FROM river_job WHERE kind = 'autointerp_job'`).Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
		if state != "running" || time.Now().After(deadline) {
			break
		}
	}
	if state != "completed" || attempt < 2 {
		t.Errorf("river job: %s after %d attempts, want completed on a later attempt", state, attempt)
	}

	after := explanationTexts(t, db)
	counts := explanationCounts(t, db)
	for _, i := range live {
		if counts[i] != 1 {
			t.Errorf("feature %d has %d explanations, want 1", i, counts[i])
		}
	}
	if len(counts) != n {
		t.Errorf("%d features explained, want the %d of the range", len(counts), n)
	}
	for i, text := range before {
		if after[i] != text {
			t.Errorf("feature %d, stored before the kill (%q), was explained again (%q)", i, text, after[i])
		}
	}
	if asked2 := ep.requests() - asked1; asked2 != n-len(before) {
		t.Errorf("the second worker asked %d times for %d features left", asked2, n-len(before))
	}
	if strings.Contains(victimLog.String()+log2.String(), explainSecret) {
		t.Error("a worker logged the key")
	}
	t.Logf("killed after %d requests with %d features stored; the second worker asked %d", asked1, len(before), ep.requests()-asked1)
}

// waitIdle waits until the database has no other busy backend: a killed
// process may have sent a COMMIT that the server still carries out.
func waitIdle(t *testing.T, db *store.DB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var busy int
		if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			return
		}
	}
}

// explanationTexts maps each explained feature to its explanation.
func explanationTexts(t *testing.T, db *store.DB) map[int]string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT idx, description FROM explanations WHERE type_name = 'saex_acts-logits'`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	var idx int
	var text string
	if _, err := pgx.ForEachRow(rows, []any{&idx, &text}, func() error { out[idx] = text; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServeAutoInterpQueue: with --autointerp-jobs queue a job started
// from the source page is recorded as queued and put on the explain queue
// (serve runs nothing itself), and a worker started as serve --worker
// starts one runs it to the end, each feature asked once.
func TestServeAutoInterpQueue(t *testing.T) {
	url := storetest.NewURL(t)
	db := openTestDB(t, url)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	seedWords(t, db, 3)
	ctx, cancel := context.WithCancel(context.Background())
	bg := &sync.WaitGroup{}
	t.Cleanup(func() { cancel(); bg.Wait() })
	if err := jobs.Migrate(ctx, db.Pool, nil); err != nil {
		t.Fatal(err)
	}
	apiKey, _, err := db.CreateAPIKey(ctx, "queue test")
	if err != nil {
		t.Fatal(err)
	}
	ep := &wordEndpoint{}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	vars := map[string]string{"SAEX_LLM_BASE_URL": srv.URL + "/v1", "SAEX_LLM_MODEL": "explainer-q", "SAEX_LLM_API_KEY": explainSecret}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
	log := slog.New(slog.DiscardHandler)
	ts := serveTest(ctx, t, &serveDeps{DB: db, Env: env, Log: log, Harden: &hardenConfig{}, Background: bg,
		AutoInterpJobs: autoInterpQueue})
	start := func(features string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.URL+"/m/0-res/autointerp", strings.NewReader("features="+features))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Api-Key", apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && !strings.Contains(string(b), "autointerp-job") {
			t.Fatalf("start a job: %d %.300s", resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	if st := start("0-2"); st != 200 {
		t.Fatalf("start a job: %d", st)
	}
	j, err := db.LatestAutoInterpJob(ctx, "m", "0-res")
	if err != nil || j == nil || !j.Queued || j.State != features.JobRunning || j.Total != 3 {
		t.Fatalf("job: %+v, %v", j, err)
	}
	var queued int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'autointerp_job' AND queue = 'explain'
		AND (args->>'job')::bigint = $1 AND state = 'available'`, j.ID).Scan(&queued); err != nil || queued != 1 {
		t.Fatalf("river jobs for job %d: %d (%v)", j.ID, queued, err)
	}
	time.Sleep(200 * time.Millisecond)
	if got := ep.snapshot(); len(got) != 0 {
		t.Fatalf("serve explained by itself: %v", got)
	}

	// The worker has an embedding model (serve has none): it embeds what
	// its jobs write.
	emb := httptest.NewServer(&hashEmbedder{})
	defer emb.Close()
	workerVars := maps.Clone(vars)
	maps.Copy(workerVars, map[string]string{"SAEX_EMBED_BASE_URL": emb.URL + "/v1", "SAEX_EMBED_MODEL": "emb-h",
		"SAEX_EMBED_API_KEY": embedSecret, "SAEX_EMBED_DIMENSIONS": "64"})
	workerEnv := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return workerVars[k] }}
	stop, err := startWorker(ctx, workerEnv, db, log, t.TempDir(), workerConfig{Queues: "explain", Concurrency: 1,
		ShardTimeout: time.Minute, MergeTimeout: time.Minute, ExplainTimeout: time.Minute, ExplainFeatures: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if j, err = db.AutoInterpJobByID(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		if j.State != features.JobRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not finish the job: %+v", j)
		}
	}
	if j.State != features.JobDone || j.Explained != 3 {
		t.Errorf("job: %+v", j)
	}
	if got := embeddedPerSource(t, db, "emb-h"); got["0-res"] != [2]int{3, 3} {
		t.Errorf("explained, embedded by the worker: %v, want 3 of 3", got)
	}
	for i, n := range ep.snapshot() {
		if n != 1 {
			t.Errorf("feature %d asked %d times", i, n)
		}
	}

	// explain --enqueue --wait: the worker runs it (all done already) and
	// the command shows its progress until it ends.
	var out, errOut bytes.Buffer
	cliEnv := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return vars[k] }}
	if err := run(ctx, []string{"explain", "--enqueue", "--wait", "--model", "m", "--source", "0-res", "--features", "0-2",
		"--database-url", url}, cliEnv); err != nil || !strings.Contains(out.String(), `"job": `) || !strings.Contains(errOut.String(), "3/3 features") {
		t.Errorf("explain --enqueue --wait: %v\n%s%s", err, out.String(), errOut.String())
	}

	// A queued job whose River job is gone (River gave up on it) does not
	// hold the source for good: the next start fails it and goes ahead.
	orphan := &features.AutoInterpJob{AutoInterpJobRequest: features.AutoInterpJobRequest{ModelID: "m", SourceID: "0-res"}, Total: 3, Queued: true}
	if err := db.CreateAutoInterpJob(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if st := start("0"); st != 409 {
		t.Errorf("a start while a queued job runs: %d, want 409", st)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE autointerp_jobs SET created_at = now() - interval '2 minutes' WHERE id = $1`, orphan.ID); err != nil {
		t.Fatal(err)
	}
	if st := start("0"); st != 200 {
		t.Errorf("a start after River gave up on the running job: %d", st)
	}
	if o, err := db.AutoInterpJobByID(ctx, orphan.ID); err != nil || o.State != features.JobFailed || !strings.Contains(o.Error, "River gave up") {
		t.Errorf("orphaned job: %+v %v", o, err)
	}
}

// TestExplainQueueFlags checks the flag errors of the explain queue's
// commands.
func TestExplainQueueFlags(t *testing.T) {
	url := storetest.NewURL(t)
	vars := map[string]string{"SAEX_LLM_BASE_URL": "http://127.0.0.1:1/v1", "SAEX_LLM_MODEL": "x"}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"worker", "--database-url", url, "--queues", "explain"}, nil, "SAEX_LLM_BASE_URL"},
		{[]string{"worker", "--database-url", url, "--queues", "build,explain", "--explain-features", "0"}, vars, "--explain-features 0"},
		{[]string{"worker", "--database-url", url, "--queues", "explain", "--explain-timeout", "10ms"}, vars, "--explain-timeout 10ms"},
		{[]string{"explain", "--model", "m", "--source", "s", "--wait"}, vars, "--wait goes with --enqueue"},
		{[]string{"explain", "--model", "m", "--source", "s", "--enqueue", "--concurrency", "2"}, vars, "--explain-features"},
		{[]string{"serve", "--autointerp-jobs", "river", "--database-url", url}, nil, `--autointerp-jobs "river"`},
	} {
		var out bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(k string) string { return c.env[k] }}
		err := run(context.Background(), c.args, env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q\n%s", c.args, err, c.want, out.String())
		}
	}
}

// TestExplainQueueLongJobGoesOn: a job longer than --explain-timeout is
// not a failure: each try that made progress is snoozed and the next goes
// on from the checkpoints, on the same River attempt, until it is done.
func TestExplainQueueLongJobGoesOn(t *testing.T) {
	const n = 16
	db := storetest.NewDB(t)
	seedWords(t, db, n)
	ctx := context.Background()
	if err := jobs.Migrate(ctx, db.Pool, nil); err != nil {
		t.Fatal(err)
	}
	ep := &wordEndpoint{onExplain: func(int) { time.Sleep(250 * time.Millisecond) }}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	vars := map[string]string{"SAEX_LLM_BASE_URL": srv.URL + "/v1", "SAEX_LLM_MODEL": "explainer-l"}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
	p, err := llmConfigFromEnv(env).pipeline(db)
	if err != nil {
		t.Fatal(err)
	}
	j, err := (&autointerp.Runner{Pipeline: p, Jobs: db}).Prepare(ctx, features.AutoInterpJobRequest{ModelID: "m", SourceID: "0-res"})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.EnqueueExplain(ctx, db.Pool, db, j); err != nil {
		t.Fatal(err)
	}
	// 16 features, 2 at a time, 250 ms each: 2 s of work in tries of 1 s.
	stop, err := startWorker(ctx, env, db, slog.New(slog.DiscardHandler), t.TempDir(), workerConfig{Queues: "explain", Concurrency: 1,
		ShardTimeout: time.Minute, MergeTimeout: time.Minute, ExplainTimeout: time.Second, ExplainFeatures: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if j, err = db.AutoInterpJobByID(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		if j.State != features.JobRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not finish: %+v", j)
		}
	}
	if j.State != features.JobDone || j.Done != n {
		t.Errorf("job: %+v", j)
	}
	var state string
	var attempt, tries int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := db.Pool.QueryRow(ctx, `SELECT state, attempt, coalesce(array_length(attempted_by, 1), 0) FROM river_job
			WHERE kind = 'autointerp_job'`).Scan(&state, &attempt, &tries); err != nil {
			t.Fatal(err)
		}
		if state != "running" || time.Now().After(deadline) {
			break
		}
	}
	if state != "completed" || attempt != 1 || tries < 2 {
		t.Errorf("river job: %s, attempt %d after %d tries; want completed on attempt 1 after several tries", state, attempt, tries)
	}
	for i, c := range explanationCounts(t, db) {
		if c != 1 {
			t.Errorf("feature %d has %d explanations", i, c)
		}
	}
}
