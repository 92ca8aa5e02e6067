package autointerp

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"saex/internal/features"
)

// Score type names, as Neuronpedia stores Delphi's scorers: detection is
// "eleuther_recall", fuzzing "eleuther_fuzz". The prompts are saex's own,
// versioned by ScorePromptVersion.
const (
	ScoreDetection     = "eleuther_recall"
	ScoreFuzzing       = "eleuther_fuzz"
	ScorePromptVersion = "saex-score-v1"
)

// ScorerName maps a command-line or API scorer name to its stored type
// name; "" when unknown.
func ScorerName(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "detection", "recall", ScoreDetection:
		return ScoreDetection
	case "fuzzing", "fuzz", ScoreFuzzing:
		return ScoreFuzzing
	case "embedding", ScoreEmbedding:
		return ScoreEmbedding
	}
	return ""
}

// Confusion counts a binary classifier's outcomes.
type Confusion struct{ TP, TN, FP, FN int }

// Add records one prediction against its truth.
func (c *Confusion) Add(truth, pred bool) {
	switch {
	case truth && pred:
		c.TP++
	case truth:
		c.FN++
	case pred:
		c.FP++
	default:
		c.TN++
	}
}

// BalancedAccuracy is the mean of the true-positive and true-negative
// rates, so a scorer that says "yes" to everything gets 0.5 whatever the
// class balance. With one class absent it is that class's accuracy alone;
// with none, 0.
func (c Confusion) BalancedAccuracy() float64 {
	pos, neg := c.TP+c.FN, c.TN+c.FP
	switch {
	case pos > 0 && neg > 0:
		return (float64(c.TP)/float64(pos) + float64(c.TN)/float64(neg)) / 2
	case pos > 0:
		return float64(c.TP) / float64(pos)
	case neg > 0:
		return float64(c.TN) / float64(neg)
	}
	return 0
}

// Sample is one context shown to a scorer with its ground truth.
type Sample struct {
	Text       string `json:"text"`
	Truth      bool   `json:"groundTruth"`
	Prediction bool   `json:"prediction"`
	Correct    bool   `json:"correct"`
}

// ScoreResult is a scorer's value (balanced accuracy) with its breakdown.
type ScoreResult struct {
	Type      string    `json:"type"`
	Value     float64   `json:"value"`
	Confusion Confusion `json:"confusion"`
	Samples   []Sample  `json:"breakdown,omitempty"`
	// Similarities is the embedding scorer's breakdown.
	Similarities []EmbeddingSample `json:"similarities,omitempty"`
	Prompt       string            `json:"promptVersion"`
	Usage        Usage             `json:"usage"`
}

// Details is the JSON stored as the score's jsonDetails.
func (r *ScoreResult) Details() string {
	b, _ := json.Marshal(r)
	return string(b)
}

const detectionSystem = `You are an intelligent and meticulous linguistics researcher. You are given an explanation of a feature of a language model and a numbered list of text examples. The feature fires on some tokens of some examples. Decide for each example whether the feature fires anywhere in it, judging only by whether the explanation applies to the example.

Reply with a JSON array with one entry per example, in order: 1 if the feature fires in the example, 0 if it does not. Reply with the array only, for example [1,0,0,1,0].`

const fuzzingSystem = `You are an intelligent and meticulous linguistics researcher. You are given an explanation of a feature of a language model and a numbered list of text examples. In each example some tokens are marked between << and >>. In some examples the marked tokens are the ones the feature fires on; in the others they were marked at random. Decide for each example whether the marks are correct according to the explanation.

Reply with a JSON array with one entry per example, in order: 1 if the marked tokens are correct, 0 if they are not. Reply with the array only, for example [1,0,0,1,0].`

// ScorePrompt builds a scorer's messages for texts (already formatted).
func ScorePrompt(typ, explanation string, texts []string) []Message {
	sys := detectionSystem
	if typ == ScoreFuzzing {
		sys = fuzzingSystem
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Explanation: %s\n\n", explanation)
	for i, t := range texts {
		fmt.Fprintf(&b, "Example %d: %s\n", i+1, t)
	}
	fmt.Fprintf(&b, "\nReply with a JSON array of %d entries (1 or 0).", len(texts))
	return []Message{{Role: "system", Content: sys}, {Role: "user", Content: b.String()}}
}

// ParsePredictions reads the scorer's JSON array of n 0/1 (or true/false)
// entries from a reply, ignoring text around it.
func ParsePredictions(r *ChatReply, n int) ([]bool, error) {
	if strings.TrimSpace(r.Refusal) != "" || r.FinishReason == "content_filter" {
		return nil, ErrRefusal
	}
	text := r.Content
	i := strings.LastIndexByte(text, '[')
	j := strings.LastIndexByte(text, ']')
	if i < 0 || j < i {
		if r.FinishReason == "length" {
			return nil, ErrTruncated
		}
		if looksLikeRefusal(text) {
			return nil, ErrRefusal
		}
		return nil, fmt.Errorf("%w: no JSON array in the reply", ErrMalformed)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(text[i:j+1]), &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(raw) != n {
		return nil, fmt.Errorf("%w: %d predictions for %d examples", ErrMalformed, len(raw), n)
	}
	out := make([]bool, n)
	for k, v := range raw {
		switch strings.Trim(string(v), `" `) {
		case "1", "true", "yes":
			out[k] = true
		case "0", "false", "no":
		default:
			return nil, fmt.Errorf("%w: prediction %d is %s, want 1 or 0", ErrMalformed, k+1, v)
		}
	}
	return out, nil
}

// Scorer asks an LLM to classify held-out contexts given an explanation.
type Scorer struct {
	LLM       LLM
	Model     string // scorer model, stored as ExplanationScoreModelName
	MaxTokens int    // reply cap (default 200)
}

// Score runs one scorer: activating contexts (held out from the explainer)
// against non-activating ones. Detection shows plain text and asks which
// contexts fire; fuzzing marks the true active tokens in activating
// contexts and as many random tokens in non-activating ones, and asks which
// marks are right. The order is shuffled with seed.
func (s *Scorer) Score(ctx context.Context, typ, explanation string, activating, nonActivating []Context, seed uint64) (*ScoreResult, error) {
	if typ != ScoreDetection && typ != ScoreFuzzing {
		return nil, features.Errorf(features.EINVALID, "unknown scorer %q (detection or fuzzing)", typ)
	}
	if len(activating) == 0 || len(nonActivating) == 0 {
		return nil, features.Errorf(features.EUNPROCESSABLE, "scorer %s needs held-out activating and non-activating contexts (have %d and %d)", typ, len(activating), len(nonActivating))
	}
	r := rand.New(rand.NewPCG(seed, 0xf022))
	type item struct {
		text  string
		truth bool
	}
	var items []item
	for _, c := range activating {
		if typ == ScoreFuzzing {
			items = append(items, item{FormatHighlighted(c, 0), true})
		} else {
			items = append(items, item{FormatHighlighted(c, noMarks), true})
		}
	}
	for k, c := range nonActivating {
		if typ == ScoreFuzzing {
			marked := Context{Tokens: c.Tokens, Values: make([]float32, len(c.Tokens))}
			n := activeCount(activating[k%len(activating)])
			for _, p := range r.Perm(len(c.Tokens))[:min(n, len(c.Tokens))] {
				marked.Values[p] = 1
			}
			items = append(items, item{FormatHighlighted(marked, 0), false})
		} else {
			items = append(items, item{FormatHighlighted(c, noMarks), false})
		}
	}
	r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.text
	}
	res := &ScoreResult{Type: typ, Prompt: ScorePromptVersion}
	req := ChatRequest{Model: s.Model, Messages: ScorePrompt(typ, explanation, texts), MaxTokens: cmp(s.MaxTokens, 200)}
	preds, err := ask(ctx, s.LLM, req, &res.Usage, func(r *ChatReply) ([]bool, error) { return ParsePredictions(r, len(items)) })
	if err != nil {
		return res, err
	}
	for i, it := range items {
		res.Confusion.Add(it.truth, preds[i])
		res.Samples = append(res.Samples, Sample{Text: it.text, Truth: it.truth, Prediction: preds[i], Correct: it.truth == preds[i]})
	}
	res.Value = res.Confusion.BalancedAccuracy()
	return res, nil
}

// noMarks is a threshold no activation passes: the context as plain text.
const noMarks float32 = math.MaxFloat32

func activeCount(c Context) int {
	n := 0
	for _, v := range c.Values {
		if v > 0 {
			n++
		}
	}
	return max(n, 1)
}
