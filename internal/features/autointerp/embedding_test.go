package autointerp

import (
	"context"
	"math"
	"strings"
	"testing"
)

func TestROCAUCHandComputed(t *testing.T) {
	cases := []struct {
		name     string
		pos, neg []float64
		want     float64
	}{
		{"separated", []float64{0.9, 0.8}, []float64{0.1, 0.2, 0.3}, 1},
		{"inverted", []float64{0.1}, []float64{0.5, 0.6}, 0},
		// pairs (p>n): 0.7 beats 0.5 and 0.2 (2), 0.4 beats 0.2 (1); 6 pairs -> 3/6.
		{"mixed", []float64{0.7, 0.4}, []float64{0.5, 0.2, 0.9}, 3.0 / 6},
		// a tie counts half: 0.5 vs 0.5 -> 0.5, 0.5 vs 0.1 -> 1; 1.5/2.
		{"tie", []float64{0.5}, []float64{0.5, 0.1}, 0.75},
		{"empty", nil, []float64{1}, 0.5},
	}
	for _, c := range cases {
		if got := ROCAUC(c.pos, c.neg); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := Cosine([]float32{1, 0}, []float32{1, 1}); math.Abs(got-1/math.Sqrt2) > 1e-9 {
		t.Errorf("cosine %v", got)
	}
	if Cosine([]float32{0, 0}, []float32{1, 1}) != 0 || Cosine([]float32{1}, []float32{1, 2}) != 0 {
		t.Error("cosine of zero or mismatched vectors should be 0")
	}
}

// wordEmbedder embeds a text as [has " err", has nothing]: the explanation
// mentions err, so activating contexts are similar and others are not.
type wordEmbedder struct{}

func (wordEmbedder) Embed(_ context.Context, texts []string) ([][]float32, int, error) {
	out := make([][]float32, len(texts))
	for i, s := range texts {
		if strings.Contains(s, "err") {
			out[i] = []float32{1, 0.1}
		} else {
			out[i] = []float32{0.1, 1}
		}
	}
	return out, 7 * len(texts), nil
}

func TestEmbeddingScorer(t *testing.T) {
	ft := testFeature(2)
	split := SplitExamples(ft, Sampling{})
	negs := []Context{{Tokens: []string{"The", " cat"}, Values: []float32{0, 0}}, {Tokens: []string{"x", " :="}, Values: []float32{0, 0}}}
	s := &EmbeddingScorer{Embedder: wordEmbedder{}, Model: "emb"}
	res, err := s.Score(context.Background(), "err checks", split.Test, negs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Value != 1 || len(res.Similarities) != 5 || res.Usage.PromptTokens != 42 || res.Type != ScoreEmbedding {
		t.Errorf("result %+v", res)
	}
	if _, err := s.Score(context.Background(), "x", split.Test, nil); err == nil {
		t.Error("no negatives accepted")
	}
}
