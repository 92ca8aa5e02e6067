package main

import (
	"context"
	"fmt"
	"time"

	"saex/internal/llm"
)

func init() {
	register("embed-explanations", "embed explanations that lack an embedding of the configured model, for semantic search; resumable", runEmbedExplanations)
}

func runEmbedExplanations(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "embed-explanations")
	var lc llmConfig
	fs.StringVar(&lc.EmbedBaseURL, "embed-base-url", "",
		"OpenAI-compatible embeddings endpoint (default: env SAEX_EMBED_BASE_URL, else SAEX_LLM_BASE_URL)")
	fs.StringVar(&lc.EmbedModel, "embed-model", "", "embedding model, e.g. text-embedding-3-large (default: env SAEX_EMBED_MODEL)")
	dims := fs.Int("dimensions", 0, "vector length to ask for, e.g. 256 as Neuronpedia's (default: env SAEX_EMBED_DIMENSIONS, else the model's)")
	batch := fs.Int("batch", 100, "explanations per request and per transaction")
	cfg := dbConfig{Migrate: true}
	addDBFlags(fs, env, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	lc.withEnv(env)
	lc.Timeout, lc.MaxRetries = 2*time.Minute, 4
	if *dims > 0 {
		lc.EmbedDimensions = *dims
	}
	if *batch < 1 || *batch > 2048 || *dims < 0 {
		return fmt.Errorf("embed-explanations: --batch must be 1 to 2048 and --dimensions not negative")
	}
	if lc.EmbedModel == "" {
		return fmt.Errorf("embed-explanations: no embedding model: set SAEX_EMBED_MODEL or --embed-model, e.g. text-embedding-3-large")
	}
	// Check the endpoint settings before touching the database (the
	// service gets its store once the database is open).
	log := env.Logger()
	svc, err := lc.semanticSearch(nil, log)
	if err != nil {
		return fmt.Errorf("embed-explanations: %w", err)
	}
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	svc.Store = db
	log.Info("embed-explanations", "endpoint", llm.Redacted(lc.embedBaseURL()), "model", lc.EmbedModel, "dims", lc.EmbedDimensions, "batch", *batch)
	start, last := time.Now(), time.Now()
	n, err := svc.Backfill(ctx, *batch, func(done int) {
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			fmt.Fprintf(env.Stderr, "embed-explanations: %d embedded\n", done)
		}
	})
	log.Info("embed-explanations done", "embedded", n, "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("embed-explanations: %w (rerun the same command to resume)", err)
	}
	return nil
}
