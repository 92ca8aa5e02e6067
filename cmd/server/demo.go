package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"saex/internal/features"
	"saex/internal/features/dashboard"
	"saex/internal/inference"
	"saex/internal/web"
)

// The demo: serve loads demo/demo-gpt2-4l (a 4-layer GPT-2 and TopK SAEs on
// the residual stream before blocks 1, 2 and 3) into the inference engine,
// registers it as model demo-gpt2-4l with the source set res-topk, and
// builds the dashboards of its 12,288 features from the demo corpus in the
// background while the server already answers. Pages show the build's
// progress (BuildStatus); an interrupted build resumes on the next start.

const (
	demoModelID = "demo-gpt2-4l"
	demoSetName = "res-topk"
	demoDataset = "demo corpus (eval split)"
)

// demoMaxContexts caps the demo build's contexts (0: the whole corpus);
// tests lower it.
var demoMaxContexts = 0

// demoConfig is serve's demo configuration.
type demoConfig struct {
	Skip bool   // --no-demo
	Dir  string // --demo-dir: the folder holding demo-gpt2-4l
}

func init() {
	afterMigrate = append(afterMigrate, seedDemo)
	webServerHooks = append(webServerHooks, wireEngine)
}

// addDemoFlags registers --no-demo (env SAEX_NO_DEMO) and --demo-dir (env
// SAEX_DEMO_DIR).
func addDemoFlags(fs *flag.FlagSet, env *Env) *demoConfig {
	c := &demoConfig{Dir: env.Getenv("SAEX_DEMO_DIR")}
	if v := env.Getenv("SAEX_NO_DEMO"); v != "" {
		c.Skip, _ = strconv.ParseBool(v)
	}
	fs.BoolVar(&c.Skip, "no-demo", c.Skip, "do not load, register or build the demo model (env SAEX_NO_DEMO)")
	fs.StringVar(&c.Dir, "demo-dir", c.Dir, `folder holding demo-gpt2-4l (env SAEX_DEMO_DIR; default "demo" in the working directory, else next to the executable)`)
	return c
}

// findDemo returns the demo model's folder: dir/demo-gpt2-4l for an
// explicit dir, else ./demo/demo-gpt2-4l, else demo/demo-gpt2-4l next to
// the executable. ok is false when none exists.
func findDemo(dir string) (string, []string, bool) {
	var tried []string
	try := func(base string) (string, bool) {
		p := filepath.Join(base, demoModelID)
		tried = append(tried, p)
		st, err := os.Stat(filepath.Join(p, "model", "config.json"))
		return p, err == nil && !st.IsDir()
	}
	if dir != "" {
		p, ok := try(dir)
		return p, tried, ok
	}
	if p, ok := try("demo"); ok {
		return p, tried, true
	}
	if exe, err := os.Executable(); err == nil {
		if p, ok := try(filepath.Join(filepath.Dir(exe), "demo")); ok {
			return p, tried, true
		}
	}
	return "", tried, false
}

// wireEngine hands the engine to the web server once it holds a model
// (without one the compute routes answer 503).
func wireEngine(_ context.Context, d *serveDeps, s *web.Server) error {
	if d.Engine != nil && len(d.Engine.ModelIDs()) > 0 {
		s.Inference = d.Engine
	}
	return nil
}

// seedDemo loads the demo into the engine, registers it when the database
// lacks it, and starts its dashboard build in the background. A missing
// or broken demo folder is logged, not fatal: saex serves without it.
func seedDemo(ctx context.Context, d *serveDeps) error {
	log := d.Log
	if d.Demo == nil || d.Demo.Skip {
		log.Info("demo seeding off (--no-demo)")
		return nil
	}
	dir, tried, ok := findDemo(d.Demo.Dir)
	if !ok {
		log.Warn("demo not found; serving without it (set --demo-dir or SAEX_DEMO_DIR)", "looked_in", tried)
		return nil
	}
	start := time.Now()
	modelDir := filepath.Join(dir, "model")
	if err := d.Engine.AddModel(demoModelID, modelDir); err != nil {
		log.Error("demo model not loaded; serving without it", "err", err)
		return nil
	}
	var sources []dashboard.Source
	for layer := 1; layer <= 3; layer++ {
		id := fmt.Sprintf("%d-%s", layer, demoSetName)
		saeDir := filepath.Join(dir, "saes", fmt.Sprintf("blocks.%d.hook_resid_pre", layer))
		if err := d.Engine.AddSource(demoModelID, id, saeDir); err != nil {
			log.Error("demo SAE not loaded; serving without the demo", "source", id, "err", err)
			d.Engine = inference.NewEngine(d.Engine.Scheduler(), inference.DefaultPromptCacheSize)
			return nil
		}
		s, _ := d.Engine.SAE(demoModelID, id)
		sources = append(sources, dashboard.Source{ID: id, SetName: demoSetName, SAE: s})
	}
	log.Info("demo loaded", "model", demoModelID, "dir", dir, "took", time.Since(start).Round(time.Millisecond))

	// Replicas started together must register and build the demo once:
	// whoever takes the lock does it and holds the lock until the build
	// ends; the others wait in the background and take over if the holder
	// dies (its session ends, PostgreSQL frees the lock), finding the
	// finished batches done or resuming the rest.
	release, ok, err := d.DB.TryLock(ctx, demoLockName)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if ok {
		if err := registerDemo(ctx, d, sources); err != nil {
			release()
			return fmt.Errorf("demo: %w", err)
		}
		d.Background.Go(func() {
			defer release()
			buildDemo(ctx, d, dir, modelDir, sources)
		})
		return nil
	}
	log.Info("another replica is seeding the demo; this one serves and waits to take over if it stops")
	d.Background.Go(func() {
		release, ok := waitDemoLock(ctx, d)
		if !ok {
			return
		}
		defer release()
		if err := registerDemo(ctx, d, sources); err != nil {
			log.Error("demo", "err", err)
			return
		}
		buildDemo(ctx, d, dir, modelDir, sources)
	})
	return nil
}

// demoLockName is the advisory lock around the demo's registration and
// build (store.TryLock).
const demoLockName = "saex demo seeding"

// demoLockPoll is how often a replica waiting for the demo lock asks
// again; tests shorten it.
var demoLockPoll = 5 * time.Second

// waitDemoLock polls for the demo lock until it is free or ctx ends.
func waitDemoLock(ctx context.Context, d *serveDeps) (release func(), ok bool) {
	t := time.NewTicker(demoLockPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, false
		case <-t.C:
		}
		release, ok, err := d.DB.TryLock(ctx, demoLockName)
		if err != nil {
			if ctx.Err() == nil {
				d.Log.Warn("demo lock", "err", err)
			}
			continue
		}
		if ok {
			return release, true
		}
	}
}

// runDemoBuild is dashboard.Build; tests count the builds through it.
var runDemoBuild = dashboard.Build

// buildDemo builds the demo's dashboards (nothing to do when they are
// done) and records the number of contexts on its sources. The caller
// holds the demo lock.
func buildDemo(ctx context.Context, d *serveDeps, dir, modelDir string, sources []dashboard.Source) {
	log := d.Log
	model, tok, _ := d.Engine.Model(demoModelID)
	corpus := filepath.Join(dir, "corpus", "eval.jsonl.gz")
	statusCtx := context.WithoutCancel(ctx)
	setStatus := func(source string, st *features.BuildStatus) {
		sctx, cancel := context.WithTimeout(statusCtx, 5*time.Second)
		defer cancel()
		if err := d.DB.SetBuildStatus(sctx, demoModelID, source, st); err != nil {
			log.Warn("demo build status", "source", source, "err", err)
		}
	}
	opts := dashboard.Options{
		ModelID: demoModelID, Model: model, Tokenizer: tok, ModelDir: modelDir, Sources: sources,
		Corpus: corpus, ContextSize: dashboard.DefaultContextSize, MaxContexts: demoMaxContexts, WorkDir: filepath.Join(d.DataDir, "builds"),
		Writer: d.DB, Log: log, Dataset: demoDataset, Status: setStatus,
	}
	res, err := runDemoBuild(ctx, opts)
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info("demo build stopped at a checkpoint; it resumes on the next start")
	case err != nil:
		log.Error("demo build failed", "err", err)
	default:
		logBuildResult(log, demoModelID, res)
		if !res.UpToDate {
			// Now the number of contexts is known: record it on the sources.
			if err := dashboard.Register(statusCtx, d.DB, demoRegistration(sources, d, res.Contexts)); err != nil {
				log.Warn("demo sources", "err", err)
			}
		}
	}
}

// demoRegistration is the demo's catalog rows; contexts is the number of
// dashboard contexts when known (0 leaves it unset).
func demoRegistration(sources []dashboard.Source, d *serveDeps, contexts int) dashboard.Registration {
	model, _, _ := d.Engine.Model(demoModelID)
	return dashboard.Registration{
		ModelID: demoModelID, DisplayName: "demo-gpt2-4l (4-layer GPT-2)", Model: model, Sources: sources,
		NumPrompts: contexts, ContextSize: dashboard.DefaultContextSize, Dataset: demoDataset,
		SetDescriptions: map[string]string{demoSetName: "TopK SAEs (k = 32, 4096 features) on the residual stream before blocks 1-3, trained for the saex demo"},
	}
}

// registerDemo writes the demo's catalog rows when the database lacks any
// of them (a fresh database), and marks sources whose dashboards are not
// built as pending, so pages say they are coming.
func registerDemo(ctx context.Context, d *serveDeps, sources []dashboard.Source) error {
	missing := false
	var existing []*features.Source
	if _, err := d.DB.GetModel(ctx, demoModelID); err != nil {
		if features.ErrorCode(err) != features.ENOTFOUND {
			return err
		}
		missing = true
	} else if existing, err = d.DB.ListSources(ctx, demoModelID); err != nil {
		return err
	}
	have := map[string]*features.Source{}
	for _, s := range existing {
		have[s.ID] = s
	}
	for _, s := range sources {
		if have[s.ID] == nil {
			missing = true
		}
	}
	if missing {
		if err := dashboard.Register(ctx, d.DB, demoRegistration(sources, d, 0)); err != nil {
			return err
		}
		d.Log.Info("demo registered", "model", demoModelID, "sources", len(sources))
	}
	for _, s := range sources {
		if st := have[s.ID]; st != nil && st.Build != nil && st.Build.State == features.BuildDone {
			continue
		}
		err := d.DB.SetBuildStatus(ctx, demoModelID, s.ID, &features.BuildStatus{State: features.BuildPending,
			FeaturesTotal: s.SAE.Cfg.DSAE, UpdatedAt: time.Now()})
		if err != nil {
			return err
		}
	}
	return nil
}
