package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"saex/internal/features"
	"saex/internal/jobs"
	"saex/internal/store"
)

func init() {
	register("worker", "run queued jobs (dashboard builds enqueued by `build --enqueue`): [--queues build] [--concurrency N]", runWorker)
}

// workerConfig is the worker's flags (also serve --worker's).
type workerConfig struct {
	Queues       string
	Concurrency  int
	ShardTimeout time.Duration
	MergeTimeout time.Duration
	WorkDir      string
	ID           string
}

// addWorkerFlags registers the worker's flags, their names prefixed with
// prefix (serve's are --worker-queues, ...).
func addWorkerFlags(fs *flag.FlagSet, c *workerConfig, prefix string) {
	fs.StringVar(&c.Queues, prefix+"queues", jobs.QueueBuild, "comma-separated queues to work (build)")
	fs.IntVar(&c.Concurrency, prefix+"concurrency", 1, "jobs run at once")
	fs.DurationVar(&c.ShardTimeout, prefix+"shard-timeout", 30*time.Minute,
		"cancel a shard job after this long and retry it; a killed worker's shard is rerun after about this long")
	fs.DurationVar(&c.MergeTimeout, prefix+"merge-timeout", 4*time.Hour, "cancel a merge job after this long and retry it")
	fs.StringVar(&c.WorkDir, prefix+"work-dir", "", "local scratch of the merges (default: <data-dir>/builds)")
	fs.StringVar(&c.ID, prefix+"id", "", "name of this worker in the job table (default: host-pid)")
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
	stop, err := startWorker(ctx, db, log, cfg.DataDir, wc)
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
func startWorker(ctx context.Context, db *store.DB, log *slog.Logger, dataDir string, wc workerConfig) (stop func(), err error) {
	if wc.Concurrency < 1 {
		return nil, fmt.Errorf("worker: --concurrency %d: want 1 or more", wc.Concurrency)
	}
	if wc.ShardTimeout < time.Second || wc.MergeTimeout < time.Second {
		return nil, fmt.Errorf("worker: --shard-timeout %v, --merge-timeout %v: want at least 1s", wc.ShardTimeout, wc.MergeTimeout)
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
	client, err := jobs.NewWorker(jobs.Deps{Pool: db.Pool, Writer: db, WorkDir: wc.WorkDir, Log: log, ID: wc.ID,
		Status: func(ctx context.Context, model, source string, st *features.BuildStatus) error {
			return db.SetBuildStatus(ctx, model, source, st)
		}}, jobs.WorkerConfig{Queues: queues, Concurrency: wc.Concurrency, ShardTimeout: wc.ShardTimeout, MergeTimeout: wc.MergeTimeout})
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
