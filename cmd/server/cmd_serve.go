package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"saex/internal/pgcluster"
	"saex/internal/store"
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
		if err := db.Migrate(ctx); err != nil {
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
}

// buildHandler makes the server's handler. The web layer replaces it (from
// its own file's init) with internal/web's router; until then saex serves
// health endpoints only.
var buildHandler = func(ctx context.Context, d *serveDeps) (http.Handler, error) {
	return healthHandler(d.DB), nil
}

// afterMigrate hooks run once the database is migrated, before serving
// (the demo seeder registers one).
var afterMigrate []func(ctx context.Context, d *serveDeps) error

// healthHandler answers GET /healthz (the process is up) and GET /readyz
// (the database answers and is migrated).
func healthHandler(db *store.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := db.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve")
	addr := env.Getenv("SAEX_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	fs.StringVar(&addr, "addr", addr, "listen address (env SAEX_ADDR)")
	cfg := dbConfig{Migrate: true, OwnCluster: true}
	addDBFlags(fs, env, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := env.Logger()
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	deps := &serveDeps{DB: db, Log: log, Env: env}
	for _, hook := range afterMigrate {
		if err := hook(ctx, deps); err != nil {
			return err
		}
	}
	handler, err := buildHandler(ctx, deps)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
