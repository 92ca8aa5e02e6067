package autointerp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"saex/internal/features"
)

// Runner runs auto-interp jobs inside the serve process (the source page
// starts them): features.AutoInterpJobs over a Pipeline, with RunJob's
// checkpoints for resuming and a row per job in the store for progress.
// A job killed with its process is resumed by the next one that starts:
// each running job's row carries a heartbeat, and a runner claims the
// running jobs whose heartbeat is released or stale.
type Runner struct {
	Pipeline *Pipeline
	Jobs     features.AutoInterpJobStore
	Logger   *slog.Logger
	// Concurrency is how many features a job has in flight (default 4).
	Concurrency int
	// SaveEvery is how often a running job writes its progress and
	// heartbeat (default 1 s).
	SaveEvery time.Duration
	// StaleAfter is how old a running job's heartbeat must be before
	// another process resumes it (default 30 s).
	StaleAfter time.Duration

	mu      sync.Mutex
	ctx     context.Context
	wg      *sync.WaitGroup
	running map[int64]bool
}

var _ features.AutoInterpJobs = (*Runner)(nil)

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Runner) staleAfter() time.Duration {
	if r.StaleAfter <= 0 {
		return 30 * time.Second
	}
	return r.StaleAfter
}

func (r *Runner) saveEvery() time.Duration {
	if r.SaveEvery <= 0 {
		return time.Second
	}
	return r.SaveEvery
}

// Start lets the runner run jobs until ctx ends, each counted in wg: it
// resumes the running jobs no process runs, at once and then every
// StaleAfter/2. When ctx ends, jobs stop after the features in flight and
// are released, so that the next process resumes them at once.
func (r *Runner) Start(ctx context.Context, wg *sync.WaitGroup) {
	r.mu.Lock()
	r.ctx, r.wg = ctx, wg
	if r.running == nil {
		r.running = map[int64]bool{}
	}
	r.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.staleAfter() / 2)
		defer t.Stop()
		for {
			r.resume(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// resume claims and runs the jobs left by a process that stopped.
func (r *Runner) resume(ctx context.Context) {
	jobs, err := r.Jobs.ClaimAutoInterpJobs(ctx, r.staleAfter())
	if err != nil {
		if ctx.Err() == nil {
			r.logger().Warn("auto-interp: cannot look for jobs to resume", "err", err)
		}
		return
	}
	for _, j := range jobs {
		r.logger().Info("auto-interp job resumed", "job", j.ID, "model", j.ModelID, "source", j.SourceID, "done", j.Done, "total", j.Total)
		r.launch(j)
	}
}

// Scorers lists the score types the pipeline can run.
func (r *Runner) Scorers() []string {
	var out []string
	if r.Pipeline.Scorer != nil {
		out = append(out, ScoreDetection, ScoreFuzzing)
	}
	if r.Pipeline.Embedding != nil {
		out = append(out, ScoreEmbedding)
	}
	return out
}

// LatestJob returns the source's most recent job, nil when none.
func (r *Runner) LatestJob(ctx context.Context, modelID, sourceID string) (*features.AutoInterpJob, error) {
	return r.Jobs.LatestAutoInterpJob(ctx, modelID, sourceID)
}

// jobIndexes reads a job's feature range against the source's width; nil
// means every feature.
func jobIndexes(spec string, numFeatures int) ([]int, error) {
	if spec == "" {
		return nil, nil
	}
	idx, err := ParseRange(spec)
	if err != nil {
		return nil, features.Errorf(features.EINVALID, "features: %s", err.Error())
	}
	for _, i := range idx {
		if i >= numFeatures {
			return nil, features.Errorf(features.EINVALID, "features: %d is past the source's last feature, %d", i, numFeatures-1)
		}
	}
	return idx, nil
}

// StartJob checks the request, records the job and runs it in the
// background.
func (r *Runner) StartJob(ctx context.Context, req features.AutoInterpJobRequest) (*features.AutoInterpJob, error) {
	r.mu.Lock()
	started := r.ctx != nil
	r.mu.Unlock()
	if !started {
		return nil, features.Errorf(features.EUNAVAILABLE, "the auto-interp job runner is not started")
	}
	j, err := r.Prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := r.Jobs.CreateAutoInterpJob(ctx, j); err != nil {
		return nil, err
	}
	r.logger().Info("auto-interp job started", "job", j.ID, "model", j.ModelID, "source", j.SourceID, "features", j.Total,
		"scorers", j.Scorers, "budget_tokens", j.BudgetTokens, "by", j.StartedBy)
	out := *j
	r.launch(j)
	return &out, nil
}

// Prepare checks a request against the pipeline and the source and
// returns the job to record (not stored yet): EINVALID for a bad range,
// budget or scorer, EUNAVAILABLE for a scorer not configured, ENOTFOUND for
// a missing source, ECONFLICT while the source's dashboards are building.
func (r *Runner) Prepare(ctx context.Context, req features.AutoInterpJobRequest) (*features.AutoInterpJob, error) {
	if req.BudgetTokens < 0 {
		return nil, features.Errorf(features.EINVALID, "budget: %d tokens; want 0 (no cap) or more", req.BudgetTokens)
	}
	scorers := make([]string, 0, len(req.Scorers))
	for _, s := range req.Scorers {
		name := ScorerName(s)
		if name == "" {
			return nil, features.Errorf(features.EINVALID, "scorers: unknown scorer %.40q (detection, fuzzing or embedding)", s)
		}
		if err := r.Pipeline.canScore(name); err != nil {
			return nil, err
		}
		scorers = append(scorers, name)
	}
	req.Scorers = scorers
	src, err := r.Pipeline.Store.GetSource(ctx, req.ModelID, req.SourceID)
	if err != nil {
		return nil, err
	}
	if src.Build != nil && src.Build.State != features.BuildDone {
		// Half-built dashboards would be explained from what exists so far.
		return nil, features.Errorf(features.ECONFLICT, "the dashboards of %s/%s are not built yet (%s): start the job once they are", src.ModelID, src.ID, src.Build.State)
	}
	idx, err := jobIndexes(req.Features, src.NumFeatures)
	if err != nil {
		return nil, err
	}
	j := &features.AutoInterpJob{AutoInterpJobRequest: req, Total: src.NumFeatures}
	if idx != nil {
		j.Total = len(idx)
	}
	return j, nil
}

// RunQueued runs the recorded job id once for a job queue, which retries
// it: an error leaves the job running (the next try resumes from the
// checkpoints) unless lastTry, or unless it is one no retry can mend (a
// missing source, a bad range, a scorer not configured here: EINVALID,
// ENOTFOUND or EUNAVAILABLE before any feature), which fails the job.
// A job that is not running (done, failed, or unknown: ENOTFOUND) is left
// alone. It returns how many features this try explained or found dead,
// and whether the job has ended (done or failed: no retry is wanted).
func (r *Runner) RunQueued(ctx context.Context, id int64, lastTry bool) (n int, ended bool, err error) {
	j, err := r.Jobs.AutoInterpJobByID(ctx, id)
	if err != nil {
		return 0, features.ErrorCode(err) == features.ENOTFOUND, err
	}
	if j.State != features.JobRunning {
		r.logger().Info("auto-interp job already ended", "job", j.ID, "state", j.State)
		return 0, true, nil
	}
	n, state, err := r.execute(ctx, j, lastTry)
	return n, state != features.JobRunning, err
}

// launch runs j in the background unless this process already runs it.
func (r *Runner) launch(j *features.AutoInterpJob) {
	r.mu.Lock()
	if r.running[j.ID] {
		r.mu.Unlock()
		return
	}
	r.running[j.ID] = true
	ctx, wg := r.ctx, r.wg
	r.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.running, j.ID)
			r.mu.Unlock()
		}()
		r.run(ctx, j)
	}()
}

// progress is a job's state while it runs: the counts of earlier runs
// (base) plus this run's summary.
type progress struct {
	mu   sync.Mutex
	base features.AutoInterpJob
	cur  features.AutoInterpJob
}

func failures(fs []Failure) []features.JobFailure {
	out := make([]features.JobFailure, len(fs))
	for i, f := range fs {
		out[i] = features.JobFailure{Index: f.Index, Reason: f.Reason}
	}
	return out
}

// apply sets the job's counts from this run's summary after done features.
// Features failed in an earlier run are retried, so only this run's
// failures count; features an earlier run finished show up in this run's
// AlreadyDone and are taken out of it.
func (p *progress) apply(s *Summary, done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, c := &p.base, &p.cur
	c.Total, c.Done = s.Total, done
	c.Explained, c.Dead, c.Scored = b.Explained+s.Explained, b.Dead+s.Dead, b.Scored+s.Scored
	c.AlreadyDone = max(b.AlreadyDone, s.AlreadyDone-b.Explained-b.Dead)
	c.NotStarted, c.BudgetExhausted = s.NotStarted, s.BudgetExhausted
	c.Failed, c.ScoreFailed = failures(s.Failed), failures(s.ScoreFailed)
	c.PromptTokens, c.CompletionTokens = b.PromptTokens+s.PromptTokens, b.CompletionTokens+s.CompletionTokens
}

func (p *progress) snapshot() features.AutoInterpJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// run runs one job to its end (or until ctx ends) and records the outcome.
func (r *Runner) run(ctx context.Context, j *features.AutoInterpJob) {
	_, _, _ = r.execute(ctx, j, true)
}

// execute runs j until it ends or ctx does and records the outcome: a job
// that ends with an error is marked failed when failOnError (or when the
// error comes before any feature: no retry mends it), else left running
// for a retry. It returns how many features this run explained or found
// dead, the state it recorded, and the run's error (ctx's when it ended
// first).
func (r *Runner) execute(ctx context.Context, j *features.AutoInterpJob, failOnError bool) (int, string, error) {
	log := r.logger().With("job", j.ID, "model", j.ModelID, "source", j.SourceID)
	p := &progress{base: *j, cur: *j}
	finish := func(state, why string, alive bool) {
		// The last write still gets a moment after ctx ends (the release
		// at shutdown).
		saveCtx, cancelSave := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancelSave()
		c := p.snapshot()
		c.State, c.Error = state, why
		if err := r.Jobs.SaveAutoInterpJob(saveCtx, &c, alive); err != nil {
			log.Error("auto-interp: cannot record the job's end", "err", err)
		}
	}
	o := JobOptions{ModelID: j.ModelID, SourceID: j.SourceID, Scorers: j.Scorers, Concurrency: r.Concurrency}
	src, err := r.Pipeline.Store.GetSource(ctx, j.ModelID, j.SourceID)
	if err == nil {
		o.Indexes, err = jobIndexes(j.Features, src.NumFeatures)
	}
	if err != nil {
		if ctx.Err() != nil {
			finish(features.JobRunning, "", false)
			return 0, features.JobRunning, ctx.Err()
		}
		finish(features.JobFailed, features.ErrorMessage(err), false)
		return 0, features.JobFailed, err
	}
	if j.BudgetTokens > 0 {
		o.BudgetTokens = j.BudgetTokens - j.Tokens()
		if o.BudgetTokens <= 0 {
			p.cur.BudgetExhausted, p.cur.NotStarted = true, j.Total-j.Done
			finish(features.JobDone, "", false)
			return 0, features.JobDone, nil
		}
	}
	o.Snapshot = func(s Summary, done int) { p.apply(&s, done) }

	// Progress and heartbeat, written apart from the job's goroutines.
	stop := make(chan struct{})
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		t := time.NewTicker(r.saveEvery())
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				c := p.snapshot()
				c.State = features.JobRunning
				if err := r.Jobs.SaveAutoInterpJob(ctx, &c, true); err != nil && ctx.Err() == nil {
					log.Warn("auto-interp: cannot record progress", "err", err)
				}
			}
		}
	}()
	start := time.Now()
	sum, err := r.Pipeline.RunJob(ctx, o)
	close(stop)
	<-saved
	n := 0
	if sum != nil {
		p.apply(sum, sum.AlreadyDone+sum.Explained+sum.Dead+len(sum.Failed))
		n = sum.Explained + sum.Dead
	}
	c := p.snapshot()
	attrs := []any{"explained", c.Explained, "already_done", c.AlreadyDone, "dead", c.Dead, "scored", c.Scored,
		"failed", len(c.Failed), "not_started", c.NotStarted, "budget_exhausted", c.BudgetExhausted, "tokens", c.Tokens(),
		"took", time.Since(start).Round(time.Millisecond)}
	switch {
	case ctx.Err() != nil:
		log.Info("auto-interp job paused: it resumes when saex (or a worker) starts it again", attrs...)
		finish(features.JobRunning, "", false)
		return n, features.JobRunning, ctx.Err()
	case err != nil && (failOnError || sum == nil && !isFatal(err)):
		msg := features.ErrorMessage(err)
		log.Warn("auto-interp job failed", append(attrs, "err", msg)...)
		finish(features.JobFailed, fmt.Sprintf("stopped after %d of %d features: %s", c.Done, c.Total, msg), false)
		return n, features.JobFailed, err
	case err != nil:
		log.Warn("auto-interp job stopped; it will be retried", append(attrs, "err", features.ErrorMessage(err))...)
		finish(features.JobRunning, "", false)
		return n, features.JobRunning, err
	default:
		log.Info("auto-interp job done", attrs...)
		finish(features.JobDone, "", false)
		return n, features.JobDone, nil
	}
}
