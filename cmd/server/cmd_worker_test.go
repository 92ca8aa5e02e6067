package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/store/storetest"
	"saex/internal/web/webtest"
)

// TestDistributedBuildMatchesSingleProcess queues the demo's dashboards
// as jobs, runs them on three `saex worker` processes (each with its own
// work directory: the database is all they share), kills the first with
// SIGKILL while it holds a running shard job and starts it again, and
// compares every stored value with a single-process build into another
// database.
func TestDistributedBuildMatchesSingleProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	bin := serverBinary(t)
	distURL, refURL := storetest.NewURL(t), storetest.NewURL(t)
	common := []string{"--model", demoRoot + "/model",
		"--sae", demoRoot + "/saes/blocks.1.hook_resid_pre", "--sae", demoRoot + "/saes/blocks.2.hook_resid_pre",
		"--sae", demoRoot + "/saes/blocks.3.hook_resid_pre",
		"--corpus", demoRoot + "/corpus/eval.jsonl.gz", "--contexts", "64", "--chunk", "8", "--batch", "1024"}
	// 8 chunks in shards of 1: 8 shard jobs, then 3 merges.
	out, err := runCLI(t, append([]string{"build", "--enqueue", "--shard-chunks", "1", "--database-url", distURL,
		"--work-dir", t.TempDir()}, common...)...)
	if err != nil || !strings.Contains(out, "shards=8") {
		t.Fatalf("enqueue: %v\n%s", err, out)
	}
	db := openTestDB(t, distURL)
	ctx := context.Background()

	start := func(id string) (*exec.Cmd, *webtest.SyncBuffer) {
		cmd := exec.Command(bin, "worker", "--database-url", distURL, "--data-dir", t.TempDir(), "--id", id,
			"--shard-timeout", "6s")
		return cmd, startProc(t, "worker "+id, cmd)
	}

	// The first worker starts alone and is killed as soon as it holds a
	// running shard job (it is then computing or storing that shard).
	victim, victimLog := start("w0")
	var jobID int64
	var shard int
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := db.Pool.QueryRow(ctx, `SELECT id, (args->>'shard')::int FROM river_job WHERE kind = 'dashboard_shard'
			AND state = 'running' AND attempted_by[array_length(attempted_by, 1)] = 'w0' LIMIT 1`).Scan(&jobID, &shard)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("w0 never ran a shard job: %v\n%s", err, victimLog)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	var done bool
	if err := db.Pool.QueryRow(ctx, `SELECT done_at IS NOT NULL FROM dashboard_build_shards WHERE shard = $1`, shard).Scan(&done); err != nil {
		t.Fatal(err)
	}
	if done {
		t.Fatalf("shard %d was already stored when its worker was killed: the kill did not land mid-shard", shard)
	}
	t.Logf("killed w0 in job %d (shard %d)", jobID, shard)
	start("w1")
	start("w2")
	start("w0-restarted")

	deadline = time.Now().Add(150 * time.Second)
	for {
		var merged int
		var failed string
		if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM dashboard_build_merges),
			coalesce((SELECT string_agg(errors::text, ' ') FROM river_job WHERE state IN ('discarded', 'cancelled')), '')`).Scan(&merged, &failed); err != nil {
			t.Fatal(err)
		}
		if failed != "" {
			t.Fatalf("a job gave up: %s", failed)
		}
		if merged == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the distributed build did not finish (%d of 3 sources merged)", merged)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Each merge refreshed the rank marks of its source.
	for _, src := range []string{"1-res-topk", "2-res-topk", "3-res-topk"} {
		checkRankMarks(t, db, "demo-gpt2-4l", src)
	}
	// The killed shard job was rescued and run again.
	var state string
	var attempt int
	if err := db.Pool.QueryRow(ctx, `SELECT state, attempt FROM river_job WHERE id = $1`, jobID).Scan(&state, &attempt); err != nil {
		t.Fatal(err)
	}
	if state != "completed" || attempt < 2 {
		t.Errorf("the killed shard's job: state %s, attempt %d; want completed on a later attempt", state, attempt)
	}
	var left int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM dashboard_build_codes`).Scan(&left); err != nil || left != 0 {
		t.Errorf("codes left after the merges: %d (%v)", left, err)
	}

	// The reference: one process, same options.
	out, err = runCLI(t, append([]string{"build", "--database-url", refURL, "--work-dir", t.TempDir()}, common...)...)
	if err != nil {
		t.Fatalf("single-process build: %v\n%s", err, out)
	}
	ref := openTestDB(t, refURL)
	compareStores(t, ref, db)
}

// compareStores compares every dashboard value two databases hold
// (timestamps and build-progress times aside).
func compareStores(t *testing.T, want, got *store.DB) {
	t.Helper()
	for _, src := range []string{"1-res-topk", "2-res-topk", "3-res-topk"} {
		w, g := readDashboards(t, want, src), readDashboards(t, got, src)
		diffs := 0
		for i := range w {
			if w[i] != g[i] {
				if diffs < 2 {
					t.Errorf("%s feature %d differs as read back:\nsingle:  %.400s\nworkers: %.400s", src, i, w[i], g[i])
				}
				diffs++
			}
		}
		if diffs > 0 {
			t.Errorf("%s: %d features differ as read back", src, diffs)
		}
	}
	for _, q := range []struct{ table, query string }{
		{"features", `SELECT to_jsonb(f) - 'created_at' FROM features f ORDER BY sid, idx`},
		// tokens holds ids into each database's token dictionary, which
		// concurrent merges fill in another order: compared decoded below.
		{"activations", `SELECT to_jsonb(a) - 'created_at' - 'tokens' FROM activations a ORDER BY id`},
		{"explanations", `SELECT to_jsonb(e) - 'created_at' FROM explanations e ORDER BY id`},
		{"sources", `SELECT to_jsonb(s) - 'created_at' - 'build' || jsonb_build_object('state', s.build->'state', 'featuresDone', s.build->'featuresDone')
			FROM sources s ORDER BY model_id, id`},
		{"checkpoints", `SELECT to_jsonb(c) - 'done_at' FROM checkpoints c ORDER BY 1`},
	} {
		w, g := tableRows(t, want, q.query), tableRows(t, got, q.query)
		if len(w) == 0 {
			t.Errorf("%s: no rows in the single-process build", q.table)
		}
		if len(w) != len(g) {
			t.Errorf("%s: %d rows from the single process, %d from the workers", q.table, len(w), len(g))
			continue
		}
		diffs := 0
		for i := range w {
			if w[i] != g[i] {
				if diffs < 2 {
					t.Errorf("%s row %d differs:\nsingle:  %.400s\nworkers: %.400s", q.table, i, w[i], g[i])
				}
				diffs++
			}
		}
		if diffs > 0 {
			t.Errorf("%s: %d of %d rows differ", q.table, diffs, len(w))
		} else {
			t.Logf("%s: %d rows identical", q.table, len(w))
		}
	}
}

// readDashboards reads every feature of a demo source as the store
// returns it (tokens decoded), as JSON with timestamps cleared.
func readDashboards(t *testing.T, db *store.DB, source string) []string {
	t.Helper()
	var out []string
	for f0 := 0; f0 < 4096; f0 += 512 {
		var keys []features.FeatureKey
		for f := f0; f < f0+512; f++ {
			keys = append(keys, features.FeatureKey{ModelID: "demo-gpt2-4l", SourceID: source, Index: f})
		}
		fs, err := db.GetFeatures(context.Background(), keys, features.FeatureOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			f.CreatedAt = time.Time{}
			for _, a := range f.Activations {
				a.CreatedAt = time.Time{}
			}
			for _, e := range f.Explanations {
				e.CreatedAt = time.Time{}
			}
			data, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(data))
		}
	}
	if len(out) != 4096 {
		t.Fatalf("%s: %d features stored, want 4096", source, len(out))
	}
	return out
}

func tableRows(t *testing.T, db *store.DB, query string) []string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWorkerFlags checks the worker's flag errors.
func TestWorkerFlags(t *testing.T) {
	url := storetest.NewURL(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--database-url", url, "--queues", "nope"}, `unknown queue "nope"`},
		{[]string{"worker", "--database-url", url, "--concurrency", "0"}, "--concurrency 0"},
		{[]string{"worker", "--database-url", url, "extra"}, `unexpected argument "extra"`},
		{[]string{"build", "--model", demoRoot + "/model", "--sae", "x", "--corpus", "y", "--wait"}, "go with --enqueue"},
	} {
		out, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q\n%s", c.args, err, c.want, out)
		}
	}
}

// TestServeRunsWorker checks that serve --worker works queued builds: a
// one-source build enqueued with --wait finishes with only serve running.
func TestServeRunsWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	bin := serverBinary(t)
	url := storetest.NewURL(t)
	startProc(t, "serve", exec.Command(bin, "serve", "--addr", freeAddr(t), "--database-url", url, "--no-demo",
		"--data-dir", t.TempDir(), "--worker", "--worker-concurrency", "2"))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	enq := exec.CommandContext(ctx, bin, "build", "--enqueue", "--wait", "--shard-chunks", "1", "--database-url", url,
		"--work-dir", t.TempDir(), "--model", demoRoot+"/model", "--sae", demoRoot+"/saes/blocks.2.hook_resid_pre",
		"--corpus", demoRoot+"/corpus/eval.jsonl.gz", "--contexts", "16", "--chunk", "8")
	out, err := enq.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dashboards built by the workers") || !strings.Contains(string(out), "shards=2") {
		t.Fatalf("build --enqueue --wait with serve --worker: %v\n%s", err, out)
	}
	src, err := openTestDB(t, url).GetSource(context.Background(), "demo-gpt2-4l", "2-res-topk")
	if err != nil || src.Build == nil || src.Build.State != features.BuildDone || src.Build.FeaturesDone != 4096 {
		t.Errorf("source after the build: %+v, %v", src, err)
	}
}
