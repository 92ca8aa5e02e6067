package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

// maxJobFailures caps the failures a job row keeps of each kind: a job over
// a million features with a broken endpoint must not write megabytes of
// reasons every second. The counts stay exact (failed beyond the list).
const maxJobFailures = 200

const jobColumns = `j.id, src.model_id, src.id, j.features, j.scorers, j.budget_tokens, j.started_by, j.state,
	j.total, j.done, j.explained, j.already_done, j.dead, j.scored, j.not_started, j.failed, j.score_failed,
	j.budget_exhausted, j.prompt_tokens, j.completion_tokens, j.error, j.created_at, j.updated_at, j.finished_at,
	j.heartbeat IS NOT NULL AND j.heartbeat = 'infinity'`

func scanJob(r pgx.Row) (*features.AutoInterpJob, error) {
	j := &features.AutoInterpJob{}
	var failed, scoreFailed []byte
	err := r.Scan(&j.ID, &j.ModelID, &j.SourceID, &j.Features, &j.Scorers, &j.BudgetTokens, &j.StartedBy, &j.State,
		&j.Total, &j.Done, &j.Explained, &j.AlreadyDone, &j.Dead, &j.Scored, &j.NotStarted, &failed, &scoreFailed,
		&j.BudgetExhausted, &j.PromptTokens, &j.CompletionTokens, &j.Error, &j.CreatedAt, &j.UpdatedAt, &j.FinishedAt, &j.Queued)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(failed, &j.Failed); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(scoreFailed, &j.ScoreFailed); err != nil {
		return nil, err
	}
	return j, nil
}

// failuresJSON encodes at most maxJobFailures failures.
func failuresJSON(f []features.JobFailure) []byte {
	if f == nil {
		f = []features.JobFailure{}
	}
	if len(f) > maxJobFailures {
		f = f[:maxJobFailures]
	}
	b, _ := json.Marshal(f)
	return b
}

// CreateAutoInterpJob stores a running job; ECONFLICT while another job
// runs on the source (a unique index on running jobs decides, so two
// processes starting at once cannot both win). A queued job's heartbeat is
// 'infinity' for good: no serve process claims it (ClaimAutoInterpJobs),
// the queue's workers run and retry it.
func (db *DB) CreateAutoInterpJob(ctx context.Context, j *features.AutoInterpJob) error {
	if err := checkText("auto-interp job", j.Features, j.StartedBy); err != nil {
		return err
	}
	if err := checkText("auto-interp job scorers", j.Scorers...); err != nil {
		return err
	}
	sid, err := db.sourceID(ctx, j.ModelID, j.SourceID)
	if err != nil {
		return err
	}
	scorers := j.Scorers
	if scorers == nil {
		scorers = []string{}
	}
	err = db.Pool.QueryRow(ctx, `INSERT INTO autointerp_jobs (sid, features, scorers, budget_tokens, started_by, state, total, heartbeat)
		VALUES ($1,$2,$3,$4,$5,'running',$6, CASE WHEN $7 THEN 'infinity'::timestamptz ELSE now() END) RETURNING id, created_at, updated_at`,
		sid, j.Features, scorers, j.BudgetTokens, j.StartedBy, j.Total, j.Queued).Scan(&j.ID, &j.CreatedAt, &j.UpdatedAt)
	if err != nil {
		err = dbErr(err, "start auto-interp job")
		if features.ErrorCode(err) == features.ECONFLICT {
			return features.Errorf(features.ECONFLICT, "an auto-interp job is already running on %s/%s: wait for it to finish", j.ModelID, j.SourceID)
		}
		return err
	}
	j.State = features.JobRunning
	return nil
}

// SaveAutoInterpJob stores a job's state and progress; alive refreshes its
// heartbeat, !alive releases it for the next process. A queued job's
// heartbeat stays 'infinity'.
func (db *DB) SaveAutoInterpJob(ctx context.Context, j *features.AutoInterpJob, alive bool) error {
	switch j.State {
	case features.JobRunning, features.JobDone, features.JobFailed:
	default:
		return features.Errorf(features.EINVALID, "auto-interp job %d: unknown state %q", j.ID, j.State)
	}
	for _, f := range append(append([]features.JobFailure{}, j.Failed...), j.ScoreFailed...) {
		if err := checkText("auto-interp job failure", f.Reason); err != nil {
			return err
		}
	}
	if err := checkText("auto-interp job error", j.Error); err != nil {
		return err
	}
	var finished *time.Time
	if j.State != features.JobRunning {
		finished = j.FinishedAt
		if finished == nil {
			t := db.now()
			finished = &t
		}
	}
	err := db.Pool.QueryRow(ctx, `UPDATE autointerp_jobs SET state = $2, total = $3, done = $4, explained = $5, already_done = $6,
		  dead = $7, scored = $8, not_started = $9, failed = $10, score_failed = $11, budget_exhausted = $12,
		  prompt_tokens = $13, completion_tokens = $14, error = $15, finished_at = $16, updated_at = now(),
		  heartbeat = CASE WHEN heartbeat = 'infinity' THEN heartbeat WHEN $17 THEN now() END
		WHERE id = $1 RETURNING updated_at`,
		j.ID, j.State, j.Total, j.Done, j.Explained, j.AlreadyDone, j.Dead, j.Scored, j.NotStarted,
		failuresJSON(j.Failed), failuresJSON(j.ScoreFailed), j.BudgetExhausted, j.PromptTokens, j.CompletionTokens,
		j.Error, finished, alive).Scan(&j.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return features.Errorf(features.ENOTFOUND, "auto-interp job %d not found", j.ID)
	}
	if err != nil {
		return dbErr(err, "save auto-interp job %d", j.ID)
	}
	j.FinishedAt = finished
	return nil
}

// AutoInterpJobByID returns a job; ENOTFOUND when there is none.
func (db *DB) AutoInterpJobByID(ctx context.Context, id int64) (*features.AutoInterpJob, error) {
	j, err := scanJob(db.Pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM autointerp_jobs j JOIN sources src ON src.sid = j.sid
		WHERE j.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, features.Errorf(features.ENOTFOUND, "auto-interp job %d not found", id)
	}
	return j, dbErr(err, "read auto-interp job %d", id)
}

// LatestAutoInterpJob returns the source's most recent job, nil when none.
func (db *DB) LatestAutoInterpJob(ctx context.Context, modelID, sourceID string) (*features.AutoInterpJob, error) {
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if err != nil {
		return nil, err
	}
	j, err := scanJob(db.Pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM autointerp_jobs j JOIN sources src ON src.sid = j.sid
		WHERE j.sid = $1 ORDER BY j.id DESC LIMIT 1`, sid))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return j, dbErr(err, "read the auto-interp job of %s/%s", modelID, sourceID)
}

// ClaimAutoInterpJobs claims the running jobs no process runs: released
// ones and those whose heartbeat is older than staleAfter (never a queued
// one, whose heartbeat is 'infinity'). The update
// re-checks the heartbeat under the row lock, so of two processes
// claiming at once only one gets each job.
func (db *DB) ClaimAutoInterpJobs(ctx context.Context, staleAfter time.Duration) ([]*features.AutoInterpJob, error) {
	rows, err := db.Pool.Query(ctx, `WITH claimed AS (
		  UPDATE autointerp_jobs SET heartbeat = now()
		  WHERE state = 'running' AND (heartbeat IS NULL OR heartbeat < now() - make_interval(secs => $1))
		  RETURNING *)
		SELECT `+jobColumns+` FROM claimed j JOIN sources src ON src.sid = j.sid ORDER BY j.id`, staleAfter.Seconds())
	if err != nil {
		return nil, dbErr(err, "claim auto-interp jobs")
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*features.AutoInterpJob, error) { return scanJob(r) })
	return jobs, dbErr(err, "claim auto-interp jobs")
}
