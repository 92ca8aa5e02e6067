package features

import "context"

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
