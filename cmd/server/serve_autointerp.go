package main

import (
	"cmp"
	"context"

	"saex/internal/features/autointerp"
	"saex/internal/jobs"
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
	runner := &autointerp.Runner{Pipeline: p, Jobs: d.DB, Logger: d.Log}
	switch {
	case d.AutoInterpJobs == autoInterpQueue:
		// Jobs started from the source page go to River's explain queue;
		// workers run them (the runner only checks the requests).
		s.AutoInterpJobs = &jobs.ExplainQueue{Pool: d.DB.Pool, Jobs: d.DB, Runner: runner}
	case d.Background != nil:
		// They run here, in the background group that serve drains on
		// shutdown; a job this process leaves running is resumed by the
		// next one.
		runner.Start(ctx, d.Background)
		s.AutoInterpJobs = runner
	}
	embed := "off"
	if p.Embedding != nil {
		embed = p.Embedding.Model
	}
	d.Log.Info("auto-interp on", "endpoint", llm.Redacted(cfg.BaseURL), "model", p.Explainer.Model, "scorer", p.Scorer.Model, "embedding", embed,
		"jobs", cmp.Or(d.AutoInterpJobs, autoInterpInProcess))
	return nil
}
