package store

import (
	"context"
	"time"
)

// Several serve replicas (or a serve beside a CLI tool) share one database;
// work that must run once across them (the demo's registration and build)
// takes a PostgreSQL session advisory lock. The lock lives on one pooled
// connection held for as long as the work runs: when the process dies, its
// connection closes and PostgreSQL releases the lock, so a crashed holder
// never blocks the others for good.

// TryLock takes the session advisory lock called name without waiting.
// ok is false when another session holds it. On success release must be
// called (once) to give the lock and its connection back.
func (db *DB) TryLock(ctx context.Context, name string) (release func(), ok bool, err error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, false, dbErr(err, "advisory lock %q", name)
	}
	// hashtextextended spreads names over int8 keys; goose's migration
	// lock uses a fixed key of its own.
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, name).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, dbErr(err, "advisory lock %q", name)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	release = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var unlocked bool
		err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, name).Scan(&unlocked)
		if err != nil || !unlocked {
			// Closing the session is what surely releases its locks; the
			// pool then drops the closed connection instead of reusing it.
			db.Log.Warn("advisory unlock failed; closing its connection", "lock", name, "err", err)
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}
	return release, true, nil
}
