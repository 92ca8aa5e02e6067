package main

import (
	"context"

	"saex/internal/features/autointerp"
	"saex/internal/llm"
	"saex/internal/web"
)

func init() { webServerHooks = append(webServerHooks, wireSemanticSearch) }

// wireSemanticSearch ranks explanation search by embeddings when an
// embeddings endpoint is configured (SAEX_EMBED_MODEL, with
// SAEX_EMBED_BASE_URL or the LLM's base URL); without one search stays
// full text. The backend is chosen here, once: pgvector when the database
// server has it, else the in-memory Go scan (docs/autointerp.md).
func wireSemanticSearch(ctx context.Context, d *serveDeps, s *web.Server) error {
	if d.Env == nil {
		return nil
	}
	cfg := llmConfigFromEnv(d.Env)
	svc, err := cfg.semanticSearch(d.DB, d.Log)
	if err != nil {
		d.Log.Error("semantic search off", "err", err)
		return nil
	}
	if svc == nil {
		d.Log.Info("semantic search off: set SAEX_EMBED_MODEL (and SAEX_EMBED_BASE_URL) to rank explanation search by embeddings")
		return nil
	}
	why := svc.ChooseBackend(ctx, d.DB)
	s.Explanations = svc
	// Auto-interp (wired by serve_autointerp.go's hook, which runs first:
	// hooks register in file-name order) embeds what it writes.
	if ai, ok := s.AutoInterp.(*autointerp.Service); ok && ai.Pipeline != nil && ai.Pipeline.Store != nil {
		embedWrites(ai.Pipeline, svc)
	}
	d.Log.Info("semantic search on", "endpoint", llm.Redacted(cfg.embedBaseURL()), "model", cfg.EmbedModel,
		"dims", cfg.EmbedDimensions, "backend", svc.Backend(), "why", why)
	if svc.Vectors == nil && cfg.EmbedDimensions > 0 && d.Background != nil {
		// Load the index now rather than on the first search.
		d.Background.Go(func() {
			if err := svc.Warm(ctx); err != nil && ctx.Err() == nil {
				d.Log.Warn("semantic search index not loaded", "err", err)
			}
		})
	}
	return nil
}
