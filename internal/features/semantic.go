package features

import "context"

// ImportedEmbeddingModel is the model of the embeddings Neuronpedia exports
// carry on explanations (256 dimensions, EmbeddingDim).
const ImportedEmbeddingModel = "text-embedding-3-large"

// SearchRanking names how explanation search orders its hits.
type SearchRanking string

// The two rankings: PostgreSQL full text (the default), or the cosine
// similarity of the query's embedding to the explanations' when an
// embeddings endpoint is configured.
const (
	RankFullText SearchRanking = "full-text"
	RankSemantic SearchRanking = "semantic"
)

// ExplanationEmbedding is one explanation's vector from one embedding model.
type ExplanationEmbedding struct {
	ExplanationID string
	Model         string
	Vector        []float32
}

// EmbeddingsVersion identifies the stored embeddings of one model and size.
// Every insert and update gives its row a new, higher seq, so any committed
// change moves Count or SeqSum, whatever order writers commit in.
type EmbeddingsVersion struct {
	Count  int64
	SeqSum int64
	MaxSeq int64
}

// EmbeddedSource is the part of a source that explanation-search filters
// look at, and the embeddings of its explanations.
type EmbeddedSource struct {
	ModelID     string
	SourceID    string
	ReleaseName string // the release of the source's set, "" when none
}

// Matches reports whether the source passes q's model, source and release
// filters, as the full-text search applies them.
func (s EmbeddedSource) Matches(q ExplanationQuery) bool {
	if q.ModelID != "" && s.ModelID != q.ModelID {
		return false
	}
	if q.ReleaseName != "" && s.ReleaseName != q.ReleaseName {
		return false
	}
	if len(q.SourceIDs) == 0 {
		return true
	}
	for _, id := range q.SourceIDs {
		if id == s.SourceID {
			return true
		}
	}
	return false
}

// EmbeddingStore keeps explanation embeddings for semantic search.
type EmbeddingStore interface {
	// WriteExplanationEmbeddings upserts embeddings by (explanation, model);
	// ENOTFOUND when an explanation is missing.
	WriteExplanationEmbeddings(ctx context.Context, embs []ExplanationEmbedding) error
	// ExplanationsToEmbed returns up to limit explanations, in ID order
	// after afterID, that have no embedding of model with dims values.
	ExplanationsToEmbed(ctx context.Context, model string, dims int, afterID string, limit int) ([]*Explanation, error)
	// EmbeddingsVersion reads the version of model's dims-long embeddings.
	EmbeddingsVersion(ctx context.Context, model string, dims int) (EmbeddingsVersion, error)
	// ScanExplanationEmbeddings calls fn with every embedding of model with
	// dims values whose seq is above afterSeq (0: all), in no particular
	// order (src is one pointer per source), and returns the version of all
	// of the model's embeddings in the same snapshot. vec is reused between
	// calls.
	ScanExplanationEmbeddings(ctx context.Context, model string, dims int, afterSeq int64,
		fn func(src *EmbeddedSource, explanationID string, seq int64, vec []float32) error) (EmbeddingsVersion, error)
	// ExplanationsByID returns the explanations with these IDs, with their
	// model and source, in no particular order; missing IDs are left out.
	ExplanationsByID(ctx context.Context, ids []string) ([]*Explanation, error)
}

// VectorSearcher ranks explanations in the database (pgvector).
type VectorSearcher interface {
	// SearchExplanationsByVector ranks model's dims-long embeddings by
	// cosine similarity to vec within q's filters (q.Query is ignored).
	SearchExplanationsByVector(ctx context.Context, q ExplanationQuery, model string, vec []float32) ([]*ExplanationHit, int, error)
}
