package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/jobs"
	"saex/internal/llm"
	"saex/internal/store"
)

func init() {
	register("worker", "run queued jobs (dashboard builds from `build --enqueue`, auto-interp jobs from `explain --enqueue`): [--queues build,explain] [--concurrency N]", runWorker)
}

// workerConfig is the worker's flags (also serve --worker's).
type workerConfig struct {
	Queues       string
	Concurrency  int
	ShardTimeout time.Duration
	MergeTimeout time.Duration
	WorkDir      string
	ID           string
	// ExplainTimeout and ExplainFeatures are the explain queue's: one
	// try's bound and the features each auto-interp job has in flight.
	ExplainTimeout  time.Duration
	ExplainFeatures int
}

// addWorkerFlags registers the worker's flags, their names prefixed with
// prefix (serve's are --worker-queues, ...).
func addWorkerFlags(fs *flag.FlagSet, c *workerConfig, prefix string) {
	fs.StringVar(&c.Queues, prefix+"queues", jobs.QueueBuild, "comma-separated queues to work: build, explain (explain needs SAEX_LLM_BASE_URL and SAEX_LLM_MODEL)")
	fs.IntVar(&c.Concurrency, prefix+"concurrency", 1, "jobs run at once")
	fs.DurationVar(&c.ShardTimeout, prefix+"shard-timeout", 30*time.Minute,
		"cancel a shard job after this long and retry it; a killed worker's shard is rerun after about this long")
	fs.DurationVar(&c.MergeTimeout, prefix+"merge-timeout", 4*time.Hour, "cancel a merge job after this long and retry it")
	fs.StringVar(&c.WorkDir, prefix+"work-dir", "", "local scratch of the merges (default: <data-dir>/builds)")
	fs.StringVar(&c.ID, prefix+"id", "", "name of this worker in the job table (default: host-pid)")
	fs.DurationVar(&c.ExplainTimeout, prefix+"explain-timeout", 30*time.Minute,
		"length of one try of an auto-interp job (one that made progress goes on); a killed worker's job is rerun after about this long")
	fs.IntVar(&c.ExplainFeatures, prefix+"explain-features", 4, "features each auto-interp job has in flight at once")
}

func runWorker(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "worker")
	cfg := dbConfig{Migrate: true}
	addDBFlags(fs, env, &cfg)
	var wc workerConfig
	addWorkerFlags(fs, &wc, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("worker: unexpected argument %q", fs.Arg(0))
	}
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	log := env.Logger()
	stop, err := startWorker(ctx, env, db, log, cfg.DataDir, wc)
	if err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("worker stopping: finishing running jobs")
	stop()
	return nil
}

// startWorker starts a River worker over db; stop waits (bounded) for its
// running jobs after ctx ends, and cancels them past the bound (a
// cancelled job reruns from its start or its checkpoints).
func startWorker(ctx context.Context, env *Env, db *store.DB, log *slog.Logger, dataDir string, wc workerConfig) (stop func(), err error) {
	if wc.Concurrency < 1 {
		return nil, fmt.Errorf("worker: --concurrency %d: want 1 or more", wc.Concurrency)
	}
	if wc.ExplainFeatures < 1 {
		return nil, fmt.Errorf("worker: --explain-features %d: want 1 or more", wc.ExplainFeatures)
	}
	if wc.ShardTimeout < time.Second || wc.MergeTimeout < time.Second || wc.ExplainTimeout < time.Second {
		return nil, fmt.Errorf("worker: --shard-timeout %v, --merge-timeout %v, --explain-timeout %v: want at least 1s",
			wc.ShardTimeout, wc.MergeTimeout, wc.ExplainTimeout)
	}
	if wc.WorkDir == "" {
		wc.WorkDir = filepath.Join(dataDir, "builds")
	}
	var queues []string
	for q := range strings.SplitSeq(wc.Queues, ",") {
		if q = strings.TrimSpace(q); q != "" {
			queues = append(queues, q)
		}
	}
	var explain *autointerp.Runner
	if slices.Contains(queues, jobs.QueueExplain) {
		// This worker's own LLM settings, from its environment.
		lc := llmConfigFromEnv(env)
		if lc.BaseURL == "" || lc.Model == "" {
			return nil, errors.New("worker: the explain queue needs an LLM: set SAEX_LLM_BASE_URL and SAEX_LLM_MODEL")
		}
		p, err := lc.pipeline(db)
		if err != nil {
			return nil, fmt.Errorf("worker: explain queue: %w", err)
		}
		// As serve does, embed what the jobs write when an embedding model
		// is configured; a failure is logged and embed-explanations
		// catches up.
		svc, err := lc.semanticSearch(db, log)
		if err != nil {
			return nil, fmt.Errorf("worker: explain queue: %w", err)
		}
		embed := "off"
		if svc != nil {
			embedWrites(p, svc)
			embed = lc.EmbedModel
		}
		explain = &autointerp.Runner{Pipeline: p, Jobs: db, Logger: log, Concurrency: wc.ExplainFeatures}
		log.Info("explain queue", "endpoint", llm.Redacted(lc.BaseURL), "model", p.Explainer.Model, "scorer", p.Scorer.Model,
			"embed_on_write", embed)
	}
	client, err := jobs.NewWorker(jobs.Deps{Pool: db.Pool, Writer: db, WorkDir: wc.WorkDir, Log: log, ID: wc.ID, Explain: explain,
		Status: func(ctx context.Context, model, source string, st *features.BuildStatus) error {
			return db.SetBuildStatus(ctx, model, source, st)
		}}, jobs.WorkerConfig{Queues: queues, Concurrency: wc.Concurrency, ShardTimeout: wc.ShardTimeout, MergeTimeout: wc.MergeTimeout,
		ExplainTimeout: wc.ExplainTimeout})
	if err != nil {
		return nil, err
	}
	// The client runs until stop: its jobs see their context end only
	// when stop gives up waiting for them.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	log.Info("worker started", "queues", queues, "concurrency", wc.Concurrency)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := client.Stop(sctx); err != nil {
			log.Warn("worker: jobs still running at the stop deadline; cancelling them", "err", err)
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.StopAndCancel(cctx)
		}
	}, nil
}
