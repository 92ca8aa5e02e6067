package features

import (
	"context"
	"time"
)

// ExplanationRun records how an auto-interp explanation was made: the job,
// the prompt version and the tokens its calls used.
type ExplanationRun struct {
	ExplanationID    string
	Job              string
	PromptVersion    string
	PromptTokens     int
	CompletionTokens int
}

// AutoInterpWriter stores what auto-interp produces.
type AutoInterpWriter interface {
	// WriteAutoInterp upserts explanations (replacing their scores), their
	// runs and cp in one transaction (a job's unit is all or nothing).
	WriteAutoInterp(ctx context.Context, exps []*Explanation, runs []*ExplanationRun, cp *Checkpoint) error
	// ExplanationByID returns ENOTFOUND when there is no such explanation.
	ExplanationByID(ctx context.Context, id string) (*Explanation, error)
	// AddExplanationScore appends a score to an existing explanation and
	// fills in its ID and CreatedAt.
	AddExplanationScore(ctx context.Context, sc *ExplanationScore) error
}

// GenerateRequest asks for a new auto-interp explanation of one feature
// (Neuronpedia's POST /api/explanation/generate).
type GenerateRequest struct {
	Key              FeatureKey
	ExplanationType  string // "" for the default method
	ExplanationModel string // "" for the configured model
	AuthorID         string
}

// ScoreRequest asks for a score of a stored explanation (Neuronpedia's
// POST /api/explanation/score).
type ScoreRequest struct {
	ExplanationID string
	ScorerType    string // eleuther_recall (detection) or eleuther_fuzz (fuzzing)
	ScorerModel   string // "" for the configured model
	InitiatedBy   string
}

// AutoInterpService generates and scores explanations with an LLM. Errors
// are EINVALID/ENOTFOUND/ECONFLICT for bad requests and EUNAVAILABLE when
// the endpoint fails; they never contain the endpoint's secrets.
type AutoInterpService interface {
	Generate(ctx context.Context, req GenerateRequest) (*Explanation, error)
	Score(ctx context.Context, req ScoreRequest) (*ExplanationScore, error)
}

// States of an auto-interp job.
const (
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// JobFailure is a feature a job could not explain or score, with the reason.
type JobFailure struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// AutoInterpJobRequest asks for an auto-interp job over one source.
type AutoInterpJobRequest struct {
	ModelID  string
	SourceID string
	// Features is the indexes to explain ("0-999", "5,7,10-12"); "" means all.
	Features string
	// Scorers are stored score type names (eleuther_recall, ...).
	Scorers []string
	// BudgetTokens caps the job's prompt + completion tokens; 0: no cap.
	BudgetTokens int64
	// StartedBy is the id of the key that started it.
	StartedBy string
}

// AutoInterpJob is an auto-interp job's request, state, progress and, once
// it ends, summary. Counts add up over the runs of a resumed job.
type AutoInterpJob struct {
	ID int64
	AutoInterpJobRequest
	State string // JobRunning, JobDone or JobFailed
	// Done of Total features are finished (explained, dead, failed or found
	// already done by an earlier run).
	Total, Done      int
	Explained        int
	AlreadyDone      int
	Dead             int
	Scored           int
	NotStarted       int
	Failed           []JobFailure
	ScoreFailed      []JobFailure
	BudgetExhausted  bool
	PromptTokens     int64
	CompletionTokens int64
	// Queued jobs are run by a job queue's workers (saex worker), which
	// retry them; serve's in-process runners never claim them.
	Queued bool
	// Error says why a failed job stopped; it never holds endpoint secrets.
	Error      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

// Tokens is the job's prompt + completion tokens so far.
func (j *AutoInterpJob) Tokens() int64 { return j.PromptTokens + j.CompletionTokens }

// AutoInterpJobs starts auto-interp jobs and reports their progress. The
// serve process runs them itself (autointerp.Runner); a job queue can take
// its place behind the same interface.
type AutoInterpJobs interface {
	// StartJob checks and records the job and starts it in the background:
	// EINVALID for a bad range or scorer, ENOTFOUND for a missing source,
	// ECONFLICT while another job runs on the source.
	StartJob(ctx context.Context, req AutoInterpJobRequest) (*AutoInterpJob, error)
	// LatestJob returns the source's most recent job, nil when it has none.
	LatestJob(ctx context.Context, modelID, sourceID string) (*AutoInterpJob, error)
	// Scorers lists the score types this server can run, in order.
	Scorers() []string
}

// AutoInterpJobStore keeps auto-interp jobs.
type AutoInterpJobStore interface {
	// CreateAutoInterpJob stores a running job (queued when j.Queued) and
	// fills its ID and times; ECONFLICT while another job runs on the source.
	CreateAutoInterpJob(ctx context.Context, j *AutoInterpJob) error
	// SaveAutoInterpJob stores the job's state and progress. alive
	// refreshes its heartbeat (the process runs it); !alive releases it so
	// that the next process resumes it at once.
	SaveAutoInterpJob(ctx context.Context, j *AutoInterpJob, alive bool) error
	// AutoInterpJobByID returns ENOTFOUND when there is no such job.
	AutoInterpJobByID(ctx context.Context, id int64) (*AutoInterpJob, error)
	// LatestAutoInterpJob returns the source's most recent job, nil when none.
	LatestAutoInterpJob(ctx context.Context, modelID, sourceID string) (*AutoInterpJob, error)
	// ClaimAutoInterpJobs claims the running jobs that no process runs (a
	// released heartbeat or one older than staleAfter) for the caller;
	// never a queued one.
	ClaimAutoInterpJobs(ctx context.Context, staleAfter time.Duration) ([]*AutoInterpJob, error)
}
