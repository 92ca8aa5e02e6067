package features

import "context"

// SparseRow is one token's SAE output: the active features, sorted by value
// descending (ties: lower index first).
type SparseRow struct {
	Indices []int32
	Values  []float32
}

// SourceActivations is one SAE's output over a prompt, one row per token.
type SourceActivations struct {
	SourceID string
	Rows     []SparseRow
}

// PromptResult is a prompt run through a model and some of its SAEs.
type PromptResult struct {
	ModelID  string
	TokenIDs []int
	// Tokens are display strings, one per token id (BOS included when prepended).
	Tokens []string
	// HasBOS reports whether position 0 is a prepended BOS token.
	HasBOS  bool
	Sources []SourceActivations
}

// Inference runs text through a model and its SAEs in-process.
type Inference interface {
	// CanRun reports whether prompts can be run for this model and source
	// (sourceID "" asks about the model alone).
	CanRun(modelID, sourceID string) bool
	// MaxTokens is the longest token sequence (BOS included) the model accepts.
	MaxTokens(modelID string) int
	// RunPrompt tokenizes text (prepending BOS when the SAEs ask for it) and
	// encodes it with the given sources (all runnable sources of the model when
	// empty). Errors: ENOTFOUND for an unknown model or source, EUNPROCESSABLE
	// for a prompt longer than MaxTokens, EUNAVAILABLE when the compute pool is
	// saturated past ctx's deadline.
	RunPrompt(ctx context.Context, modelID string, sourceIDs []string, text string) (*PromptResult, error)
}

// Scheduler shares the machine between running the model and serving page
// and API reads (internal/inference implements it; its engine runs every
// prompt under it).
type Scheduler interface {
	// AdmitRead waits for a page or API read's turn; EUNAVAILABLE when ctx
	// ends first. The caller calls release when the read is done.
	AdmitRead(ctx context.Context) (release func(), err error)
	// ComputeSlots reports how many prompts hold a compute slot and how
	// many may hold one at once.
	ComputeSlots() (busy, size int)
}
