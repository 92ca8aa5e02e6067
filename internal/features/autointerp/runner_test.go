package autointerp_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

// startRunner starts a runner over db until the test ends or stop is called.
func startRunner(t *testing.T, p *autointerp.Pipeline, db *store.DB, stale time.Duration) (r *autointerp.Runner, stop func()) {
	t.Helper()
	r = &autointerp.Runner{Pipeline: p, Jobs: db, Concurrency: 2, SaveEvery: 20 * time.Millisecond, StaleAfter: stale}
	ctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	r.Start(ctx, wg)
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return r, stop
}

// waitJob polls the source's latest job until it is no longer running.
func waitJob(t *testing.T, db *store.DB) *features.AutoInterpJob {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := db.LatestAutoInterpJob(context.Background(), "m", "0-res")
		if err != nil {
			t.Fatal(err)
		}
		if j != nil && j.State != features.JobRunning {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still running: %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunnerJobOnePerSourceAndSummary: a started job runs in the
// background to a summary in the store; a second job on the same source
// is refused while the first runs, and bad requests are refused up front.
func TestRunnerJobOnePerSourceAndSummary(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	release := make(chan struct{})
	ep := &fakeEndpoint{before: func(http.ResponseWriter, int, int) bool { <-release; return false }}
	r, _ := startRunner(t, newPipeline(t, db, ep), db, 0)
	ctx := context.Background()
	req := features.AutoInterpJobRequest{ModelID: "m", SourceID: "0-res", Scorers: []string{"detection"}, BudgetTokens: 1_000_000, StartedBy: "k1"}
	j, err := r.StartJob(ctx, req)
	if err != nil || j.ID == 0 || j.Total != numTestFeatures || j.State != features.JobRunning || j.Scorers[0] != autointerp.ScoreDetection {
		t.Fatalf("start: %+v %v", j, err)
	}
	if _, err := r.StartJob(ctx, req); features.ErrorCode(err) != features.ECONFLICT {
		t.Errorf("second job on the source: %v, want ECONFLICT", err)
	}
	for what, bad := range map[string]features.AutoInterpJobRequest{
		"range past the end": {ModelID: "m", SourceID: "0-res", Features: "5-12"},
		"bad range":          {ModelID: "m", SourceID: "0-res", Features: "five"},
		"unknown scorer":     {ModelID: "m", SourceID: "0-res", Scorers: []string{"simulation"}},
		"embedding scorer":   {ModelID: "m", SourceID: "0-res", Scorers: []string{"embedding"}},
		"negative budget":    {ModelID: "m", SourceID: "0-res", BudgetTokens: -1},
	} {
		if _, err := r.StartJob(ctx, bad); err == nil || features.ErrorCode(err) == features.EINTERNAL {
			t.Errorf("%s: %v, want a request error", what, err)
		}
	}
	if _, err := r.StartJob(ctx, features.AutoInterpJobRequest{ModelID: "m", SourceID: "nope"}); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("missing source: %v", err)
	}
	// A source whose dashboards are being built waits for them.
	if err := db.UpsertSource(ctx, &features.Source{ModelID: "m", ID: "1-res", SetName: "res"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetBuildStatus(ctx, "m", "1-res", &features.BuildStatus{State: features.BuildRunning}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.StartJob(ctx, features.AutoInterpJobRequest{ModelID: "m", SourceID: "1-res"}); features.ErrorCode(err) != features.ECONFLICT {
		t.Errorf("source being built: %v, want ECONFLICT", err)
	}
	close(release)
	done := waitJob(t, db)
	if done.State != features.JobDone || done.Done != numTestFeatures || done.Explained != numTestFeatures-1 || done.Dead != 1 ||
		done.Scored != numTestFeatures-1 || len(done.Failed) != 0 || done.Tokens() == 0 || done.FinishedAt == nil || done.StartedBy != "k1" {
		t.Errorf("summary %+v", done)
	}
	// With the first job done, another may start (and finds all done).
	if _, err := r.StartJob(ctx, features.AutoInterpJobRequest{ModelID: "m", SourceID: "0-res", Features: "0-3", Scorers: []string{"detection"}}); err != nil {
		t.Fatal(err)
	}
	if again := waitJob(t, db); again.AlreadyDone != 4 || again.Explained != 0 || again.Total != 4 {
		t.Errorf("rerun %+v", again)
	}
}

// TestRunnerResumesAStoppedJob: a serve process that stops mid-job
// releases it and the next one resumes it at once; one killed without a
// release (kill -9) is resumed once its heartbeat is stale. Either way no
// feature is explained twice and none is skipped.
func TestRunnerResumesAStoppedJob(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	var mu sync.Mutex
	served := 0
	var stopFirst func()
	ep := &fakeEndpoint{before: func(http.ResponseWriter, int, int) bool {
		mu.Lock()
		served++
		n := served
		mu.Unlock()
		if n == 5 {
			go stopFirst() // serve shuts down with requests in flight
		}
		return false
	}}
	p := newPipeline(t, db, ep)
	r1, stop1 := startRunner(t, p, db, time.Hour)
	stopFirst = stop1
	if _, err := r1.StartJob(context.Background(), features.AutoInterpJobRequest{ModelID: "m", SourceID: "0-res"}); err != nil {
		t.Fatal(err)
	}
	// Wait until the first process has stopped (its release written).
	deadline := time.Now().Add(30 * time.Second)
	for {
		var hb *time.Time
		var state string
		if err := db.Pool.QueryRow(context.Background(), `SELECT state, heartbeat FROM autointerp_jobs`).Scan(&state, &hb); err != nil {
			t.Fatal(err)
		}
		if hb == nil {
			if state != features.JobRunning {
				t.Fatalf("stopped job is %s, want running (to resume)", state)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped job was never released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop1()
	paused, _ := db.LatestAutoInterpJob(context.Background(), "m", "0-res")
	if paused.Done >= numTestFeatures {
		t.Fatalf("the job finished before the stop: %+v", paused)
	}
	first := explanationsOf(t, db)
	asked1 := ep.explained()
	startRunner(t, p, db, time.Hour) // the next process: resumes the released job at once
	j := waitJob(t, db)
	if j.State != features.JobDone || j.Done != numTestFeatures || j.Explained+j.AlreadyDone+j.Dead != numTestFeatures || j.Dead != 1 {
		t.Errorf("resumed job %+v", j)
	}
	asked2 := ep.explained()
	for i := range first {
		if asked2[i] != asked1[i] {
			t.Errorf("feature %d, stored before the stop, was asked again", i)
		}
	}
	for i, exps := range explanationsOf(t, db) {
		if len(exps) != 1 {
			t.Errorf("feature %d has %d explanations", i, len(exps))
		}
	}
	if n := len(explanationsOf(t, db)); n != numTestFeatures-1 {
		t.Errorf("%d features explained, want %d", n, numTestFeatures-1)
	}

	// kill -9: a running job whose process never released it.
	if _, err := db.Pool.Exec(context.Background(), `DELETE FROM checkpoints`); err != nil {
		t.Fatal(err)
	}
	killed := &features.AutoInterpJob{AutoInterpJobRequest: features.AutoInterpJobRequest{ModelID: "m", SourceID: "0-res", Features: "2-4"}, Total: 3}
	if err := db.CreateAutoInterpJob(context.Background(), killed); err != nil {
		t.Fatal(err)
	}
	startRunner(t, p, db, 300*time.Millisecond)
	j = waitJob(t, db)
	if j.ID != killed.ID || j.State != features.JobDone || j.Explained != 3 {
		t.Errorf("job left by a killed process: %+v", j)
	}
}

// TestRunQueued: a queue's try of a job leaves it running (for the
// queue's retry) when the endpoint keeps failing, fails it on the last
// try, finishes it once the endpoint answers, and leaves an ended or
// unknown job alone; serve's runners never claim a queued job.
func TestRunQueued(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	var mu sync.Mutex
	broken := true
	ep := &fakeEndpoint{before: func(w http.ResponseWriter, feature, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			io.WriteString(w, `{"error":{"message":"invalid api key"}}`)
		}
		return broken
	}}
	r := &autointerp.Runner{Pipeline: newPipeline(t, db, ep), Jobs: db, Concurrency: 2}
	ctx := context.Background()
	record := func() int64 {
		t.Helper()
		j, err := r.Prepare(ctx, features.AutoInterpJobRequest{ModelID: "m", SourceID: "0-res"})
		if err != nil {
			t.Fatal(err)
		}
		j.Queued = true
		if err := db.CreateAutoInterpJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	id := record()
	n, ended, err := r.RunQueued(ctx, id, false)
	if err == nil || ended || n != 0 {
		t.Fatalf("failing try: %d, %v, %v; want an error, job not ended", n, ended, err)
	}
	if j, err := db.AutoInterpJobByID(ctx, id); err != nil || j.State != features.JobRunning || !j.Queued {
		t.Fatalf("after a failed try: %+v %v", j, err)
	}
	if claimed, err := db.ClaimAutoInterpJobs(ctx, 0); err != nil || len(claimed) != 0 {
		t.Errorf("a runner claimed the queued job: %v %v", claimed, err)
	}
	mu.Lock()
	broken = false
	mu.Unlock()
	n, ended, err = r.RunQueued(ctx, id, false)
	if err != nil || !ended || n != numTestFeatures {
		t.Fatalf("retry: %d, %v, %v", n, ended, err)
	}
	if j, _ := db.AutoInterpJobByID(ctx, id); j.State != features.JobDone || j.Explained != numTestFeatures-1 || j.Dead != 1 {
		t.Errorf("done: %+v", j)
	}
	if n, ended, err = r.RunQueued(ctx, id, false); err != nil || !ended || n != 0 {
		t.Errorf("a done job again: %d %v %v", n, ended, err)
	}
	if _, ended, err = r.RunQueued(ctx, 1<<40, false); features.ErrorCode(err) != features.ENOTFOUND || !ended {
		t.Errorf("unknown job: %v %v", ended, err)
	}

	// The last try fails the job, saying why.
	mu.Lock()
	broken = true
	mu.Unlock()
	if _, err := db.Pool.Exec(ctx, `DELETE FROM checkpoints`); err != nil {
		t.Fatal(err)
	}
	id = record()
	if _, ended, err = r.RunQueued(ctx, id, true); err == nil || !ended {
		t.Fatalf("last try: %v %v", ended, err)
	}
	if j, _ := db.AutoInterpJobByID(ctx, id); j.State != features.JobFailed || !strings.Contains(j.Error, "401") {
		t.Errorf("failed: %+v", j)
	}
}
