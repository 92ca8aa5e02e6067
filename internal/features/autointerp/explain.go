package autointerp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"saex/internal/features"
)

// The explainer's method name (Explanation.TypeName) and prompt version.
// A change to the prompt's words bumps PromptVersion, so stored
// explanations say which prompt made them and jobs redo what is stale.
const (
	ExplainType   = "saex_acts-logits"
	PromptVersion = "saex-explain-v1"
)

const explainSystem = `You are a meticulous AI researcher studying one feature (a latent direction) of a sparse autoencoder trained on a language model's activations. You will see text examples on which the feature is active. In each example the tokens where it is active are marked between << and >>, and the list after the example gives those tokens with the activation scaled 0 to 10 (10 is the feature's strongest activation). You may also see the output tokens the feature promotes.

Find the pattern the examples share: the tokens marked, and the context that leads to them. Be concise: one phrase or sentence, no longer than 20 words, without quoting whole examples and without mentioning "the feature", "the marked tokens" or the << >> markers.

Answer on the last line exactly as:
[EXPLANATION]: <your explanation>`

// FormatHighlighted writes a context on one line with the tokens whose
// value is above threshold marked <<like this>> (consecutive ones merged).
func FormatHighlighted(c Context, threshold float32) string {
	var b strings.Builder
	open := false
	for i, t := range c.Tokens {
		on := c.Values[i] > threshold
		if on && !open {
			b.WriteString("<<")
		} else if !on && open {
			b.WriteString(">>")
		}
		open = on
		b.WriteString(features.TokenLabel(t))
	}
	if open {
		b.WriteString(">>")
	}
	return b.String()
}

// ExplainPrompt builds the explainer's messages for a feature: its held-in
// activating contexts with the active tokens marked and listed with their
// activation scaled to 0..10 of the feature's maximum, and the tokens it
// promotes (top logits) when the dashboard has them.
func ExplainPrompt(ft *features.Feature, explain []Context) []Message {
	maxAct := ft.MaxActApprox
	for _, c := range explain {
		maxAct = math.Max(maxAct, float64(c.Max()))
	}
	var b strings.Builder
	for i, c := range explain {
		fmt.Fprintf(&b, "Example %d: %s\n", i+1, FormatHighlighted(c, 0))
		var acts []string
		for j, t := range c.Tokens {
			if c.Values[j] > 0 {
				scaled := int(math.Round(10 * float64(c.Values[j]) / maxAct))
				acts = append(acts, fmt.Sprintf("(%q, %d)", features.TokenLabel(t), scaled))
			}
		}
		fmt.Fprintf(&b, "Active: %s\n\n", strings.Join(acts, ", "))
	}
	if n := min(10, len(ft.PosStr)); n > 0 {
		toks := make([]string, n)
		for i, t := range ft.PosStr[:n] {
			toks[i] = fmt.Sprintf("%q", features.TokenLabel(t))
		}
		fmt.Fprintf(&b, "Tokens the feature promotes most: %s\n\n", strings.Join(toks, ", "))
	}
	b.WriteString("What does this feature detect?")
	return []Message{{Role: "system", Content: explainSystem}, {Role: "user", Content: b.String()}}
}

// upperASCII upper-cases ASCII letters only, so byte offsets into the
// result are offsets into s (strings.ToUpper turns an invalid byte into a
// three-byte U+FFFD).
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// ParseExplanation extracts the explanation from a reply: the text after
// the last "[EXPLANATION]:" (or, from models that ignore the format, a
// one-line answer). Refusals, cut-off replies and replies without an
// answer are reported as ErrRefusal, ErrTruncated and ErrMalformed.
func ParseExplanation(r *ChatReply) (string, error) {
	if strings.TrimSpace(r.Refusal) != "" || r.FinishReason == "content_filter" {
		return "", ErrRefusal
	}
	text := strings.TrimSpace(r.Content)
	const tag = "[EXPLANATION]:"
	if i := strings.LastIndex(upperASCII(text), tag); i >= 0 {
		text = strings.TrimSpace(text[i+len(tag):])
		if j := strings.IndexByte(text, '\n'); j >= 0 {
			text = strings.TrimSpace(text[:j])
		}
	} else if r.FinishReason == "length" {
		return "", ErrTruncated
	} else if strings.Contains(text, "\n") || text == "" {
		if looksLikeRefusal(text) {
			return "", ErrRefusal
		}
		return "", fmt.Errorf("%w: no [EXPLANATION]: line", ErrMalformed)
	}
	text = strings.Trim(text, " \"'`*")
	if text == "" {
		return "", fmt.Errorf("%w: empty explanation", ErrMalformed)
	}
	if looksLikeRefusal(text) {
		return "", ErrRefusal
	}
	if len(text) > 500 {
		return "", fmt.Errorf("%w: explanation longer than 500 bytes", ErrMalformed)
	}
	return text, nil
}

func looksLikeRefusal(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, p := range []string{"i'm sorry", "i am sorry", "i cannot", "i can't", "i can’t", "i’m sorry", "as an ai"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Usage counts tokens over the calls that made one result.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	Calls            int
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

func (u *Usage) add(r *ChatReply) {
	u.PromptTokens += r.PromptTokens
	u.CompletionTokens += r.CompletionTokens
	u.Calls++
}

// Attempts is how many times a refused, cut-off or unparsable reply is
// asked again before the feature fails.
const Attempts = 3

// ask sends req until parse accepts a reply (at most Attempts replies);
// endpoint errors (already retried by the client) end it at once.
func ask[T any](ctx context.Context, llm LLM, req ChatRequest, u *Usage, parse func(*ChatReply) (T, error)) (T, error) {
	var zero T
	var last error
	for range Attempts {
		r, err := llm.Chat(ctx, req)
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				last = err
				continue
			}
			return zero, err
		}
		u.add(r)
		v, err := parse(r)
		if err == nil {
			return v, nil
		}
		last = err
	}
	return zero, fmt.Errorf("%d attempts: %w", Attempts, last)
}

// Explainer asks an LLM for explanations.
type Explainer struct {
	LLM       LLM
	Model     string // the explainer model, stored as ExplanationModelName
	MaxTokens int    // reply cap (default 400)
}

// Explain returns the explanation of ft from the given contexts.
func (e *Explainer) Explain(ctx context.Context, ft *features.Feature, explain []Context) (string, Usage, error) {
	var u Usage
	if len(explain) == 0 {
		return "", u, features.Errorf(features.EINVALID, "feature %s has no activating examples to explain", ft.Key())
	}
	req := ChatRequest{Model: e.Model, Messages: ExplainPrompt(ft, explain), MaxTokens: cmp(e.MaxTokens, 400)}
	s, err := ask(ctx, e.LLM, req, &u, ParseExplanation)
	return s, u, err
}

func cmp(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
