package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"saex/internal/inference"
	"saex/internal/jobs"
	"saex/internal/pgcluster"
	"saex/internal/store"
	mw "saex/internal/web/middleware"
)

func init() {
	register("serve", "run the web server (embedded PostgreSQL when DATABASE_URL is unset)", runServe)
}

// dbConfig says where the database is: DATABASE_URL, or else a private
// cluster kept under DataDir.
type dbConfig struct {
	DatabaseURL string
	DataDir     string
	Migrate     bool // apply pending migrations after connecting
	// OwnCluster stops an embedded cluster at cleanup even when it was
	// already running (serve owns it; a tool run beside serve must not stop it).
	OwnCluster bool
}

// addDBFlags registers --database-url and --data-dir with their
// environment defaults (DATABASE_URL, SAEX_DATA_DIR).
func addDBFlags(fs *flag.FlagSet, env *Env, cfg *dbConfig) {
	fs.StringVar(&cfg.DatabaseURL, "database-url", env.Getenv("DATABASE_URL"),
		"PostgreSQL URL (env DATABASE_URL); empty: run a private cluster under --data-dir")
	dataDir := env.Getenv("SAEX_DATA_DIR")
	if dataDir == "" {
		dataDir = "./.data"
	}
	fs.StringVar(&cfg.DataDir, "data-dir", dataDir, "data directory for the embedded PostgreSQL cluster (env SAEX_DATA_DIR)")
}

// openDatabase connects to the configured database, starting the embedded
// cluster when no URL is given, and migrates when cfg.Migrate. cleanup
// closes the pool and stops a cluster this call started.
func openDatabase(ctx context.Context, env *Env, cfg dbConfig) (db *store.DB, cleanup func(), err error) {
	log := env.Logger()
	url := cfg.DatabaseURL
	stop := func() {}
	if url == "" {
		c, err := pgcluster.Start(ctx, cfg.DataDir, log)
		if err != nil {
			return nil, nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		url = c.URL
		if !c.Adopted || cfg.OwnCluster {
			stop = func() {
				if err := c.Stop(context.Background()); err != nil {
					log.Error("stop PostgreSQL", "err", err)
				}
			}
		}
	}
	db, err = store.Open(ctx, url, log)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if cfg.Migrate {
		err := db.Migrate(ctx)
		if err == nil {
			// River's tables, for dashboard builds run as jobs.
			err = jobs.Migrate(ctx, db.Pool, log)
		}
		if err != nil {
			db.Close()
			stop()
			return nil, nil, err
		}
	}
	return db, func() { db.Close(); stop() }, nil
}

// serveDeps is what the HTTP handler is built from.
type serveDeps struct {
	DB  *store.DB
	Log *slog.Logger
	Env *Env
	// Harden is the hardening configuration from serve's flags.
	Harden *hardenConfig
	// Background runs jobs that outlive startup (the demo build): start
	// them with Background.Go and make them stop at a checkpoint when ctx
	// ends. On shutdown serve drains HTTP first, then waits for them, and
	// only then closes the database.
	Background *sync.WaitGroup
	// Engine runs prompts in-process; the demo seeder (demo.go) loads the
	// demo model into it and webServerHooks hand it to the web server. Its
	// Scheduler also admits the web server's reads, so that prompts and
	// reads share the machine through one object.
	Engine *inference.Engine
	// DataDir is --data-dir (spill files of dashboard builds live under it).
	DataDir string
	// Demo is the demo-seeding configuration (--no-demo, --demo-dir).
	Demo *demoConfig
	// AutoInterpJobs is where page-started auto-interp jobs run:
	// autoInterpInProcess or autoInterpQueue (--autointerp-jobs).
	AutoInterpJobs string
}

// Values of serve's --autointerp-jobs.
const (
	autoInterpInProcess = "process"
	autoInterpQueue     = "queue"
)

// buildHandler makes the server's handler: internal/web's router behind
// the production hardening (serve_web.go; engine wiring: webServerHooks).
var buildHandler = buildWebHandler

// afterMigrate hooks run once the database is migrated, before serving
// (the demo seeder registers one).
var afterMigrate []func(ctx context.Context, d *serveDeps) error

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve")
	addr := env.Getenv("SAEX_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	fs.StringVar(&addr, "addr", addr, "listen address (env SAEX_ADDR)")
	cfg := dbConfig{Migrate: true, OwnCluster: true}
	addDBFlags(fs, env, &cfg)
	var harden hardenConfig
	if err := addHardenFlags(fs, env, &harden); err != nil {
		return err
	}
	demo := addDemoFlags(fs, env)
	runJobs := fs.Bool("worker", false, "also run a job worker (as `saex worker`) in this process")
	var wc workerConfig
	addWorkerFlags(fs, &wc, "worker-")
	aiJobs := fs.String("autointerp-jobs", autoInterpInProcess,
		"where auto-interp jobs started from the source page run: process (here) or queue (River's explain queue, for `saex worker --queues explain` or --worker --worker-queues explain)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *aiJobs != autoInterpInProcess && *aiJobs != autoInterpQueue {
		return fmt.Errorf("serve: --autointerp-jobs %q: want process or queue", *aiJobs)
	}
	log := env.Logger()
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	sched := inference.NewScheduler(inference.DefaultComputeSlots, harden.ReadConcurrency)
	deps := &serveDeps{DB: db, Log: log, Env: env, Harden: &harden, Background: &sync.WaitGroup{},
		Engine: inference.NewEngine(sched, inference.DefaultPromptCacheSize), DataDir: cfg.DataDir, Demo: demo,
		AutoInterpJobs: *aiJobs}
	// Deferred calls run last in, first out: the jobs' context ends, they
	// finish at a checkpoint, then cleanup closes the database. The context
	// also ends when Serve fails, so a job never outlives serve.
	defer deps.Background.Wait()
	ctx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	for _, hook := range afterMigrate {
		if err := hook(ctx, deps); err != nil {
			return err
		}
	}
	if *runJobs {
		stopWorker, err := startWorker(ctx, env, db, log, cfg.DataDir, wc)
		if err != nil {
			return err
		}
		deps.Background.Go(func() {
			<-ctx.Done()
			stopWorker()
		})
	}
	handler, err := buildHandler(ctx, deps)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := mw.NewHTTPServer(handler, mw.DefaultTimeouts, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting, let in-flight requests finish
	// (bounded), then the deferred waits stop background jobs at their
	// checkpoints and close the database.
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("requests still running at the shutdown deadline", "err", err)
		_ = srv.Close()
	}
	log.Info("requests drained; waiting for background jobs")
	return nil
}
