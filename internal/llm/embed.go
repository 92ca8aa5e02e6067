package llm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/openai/openai-go/v3"
)

// Embedder implements autointerp.Embedder over an OpenAI-compatible
// embeddings endpoint (/v1/embeddings), with the client's retries.
type Embedder struct {
	Client
	// Dimensions, when > 0, asks the endpoint for shorter vectors (OpenAI's
	// text-embedding-3 models; Neuronpedia stores 256).
	Dimensions int
}

// NewEmbedder checks cfg (Model is the embedding model) and returns an embedder.
func NewEmbedder(cfg Config) (*Embedder, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, errors.New("no embeddings endpoint configured: set SAEX_EMBED_BASE_URL (or SAEX_LLM_BASE_URL)")
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("no embedding model configured: set SAEX_EMBED_MODEL, e.g. text-embedding-3-large or nomic-embed-text")
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Embedder{Client: *c}, nil
}

// Embed returns one vector per text, in order, and the tokens used.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, int, error) {
	params := openai.EmbeddingNewParams{Model: e.model, Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat}
	if e.Dimensions > 0 {
		params.Dimensions = openai.Int(int64(e.Dimensions))
	}
	resp, err := e.oa.Embeddings.New(ctx, params)
	if err != nil {
		return nil, 0, e.clean(ctx, err)
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || int(d.Index) >= len(texts) || out[d.Index] != nil {
			return nil, 0, &EndpointError{msg: fmt.Sprintf("embeddings endpoint returned a bad index %d", d.Index)}
		}
		v := make([]float32, len(d.Embedding))
		for i, x := range d.Embedding {
			v[i] = float32(x)
		}
		out[d.Index] = v
	}
	for i, v := range out {
		if v == nil {
			return nil, 0, &EndpointError{msg: fmt.Sprintf("embeddings endpoint returned no vector for text %d", i)}
		}
	}
	return out, int(resp.Usage.PromptTokens), nil
}
