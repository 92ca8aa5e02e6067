package main

import (
	"context"
	"log/slog"
	"sync/atomic"

	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/features/semsearch"
)

// semanticSearch is the semantic explanation service of c's embedding
// settings over db, the one constructor of serve's search, auto-interp's
// embed-on-write (serve, saex explain, the worker's explain queue) and
// embed-explanations, so that all of them embed with the same model and
// length. It is nil without SAEX_EMBED_MODEL (--embed-model).
func (c llmConfig) semanticSearch(db semsearch.Store, log *slog.Logger) (*semsearch.Service, error) {
	e, err := c.embedder()
	if err != nil || e == nil {
		return nil, err
	}
	return &semsearch.Service{Store: db, Embedder: e, Model: c.EmbedModel, Dims: c.EmbedDimensions, Log: log}, nil
}

// embedWrites makes p embed, through svc, each explanation it stores, right
// after storing it; it returns the wrapper, whose counts tell how many
// were left unembedded. p's store is replaced, so jobs and API calls
// sharing p embed alike.
func embedWrites(p *autointerp.Pipeline, svc *semsearch.Service) *embedOnWrite {
	w := &embedOnWrite{Store: p.Store, svc: svc}
	p.Store = w
	return w
}

// embedOnWrite embeds the explanations auto-interp stores right after
// storing them. An endpoint failure is logged and counted, not returned:
// the explanation stays (losing paid-for LLM work over an embedding would
// be the worse failure) and embed-explanations catches up.
type embedOnWrite struct {
	autointerp.Store
	svc *semsearch.Service
	// missed counts explanations stored but not embedded; writes run
	// concurrently (a job's features in flight), hence atomic.
	missed atomic.Int64
}

func (w *embedOnWrite) WriteAutoInterp(ctx context.Context, exps []*features.Explanation, runs []*features.ExplanationRun, cp *features.Checkpoint) error {
	if err := w.Store.WriteAutoInterp(ctx, exps, runs, cp); err != nil {
		return err
	}
	w.missed.Add(int64(w.svc.EmbedStored(ctx, exps)))
	return nil
}

// Missed is how many stored explanations are still without an embedding.
func (w *embedOnWrite) Missed() int64 { return w.missed.Load() }
