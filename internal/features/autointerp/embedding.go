package autointerp

import (
	"context"
	"math"
	"sort"

	"saex/internal/features"
)

// ScoreEmbedding is the embedding scorer's type name, as Neuronpedia
// stores it.
const ScoreEmbedding = "eleuther_embedding"

// Embedder turns texts into vectors (an OpenAI-compatible embeddings
// endpoint); tokens is the usage the endpoint reported.
type Embedder interface {
	Embed(ctx context.Context, texts []string) (vecs [][]float32, tokens int, err error)
}

// EmbeddingScorer ranks held-out contexts by the cosine similarity of
// their embedding to the explanation's: the score is the ROC-AUC of
// activating against non-activating contexts (0.5 is chance), as
// Neuronpedia's embedding scorer computes it.
type EmbeddingScorer struct {
	Embedder Embedder
	Model    string // stored as ExplanationScoreModelName
}

// EmbeddingSample is one context with its similarity to the explanation.
type EmbeddingSample struct {
	Text       string  `json:"text"`
	Truth      bool    `json:"groundTruth"`
	Similarity float64 `json:"similarity"`
}

// Score embeds the explanation and the contexts in one request.
func (s *EmbeddingScorer) Score(ctx context.Context, explanation string, activating, nonActivating []Context) (*ScoreResult, error) {
	if len(activating) == 0 || len(nonActivating) == 0 {
		return nil, features.Errorf(features.EUNPROCESSABLE, "embedding scorer needs held-out activating and non-activating contexts (have %d and %d)", len(activating), len(nonActivating))
	}
	texts := []string{explanation}
	for _, c := range activating {
		texts = append(texts, c.Text())
	}
	for _, c := range nonActivating {
		texts = append(texts, c.Text())
	}
	vecs, tokens, err := s.Embedder.Embed(ctx, texts)
	res := &ScoreResult{Type: ScoreEmbedding, Prompt: ScorePromptVersion, Usage: Usage{PromptTokens: tokens, Calls: 1}}
	if err != nil {
		return res, err
	}
	if len(vecs) != len(texts) {
		return res, features.Errorf(features.EUNPROCESSABLE, "embeddings endpoint returned %d vectors for %d texts", len(vecs), len(texts))
	}
	var pos, neg []float64
	samples := make([]EmbeddingSample, 0, len(texts)-1)
	for i, v := range vecs[1:] {
		sim := Cosine(vecs[0], v)
		truth := i < len(activating)
		if truth {
			pos = append(pos, sim)
		} else {
			neg = append(neg, sim)
		}
		samples = append(samples, EmbeddingSample{Text: texts[i+1], Truth: truth, Similarity: sim})
	}
	res.Value = ROCAUC(pos, neg)
	res.Similarities = samples
	return res, nil
}

// Cosine is the cosine similarity of a and b (0 when either is zero or
// their lengths differ).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// ROCAUC is the area under the ROC curve of scores pos (positives) against
// neg: the probability that a random positive scores above a random
// negative, ties counting half (the Mann-Whitney U statistic over
// len(pos)*len(neg)). 0.5 when either set is empty.
func ROCAUC(pos, neg []float64) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return 0.5
	}
	sorted := append([]float64(nil), neg...)
	sort.Float64s(sorted)
	var wins float64
	for _, p := range pos {
		below := sort.SearchFloat64s(sorted, p) // negatives < p
		upTo := sort.Search(len(sorted), func(i int) bool { return sorted[i] > p })
		wins += float64(below) + 0.5*float64(upTo-below)
	}
	return wins / float64(len(pos)*len(neg))
}
