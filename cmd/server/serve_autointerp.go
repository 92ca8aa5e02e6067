package main

import (
	"context"

	"saex/internal/features/autointerp"
	"saex/internal/llm"
	"saex/internal/web"
)

func init() { webServerHooks = append(webServerHooks, wireAutoInterp) }

// wireAutoInterp gives the web server an auto-interp service and a job
// runner when SAEX_LLM_BASE_URL and SAEX_LLM_MODEL are set; without them
// its routes answer 503 and the source page names what to set. A bad setting is logged (without the key)
// and does not stop the server.
func wireAutoInterp(ctx context.Context, d *serveDeps, s *web.Server) error {
	if d.Env == nil {
		return nil
	}
	cfg := llmConfigFromEnv(d.Env)
	if cfg.BaseURL == "" && cfg.Model == "" {
		d.Log.Info("auto-interp off: set SAEX_LLM_BASE_URL and SAEX_LLM_MODEL to enable it")
		return nil
	}
	p, err := cfg.pipeline(d.DB)
	if err != nil {
		d.Log.Error("auto-interp off", "err", err)
		return nil
	}
	s.AutoInterp = &autointerp.Service{Pipeline: p}
	// Jobs started from the source page run here, in the background
	// group that serve drains on shutdown; a job this process leaves
	// running is resumed by the next one.
	runner := &autointerp.Runner{Pipeline: p, Jobs: d.DB, Logger: d.Log}
	if d.Background != nil {
		runner.Start(ctx, d.Background)
		s.AutoInterpJobs = runner
	}
	embed := "off"
	if p.Embedding != nil {
		embed = p.Embedding.Model
	}
	d.Log.Info("auto-interp on", "endpoint", llm.Redacted(cfg.BaseURL), "model", p.Explainer.Model, "scorer", p.Scorer.Model, "embedding", embed)
	return nil
}
