// Package autointerp explains and scores SAE features with a language
// model: it builds prompts from a feature's dashboard, parses the replies,
// computes the scorers' arithmetic (Delphi-style detection and fuzzing,
// balanced accuracy) and runs resumable jobs over whole sources. It talks to
// the model through LLM (implemented by internal/llm over any
// OpenAI-compatible endpoint) and to the store through the interfaces of
// internal/features.
package autointerp

import (
	"context"
	"errors"
)

// Message is one chat message.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// ChatRequest is one chat-completion call.
type ChatRequest struct {
	Model       string
	Messages    []Message
	MaxTokens   int
	Temperature float64
}

// ChatReply is the first choice of a chat completion and its token usage.
type ChatReply struct {
	Content      string
	Refusal      string // the model's refusal message, when it sent one
	FinishReason string // "stop", "length", "content_filter", ...
	PromptTokens int
	// CompletionTokens counts the reply's tokens.
	CompletionTokens int
}

// Tokens is the call's total token usage.
func (r *ChatReply) Tokens() int { return r.PromptTokens + r.CompletionTokens }

// LLM sends chat completions. Implementations retry transport failures,
// 429 and 5xx themselves (honouring Retry-After) and return errors that
// never contain the endpoint's key or secrets.
type LLM interface {
	Chat(ctx context.Context, req ChatRequest) (*ChatReply, error)
}

// Reply problems that a new attempt may fix; the job and the API retry
// them a few times and then report them as the feature's failure reason.
var (
	ErrRefusal   = errors.New("the model refused")
	ErrTruncated = errors.New("the reply was cut off (max tokens reached)")
	ErrMalformed = errors.New("the reply could not be parsed")
)

// ErrEndpoint is matched (errors.Is) by LLM errors that come from the
// endpoint itself after the client's retries: down, 5xx, 401, 429 for good.
// A job that sees MaxEndpointFailures of them in a row stops.
var ErrEndpoint = errors.New("the LLM endpoint failed")
