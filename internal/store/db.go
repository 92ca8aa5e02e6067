// Package store is saex's PostgreSQL implementation of the services in
// internal/features: catalog, features, explanations, bulk writes, API keys.
//
// One *DB implements every service; methods open what they need (a pooled
// connection, a batch, a transaction) and unexported helpers take a pgx.Tx
// or a querier so they compose inside one transaction.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"saex/internal/features"
	"saex/migrations"
)

// DB is a connection pool to a saex database with the in-memory caches the
// read and write paths share.
type DB struct {
	Pool *pgxpool.Pool
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	Log *slog.Logger

	sids     sync.Map // "model\x00source" -> int32 sid
	dicts    sync.Map // model id -> *tokenDict
	names    sync.Map // name -> int32 id
	nameByID sync.Map // int32 id -> name
	nameMu   sync.Mutex

	// Rank marks (ranks.go): the stride between marks (0: the default),
	// no background refresh (tests refresh by hand), refresh state by sid.
	rankStride    int
	rankManual    bool
	rankRefreshes sync.Map
	// matchCap lowers features.MatchCap in tests.
	matchCap int

	// LazyCheckpointCommits makes the transactions that record a
	// checkpoint (features.Checkpoint: one import file each) commit with
	// synchronous_commit off. Such a transaction holds its own checkpoint,
	// so a crash can only lose whole units together with their
	// checkpoints, which the rerun then writes again; it never leaves a
	// half-written unit or a checkpoint without its rows. `saex import`
	// sets it; other writers (API, builds) keep durable commits.
	LazyCheckpointCommits bool
}

var (
	_ features.CatalogService     = (*DB)(nil)
	_ features.FeatureService     = (*DB)(nil)
	_ features.ExplanationService = (*DB)(nil)
	_ features.FeatureWriter      = (*DB)(nil)
	_ features.APIKeyService      = (*DB)(nil)
	_ features.Pinger             = (*DB)(nil)
)

// Open connects to the database at url (a postgres:// URL or key=value DSN)
// and checks that it answers. It does not migrate: call Migrate.
func Open(ctx context.Context, url string, log *slog.Logger) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, features.Wrap(features.EINVALID, err, "invalid database URL")
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	// No JIT: its compile step costs 50-700 ms on any query the planner
	// prices above jit_above_cost, which a scan of a large source is, and
	// saex's queries are short. A URL's own options=-c jit=on still wins.
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		registerArrayCodecs(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, dbErr(err, "connect to database")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, dbErr(err, "connect to database")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DB{Pool: pool, Now: time.Now, Log: log}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

func (db *DB) now() time.Time { return db.Now().UTC().Truncate(time.Microsecond) }

func (db *DB) provider() (*goose.Provider, func() error, error) {
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS,
		goose.WithSessionLocker(locker), goose.WithSlog(db.Log))
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	return p, sqlDB.Close, nil
}

// Migrate applies every pending migration. Concurrent callers serialise on
// a Postgres advisory lock, so several servers may start at once.
func (db *DB) Migrate(ctx context.Context) error {
	p, closeDB, err := db.provider()
	if err != nil {
		return dbErr(err, "prepare migrations")
	}
	defer closeDB()
	res, err := p.Up(ctx)
	if err != nil {
		return dbErr(err, "migrate database")
	}
	for _, r := range res {
		db.Log.Info("migrated", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// MigrationVersions returns the database's schema version and the newest
// version this binary knows.
func (db *DB) MigrationVersions(ctx context.Context) (current, target int64, err error) {
	p, closeDB, err := db.provider()
	if err != nil {
		return 0, 0, dbErr(err, "prepare migrations")
	}
	defer closeDB()
	current, target, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, dbErr(err, "read schema version")
	}
	return current, target, nil
}

// Ready reports EUNAVAILABLE when the database does not answer or its
// schema is behind this binary's migrations.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.Pool.Ping(ctx); err != nil {
		return dbErr(err, "database not reachable")
	}
	var cur int64
	err := db.Pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&cur)
	if err != nil {
		return features.Wrap(features.EUNAVAILABLE, err, "database not migrated")
	}
	if target := latestMigration(); cur < target {
		return features.Errorf(features.EUNAVAILABLE, "database schema at version %d, want %d", cur, target)
	}
	return nil
}

var latestMigrationOnce = sync.OnceValue(func() int64 {
	// goose numbers migrations by their file-name prefix.
	var maxV int64
	entries, _ := migrations.FS.ReadDir(".")
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > maxV {
			maxV = v
		}
	}
	return maxV
})

func latestMigration() int64 { return latestMigrationOnce() }

// dbErr maps a database error to a domain error: connection trouble is
// EUNAVAILABLE (the web layer answers 503), constraint violations are
// EINVALID or ECONFLICT, anything else EINTERNAL.
func dbErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var fe *features.Error
	if errors.As(err, &fe) {
		return err
	}
	msg := fmt.Sprintf(format, args...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return features.Wrap(features.ECONFLICT, err, "%s: already exists", msg)
		case pgErr.Code == "23503", pgErr.Code == "23502", pgErr.Code == "22P02", pgErr.Code == "22021", pgErr.Code == "54000":
			return features.Wrap(features.EINVALID, err, "%s: %s", msg, pgErr.Message)
		case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "53" || pgErr.Code[:2] == "57"):
			return features.Wrap(features.EUNAVAILABLE, err, "%s: database unavailable", msg)
		}
		return features.Wrap(features.EINTERNAL, err, "%s", msg)
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	// A connection that dies mid-query (the server stopped, the network
	// dropped) surfaces as EOF or a closed conn, not as a net.Error.
	if errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, pgx.ErrTxClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) {
		return features.Wrap(features.EUNAVAILABLE, err, "%s: database unavailable", msg)
	}
	if err.Error() == "closed pool" { // pgxpool's error has no type
		return features.Wrap(features.EUNAVAILABLE, err, "%s: database closed", msg)
	}
	if errors.Is(err, context.Canceled) {
		return features.Wrap(features.EUNAVAILABLE, err, "%s: canceled", msg)
	}
	return features.Wrap(features.EINTERNAL, err, "%s", msg)
}
