package autointerp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"saex/internal/features"
)

// Store is what auto-interp reads and writes.
type Store interface {
	GetFeature(ctx context.Context, key features.FeatureKey, opts features.FeatureOptions) (*features.Feature, error)
	GetFeatures(ctx context.Context, keys []features.FeatureKey, opts features.FeatureOptions) ([]*features.Feature, error)
	GetSource(ctx context.Context, modelID, sourceID string) (*features.Source, error)
	Done(ctx context.Context, cp features.Checkpoint) (bool, error)
	features.AutoInterpWriter
}

// AuthorID is the author of explanations made by jobs and the API.
const AuthorID = "saex-autointerp"

// Pipeline explains and scores one feature at a time.
type Pipeline struct {
	Store     Store
	Explainer *Explainer
	Scorer    *Scorer // nil when only explaining
	// Embedding is the embedding scorer; nil without an embeddings endpoint.
	Embedding *EmbeddingScorer
	Sampling  Sampling
}

// Result is one feature's outcome.
type Result struct {
	Explanation *features.Explanation // nil for a dead feature
	Run         *features.ExplanationRun
	Usage       Usage
	// ScoreErrors are the scorers that failed (by type), with the reason;
	// the explanation is stored with the scores that succeeded.
	ScoreErrors map[string]string
}

// ExplanationID is the id of the explainer's explanation of key: the same
// for every run with the same model and prompt, so a rerun replaces it.
func ExplanationID(key features.FeatureKey, explainerModel string) string {
	h := sha256.Sum256([]byte(key.String() + "\x00" + explainerModel + "\x00" + PromptVersion))
	return "ai-" + hex.EncodeToString(h[:12])
}

// loadFeature reads a feature with all its examples.
func (p *Pipeline) loadFeature(ctx context.Context, key features.FeatureKey) (*features.Feature, error) {
	return p.Store.GetFeature(ctx, key, features.FeatureOptions{NoExplanations: true})
}

// Explain explains one feature and runs the given scorers on the result;
// it writes nothing. A dead feature (no activating example) gives a Result
// with no explanation.
func (p *Pipeline) Explain(ctx context.Context, key features.FeatureKey, scorers []string, job string) (*Result, error) {
	ft, err := p.loadFeature(ctx, key)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	split := SplitExamples(ft, p.Sampling)
	if len(split.Explain) == 0 {
		return res, nil
	}
	text, u, err := p.Explainer.Explain(ctx, ft, split.Explain)
	res.Usage = u
	if err != nil {
		return res, llmErr(err, "explain feature %s", key)
	}
	e := &features.Explanation{ID: ExplanationID(key, p.Explainer.Model), ModelID: key.ModelID, SourceID: key.SourceID,
		Index: key.Index, Description: text, TypeName: ExplainType, ExplanationModelName: p.Explainer.Model, AuthorID: AuthorID}
	res.Explanation = e
	res.Run = &features.ExplanationRun{ExplanationID: e.ID, Job: job, PromptVersion: PromptVersion}
	if len(scorers) > 0 {
		negs, err := p.nonActivating(ctx, ft)
		if err != nil {
			return res, err
		}
		for _, typ := range scorers {
			sr, model, err := p.score(ctx, ft, typ, text, split.Test, negs)
			if sr != nil {
				res.Usage.PromptTokens += sr.Usage.PromptTokens
				res.Usage.CompletionTokens += sr.Usage.CompletionTokens
				res.Usage.Calls += sr.Usage.Calls
			}
			if err != nil {
				if res.ScoreErrors == nil {
					res.ScoreErrors = map[string]string{}
				}
				res.ScoreErrors[typ] = features.ErrorMessage(llmErr(err, "score"))
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				continue
			}
			e.Scores = append(e.Scores, &features.ExplanationScore{ID: e.ID + "-" + typ, ExplanationID: e.ID, Value: sr.Value,
				ExplanationScoreTypeName: typ, ExplanationScoreModelName: model, InitiatedByUserID: AuthorID,
				JSONDetails: sr.Details()})
		}
	}
	res.Run.PromptTokens, res.Run.CompletionTokens = res.Usage.PromptTokens, res.Usage.CompletionTokens
	return res, nil
}

// score runs one scorer and returns its result and the scorer's model.
func (p *Pipeline) score(ctx context.Context, ft *features.Feature, typ, explanation string, test, negs []Context) (*ScoreResult, string, error) {
	if err := p.canScore(typ); err != nil {
		return nil, "", err
	}
	if typ == ScoreEmbedding {
		sr, err := p.Embedding.Score(ctx, explanation, test, negs)
		return sr, p.Embedding.Model, err
	}
	sr, err := p.Scorer.Score(ctx, typ, explanation, test, negs, Seed(ft.Key(), typ))
	return sr, p.Scorer.Model, err
}

// canScore says what to configure for a scorer that has no model.
func (p *Pipeline) canScore(typ string) error {
	if typ == ScoreEmbedding && p.Embedding == nil {
		return features.Errorf(features.EUNAVAILABLE, "the embedding scorer is not configured: set SAEX_EMBED_MODEL (and SAEX_EMBED_BASE_URL, SAEX_EMBED_API_KEY when they differ from the LLM's)")
	}
	if typ != ScoreEmbedding && p.Scorer == nil {
		return features.Errorf(features.EUNAVAILABLE, "no scorer model configured")
	}
	return nil
}

// nonActivating gathers the feature's non-activating contexts from other
// features' examples (neighbours and random ones of the same source).
func (p *Pipeline) nonActivating(ctx context.Context, ft *features.Feature) ([]Context, error) {
	s := p.Sampling.withDefaults()
	src, err := p.Store.GetSource(ctx, ft.ModelID, ft.SourceID)
	if err != nil {
		return nil, err
	}
	idx := CandidateIndexes(ft, src.NumFeatures, 8)
	keys := make([]features.FeatureKey, len(idx))
	for i, j := range idx {
		keys[i] = features.FeatureKey{ModelID: ft.ModelID, SourceID: ft.SourceID, Index: j}
	}
	cands, err := p.Store.GetFeatures(ctx, keys, features.FeatureOptions{NoExplanations: true, MaxActivations: 8})
	if err != nil {
		return nil, err
	}
	return NonActivating(ft, cands, s.NonActivate, s.Window, Seed(ft.Key(), "non-activating")), nil
}

// ScoreExplanation runs one scorer on a stored explanation (the API's
// score route) and returns the score, not yet stored.
func (p *Pipeline) ScoreExplanation(ctx context.Context, e *features.Explanation, typ string) (*features.ExplanationScore, Usage, error) {
	key := features.FeatureKey{ModelID: e.ModelID, SourceID: e.SourceID, Index: e.Index}
	ft, err := p.loadFeature(ctx, key)
	if err != nil {
		return nil, Usage{}, err
	}
	split := SplitExamples(ft, p.Sampling)
	negs, err := p.nonActivating(ctx, ft)
	if err != nil {
		return nil, Usage{}, err
	}
	// An explanation made elsewhere may have seen any example; the held-out
	// split is the best saex can do without the explainer's record.
	test := split.Test
	if len(test) == 0 {
		test = split.Explain
	}
	sr, model, err := p.score(ctx, ft, typ, e.Description, test, negs)
	var u Usage
	if sr != nil {
		u = sr.Usage
	}
	if err != nil {
		return nil, u, llmErr(err, "score explanation %q", e.ID)
	}
	return &features.ExplanationScore{ExplanationID: e.ID, Value: sr.Value, ExplanationScoreTypeName: typ,
		ExplanationScoreModelName: model, JSONDetails: sr.Details()}, u, nil
}

// llmErr maps LLM failures to domain errors: unusable replies are
// EUNPROCESSABLE, endpoint failures EUNAVAILABLE; domain errors pass.
func llmErr(err error, format string, args ...any) error {
	var fe *features.Error
	if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, ErrRefusal) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed) {
		return features.Errorf(features.EUNPROCESSABLE, "%s: %s", what, err.Error())
	}
	return features.Wrap(features.EUNAVAILABLE, err, "%s: %s", what, err.Error())
}

// ParseScorers reads a comma-separated scorer list ("detection,fuzzing").
func ParseScorers(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name := ScorerName(part)
		if name == "" {
			return nil, features.Errorf(features.EINVALID, "unknown scorer %q (detection, fuzzing or embedding)", strings.TrimSpace(part))
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, nil
}
