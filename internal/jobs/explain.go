package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"saex/internal/features"
	"saex/internal/features/autointerp"
)

// ExplainArgs are an auto-interp job's arguments: the autointerp_jobs row,
// which holds the request and the progress. The worker explains with its
// own LLM settings; the features it finishes are checkpointed one by one,
// so a rerun (a retry, or a rescue after a worker was killed) resumes
// where the last try stopped and explains no feature twice.
type ExplainArgs struct {
	Job int64 `json:"job"`
}

// Kind names the job type.
func (ExplainArgs) Kind() string { return "autointerp_job" }

// InsertOpts puts auto-interp jobs on the explain queue, once per row.
func (ExplainArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueExplain, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ExplainStore is what enqueueing auto-interp jobs needs of the store.
type ExplainStore interface {
	CreateAutoInterpJob(ctx context.Context, j *features.AutoInterpJob) error
	SaveAutoInterpJob(ctx context.Context, j *features.AutoInterpJob, alive bool) error
	LatestAutoInterpJob(ctx context.Context, modelID, sourceID string) (*features.AutoInterpJob, error)
}

// ExplainQueue is features.AutoInterpJobs over River: StartJob records the
// job (queued) and enqueues it on the explain queue for `saex worker
// --queues explain`. Runner checks the requests (its pipeline names the
// scorers this server offers); it runs nothing here.
type ExplainQueue struct {
	Pool   *pgxpool.Pool
	Jobs   ExplainStore
	Runner *autointerp.Runner
}

var _ features.AutoInterpJobs = (*ExplainQueue)(nil)

// StartJob checks, records and enqueues a job.
func (q *ExplainQueue) StartJob(ctx context.Context, req features.AutoInterpJobRequest) (*features.AutoInterpJob, error) {
	j, err := q.Runner.Prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := EnqueueExplain(ctx, q.Pool, q.Jobs, j); err != nil {
		return nil, err
	}
	return j, nil
}

// LatestJob returns the source's most recent job, nil when none.
func (q *ExplainQueue) LatestJob(ctx context.Context, modelID, sourceID string) (*features.AutoInterpJob, error) {
	return q.Jobs.LatestAutoInterpJob(ctx, modelID, sourceID)
}

// Scorers lists the score types this server offers.
func (q *ExplainQueue) Scorers() []string { return q.Runner.Scorers() }

// EnqueueExplain records j as a queued job and inserts its River job. When
// the insert fails the row is marked failed (saying why), so that the
// source is not left with a running job nobody runs.
func EnqueueExplain(ctx context.Context, pool *pgxpool.Pool, store ExplainStore, j *features.AutoInterpJob) error {
	if err := failOrphans(ctx, pool); err != nil {
		return err
	}
	j.Queued = true
	if err := store.CreateAutoInterpJob(ctx, j); err != nil {
		return err
	}
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err == nil {
		_, err = inserter.Insert(ctx, ExplainArgs{Job: j.ID}, nil)
	}
	if err != nil {
		j.State, j.Error = features.JobFailed, "could not enqueue the job"
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if serr := store.SaveAutoInterpJob(sctx, j, false); serr != nil {
			err = errors.Join(err, serr)
		}
		return features.Wrap(features.EUNAVAILABLE, err, "enqueue auto-interp job %d", j.ID)
	}
	return nil
}

type explainWorker struct {
	river.WorkerDefaults[ExplainArgs]
	runner  *autointerp.Runner
	timeout time.Duration
}

// Timeout bounds one try of an auto-interp job: a try that made progress
// when it runs out is snoozed and goes on (no attempt is spent), so the
// timeout is how long a killed worker's job waits for River's rescuer,
// not a cap on a job's length.
func (ew *explainWorker) Timeout(*river.Job[ExplainArgs]) time.Duration { return ew.timeout }

// Work runs the auto-interp job until it ends, the try times out or the
// worker stops.
func (ew *explainWorker) Work(ctx context.Context, job *river.Job[ExplainArgs]) error {
	n, ended, err := ew.runner.RunQueued(ctx, job.Args.Job, job.Attempt >= job.MaxAttempts)
	switch {
	case err == nil:
		return nil
	case ended:
		return river.JobCancel(err)
	case ctx.Err() != nil && n > 0:
		// A slice of a long job, or a worker stopping: go on from the
		// checkpoints at once (here or on another worker) without
		// spending an attempt.
		return river.JobSnooze(0)
	default:
		return fmt.Errorf("auto-interp job %d: %w", job.Args.Job, err)
	}
}

// failOrphans marks failed the queued jobs still running whose River job
// is gone or ended (River gave up: a worker was killed on the last attempt,
// or the job was cancelled or deleted), so that they do not hold their
// source (one running job per source) for good. A row younger than a
// minute may be between its insert and its River job's.
func failOrphans(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `UPDATE autointerp_jobs a SET state = 'failed', finished_at = now(), updated_at = now(),
		  error = 'its queue job ended without finishing it (River gave up on it); start it again to resume'
		WHERE a.state = 'running' AND a.heartbeat = 'infinity' AND a.created_at < now() - interval '1 minute'
		  AND NOT EXISTS (SELECT 1 FROM river_job r WHERE r.kind = $1 AND (r.args->>'job')::bigint = a.id
		    AND r.state NOT IN ('completed', 'discarded', 'cancelled'))`, ExplainArgs{}.Kind())
	if err != nil {
		return features.Wrap(features.EUNAVAILABLE, err, "enqueue auto-interp job: check for orphaned jobs")
	}
	return nil
}
