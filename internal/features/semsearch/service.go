package semsearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"saex/internal/features"
)

// Embedder turns texts into vectors (an OpenAI-compatible embeddings
// endpoint: internal/llm.Embedder).
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, int, error)
}

// Store is what the service needs of the database.
type Store interface {
	features.ExplanationService
	features.EmbeddingStore
}

// Service is the explanation service with semantic ranking: it embeds the
// query and ranks stored explanation embeddings of Model by cosine
// similarity, and embeds each explanation it creates.
type Service struct {
	Store    Store
	Embedder Embedder
	// Model is the endpoint's embedding model; only embeddings of this
	// model (and of the length the endpoint answers with) are compared.
	Model string
	// Dims, when > 0, is the length the endpoint was asked for.
	Dims int
	// Vectors, when set, ranks in the database (pgvector) instead of the
	// in-memory index.
	Vectors features.VectorSearcher
	Log     *slog.Logger

	mu sync.Mutex // held while loading the index
	ix *Index     // guarded by mu
}

var _ features.ExplanationService = (*Service)(nil)

// SearchRanking is semantic.
func (s *Service) SearchRanking() features.SearchRanking { return features.RankSemantic }

// Backend names where the ranking runs: "pgvector" or "go-scan".
func (s *Service) Backend() string {
	if s.Vectors != nil {
		return "pgvector"
	}
	return "go-scan"
}

// embed embeds texts and checks what came back.
func (s *Service) embed(ctx context.Context, texts []string) ([][]float32, error) {
	vecs, _, err := s.Embedder.Embed(ctx, texts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, features.Wrap(features.EUNAVAILABLE, err, "embeddings endpoint (%s): %v", s.Model, err)
	}
	if len(vecs) != len(texts) {
		return nil, features.Errorf(features.EUNAVAILABLE, "embeddings endpoint (%s) returned %d vectors for %d texts", s.Model, len(vecs), len(texts))
	}
	for _, v := range vecs {
		if len(v) == 0 || s.Dims > 0 && len(v) != s.Dims {
			return nil, features.Errorf(features.EUNAVAILABLE, "embeddings endpoint (%s) returned a vector of %d values, want %d", s.Model, len(v), s.Dims)
		}
		if len(v) != len(vecs[0]) {
			return nil, features.Errorf(features.EUNAVAILABLE, "embeddings endpoint (%s) returned vectors of %d and %d values", s.Model, len(vecs[0]), len(v))
		}
	}
	return vecs, nil
}

// SearchExplanations embeds q.Query and returns the explanations within q's
// filters most similar to it, best first, with their cosine similarity, and
// how many explanations of Model within the filters have an embedding.
func (s *Service) SearchExplanations(ctx context.Context, q features.ExplanationQuery) ([]*features.ExplanationHit, int, error) {
	if err := q.CheckPage(); err != nil {
		return nil, 0, err
	}
	vecs, err := s.embed(ctx, []string{q.Query})
	if err != nil {
		return nil, 0, err
	}
	query := vecs[0]
	if s.Vectors != nil {
		return s.Vectors.SearchExplanationsByVector(ctx, q, s.Model, query)
	}
	ix, err := s.index(ctx, len(query))
	if err != nil {
		return nil, 0, err
	}
	scored, total := ix.Search(q, query)
	ids := make([]string, len(scored))
	for i, h := range scored {
		ids[i] = h.ExplanationID
	}
	exps, err := s.Store.ExplanationsByID(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]*features.Explanation, len(exps))
	for _, e := range exps {
		byID[e.ID] = e
	}
	out := make([]*features.ExplanationHit, 0, len(scored))
	for _, h := range scored {
		if e := byID[h.ExplanationID]; e != nil { // else deleted since the index was read
			cos := float64(h.Cosine)
			out = append(out, &features.ExplanationHit{Explanation: e, Rank: cos, CosineSimilarity: &cos})
		}
	}
	return out, total, nil
}

// index returns the in-memory index of dims-long embeddings, brought up to
// date when the stored embeddings changed since it was read (one small
// query per search: count and sums of the model's seq index). New and
// changed rows are read alone (seq above the last seen); a deletion or a
// writer that committed out of seq order shows as a mismatch, and then
// the whole index is read again.
func (s *Service) index(ctx context.Context, dims int) (*Index, error) {
	ver, err := s.Store.EmbeddingsVersion(ctx, s.Model, dims)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ix != nil && s.ix.Dims == dims && s.ix.Version == ver {
		return s.ix, nil
	}
	if s.ix != nil && s.ix.Dims == dims {
		nx, err := s.ix.Update(ctx, s.Store)
		s.ix = nil // its position map now belongs to nx
		if err != nil {
			return nil, err
		}
		if nx.consistent() && !nx.fragmented() {
			s.ix = nx
			return nx, nil
		}
	}
	ix, err := Load(ctx, s.Store, s.Model, dims)
	if err != nil {
		return nil, err
	}
	if s.Log != nil {
		s.Log.Info("semantic search index loaded", "model", s.Model, "dims", dims, "vectors", ix.Len())
	}
	s.ix = ix
	return ix, nil
}

// CreateExplanation stores e and then its embedding. An endpoint failure
// does not undo the explanation: it is logged, and `saex
// embed-explanations` embeds what is missing.
func (s *Service) CreateExplanation(ctx context.Context, e *features.Explanation) error {
	if err := s.Store.CreateExplanation(ctx, e); err != nil {
		return err
	}
	s.EmbedStored(ctx, []*features.Explanation{e})
	return nil
}

// EmbedStored embeds explanations just stored (blank descriptions are
// skipped) and returns how many it left without an embedding. It only
// logs a failure: the explanations stay, and `saex embed-explanations`
// embeds what is missing later. The count lets a command that writes many
// (saex explain) say how many are missing once, at its end.
func (s *Service) EmbedStored(ctx context.Context, exps []*features.Explanation) (missed int) {
	var texts []string
	var todo []*features.Explanation
	for _, e := range exps {
		if e != nil && strings.TrimSpace(e.Description) != "" {
			texts = append(texts, e.Description)
			todo = append(todo, e)
		}
	}
	if len(todo) == 0 {
		return 0
	}
	vecs, err := s.embed(ctx, texts)
	if err == nil {
		embs := make([]features.ExplanationEmbedding, len(todo))
		for i, e := range todo {
			embs[i] = features.ExplanationEmbedding{ExplanationID: e.ID, Model: s.Model, Vector: vecs[i]}
		}
		err = s.Store.WriteExplanationEmbeddings(ctx, embs)
	}
	if err != nil && s.Log != nil {
		s.Log.Warn("new explanations not embedded; run saex embed-explanations", "explanations", len(todo), "first", todo[0].ID,
			"err", features.ErrorMessage(err))
	}
	if err != nil {
		return len(todo)
	}
	return 0
}

// BackfillProgress is called after each batch with the explanations
// embedded so far.
type BackfillProgress func(embedded int)

// Backfill embeds, batch by batch, every explanation without an embedding
// of Model. Each batch is written in its own transaction, so a stopped run
// loses at most one batch and the next run goes on with what is missing.
// Explanations with a blank description are skipped. It returns how many
// it embedded.
func (s *Service) Backfill(ctx context.Context, batch int, progress BackfillProgress) (int, error) {
	if batch <= 0 {
		return 0, errors.New("backfill: batch must be positive")
	}
	done, after := 0, ""
	for {
		exps, err := s.Store.ExplanationsToEmbed(ctx, s.Model, s.Dims, after, batch)
		if err != nil {
			return done, err
		}
		if len(exps) == 0 {
			return done, nil
		}
		after = exps[len(exps)-1].ID
		var texts []string
		var todo []*features.Explanation
		for _, e := range exps {
			if strings.TrimSpace(e.Description) != "" {
				texts = append(texts, e.Description)
				todo = append(todo, e)
			}
		}
		if len(todo) == 0 {
			continue
		}
		vecs, err := s.embed(ctx, texts)
		if err != nil {
			return done, fmt.Errorf("backfill after %d embedded: %w", done, err)
		}
		embs := make([]features.ExplanationEmbedding, len(todo))
		for i, e := range todo {
			embs[i] = features.ExplanationEmbedding{ExplanationID: e.ID, Model: s.Model, Vector: vecs[i]}
		}
		if err := s.Store.WriteExplanationEmbeddings(ctx, embs); err != nil {
			if features.ErrorCode(err) == features.ENOTFOUND {
				continue // an explanation was deleted meanwhile; the rest get their turn next run
			}
			return done, err
		}
		done += len(embs)
		if progress != nil {
			progress(done)
		}
	}
}

// VectorBackend is what choosing pgvector needs of the database.
type VectorBackend interface {
	features.VectorSearcher
	ExtensionAvailable(ctx context.Context, name string) (bool, error)
	EnableVectorSearch(ctx context.Context, model string, dims int) error
}

// ChooseBackend picks where s ranks, once at start-up: pgvector when the
// database server has the vector extension available and it can be
// enabled (extension and HNSW index created), else the in-memory scan.
// It returns the reason for the choice, for the log.
func (s *Service) ChooseBackend(ctx context.Context, db VectorBackend) string {
	ok, err := db.ExtensionAvailable(ctx, "vector")
	switch {
	case err != nil:
		s.Vectors = nil
		return "go-scan: could not look for pgvector: " + features.ErrorMessage(err)
	case !ok:
		s.Vectors = nil
		return "go-scan: the database server has no pgvector (vector extension)"
	}
	if err := db.EnableVectorSearch(ctx, s.Model, s.Dims); err != nil {
		s.Vectors = nil
		return "go-scan: pgvector is available but could not be enabled: " + features.ErrorMessage(err)
	}
	s.Vectors = db
	return "pgvector: the database server has the vector extension"
}

// Warm loads the in-memory index of Dims-long embeddings ahead of the
// first search (a no-op without Dims or with pgvector).
func (s *Service) Warm(ctx context.Context) error {
	if s.Dims <= 0 || s.Vectors != nil {
		return nil
	}
	_, err := s.index(ctx, s.Dims)
	return err
}
