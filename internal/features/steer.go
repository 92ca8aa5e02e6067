package features

import "context"

// Steering completion types, by Neuronpedia's names.
const (
	SteerSteered = "STEERED"
	SteerDefault = "DEFAULT"
)

// SteerFeature is an SAE feature to steer with: strength ×
// StrengthMultiplier × the source's W_dec[Index] at the SAE's hook.
type SteerFeature struct {
	SourceID string
	Index    int
	Strength float64
}

// SteerVector is a custom vector steered at a TransformerLens hook.
type SteerVector struct {
	Hook     string
	Vector   []float32
	Strength float64
}

// SteerRequest is one steering run: the prompt completed without steering
// (DEFAULT) and with it (STEERED), as Types asks.
type SteerRequest struct {
	ModelID  string
	Prompt   string
	Features []SteerFeature
	Vectors  []SteerVector
	// Types lists the completions to make, SteerSteered and/or SteerDefault.
	Types              []string
	NTokens            int
	Temperature        float64
	FreqPenalty        float64
	Seed               int64
	StrengthMultiplier float64
	// Method is SIMPLE_ADDITIVE (default) or ORTHOGONAL_DECOMP.
	Method            string
	NormalizeSteering bool
	// SteerSpecialTokens: steer the rows of special tokens (BOS, EOS, ...)
	// too.
	SteerSpecialTokens bool
}

// SteerProgress receives a completion's text so far as it grows.
type SteerProgress func(typ, textSoFar string)

// Steerer generates steered and default completions (internal/inference
// implements it). Errors: EINVALID naming the request field for a feature
// the model lacks, a bad strength, a prompt longer than the context;
// EUNAVAILABLE when the compute pool stays busy past ctx's deadline; ctx's
// error when the client goes away (generation stops then).
type Steerer interface {
	Steer(ctx context.Context, req SteerRequest, progress SteerProgress) (map[string]string, error)
}

// SteerChatMessage is one chat turn (role user, assistant, system, model
// or developer).
type SteerChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// SteerChatRequest is a steering run over chats: DEFAULT continues
// DefaultMessages without steering, STEERED continues SteeredMessages with
// it, each rendered with the model's chat template (its Prompt is unused).
type SteerChatRequest struct {
	SteerRequest
	DefaultMessages, SteeredMessages []SteerChatMessage
}

// SteerChatCompletion is one chat continuation: Raw is the rendered
// prompt plus the generated text (special tokens included); Reply is the
// generated text without special tokens, the assistant's new turn.
type SteerChatCompletion struct {
	Raw   string
	Reply string
}

// ChatSteerer continues chats with and without steering (internal/inference
// implements it). Errors as Steerer's, and EINVALID naming "modelId" for a
// model without a chat template.
type ChatSteerer interface {
	SteerChat(ctx context.Context, req SteerChatRequest, progress SteerProgress) (map[string]SteerChatCompletion, error)
}
