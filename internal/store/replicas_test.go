package store_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"saex/internal/store"
	"saex/internal/store/storetest"
)

// TestTryLockAcrossPools checks the advisory lock that several serve
// replicas (separate pools, as separate processes have) take around work
// that must run once: only one pool gets it, release hands it on, and a
// session that dies with the lock held (a replica killed) frees it.
func TestTryLockAcrossPools(t *testing.T) {
	url := storetest.NewURL(t)
	ctx := context.Background()
	open := func() *store.DB {
		db, err := store.Open(ctx, url, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return db
	}
	a, b := open(), open()
	relA, ok, err := a.TryLock(ctx, "saex test lock")
	if err != nil || !ok {
		t.Fatalf("first TryLock: ok %v, %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "saex test lock"); err != nil || ok {
		t.Fatalf("second pool got a held lock: ok %v, %v", ok, err)
	}
	// Even the same pool cannot take it twice: the lock is not re-entrant
	// across its connections.
	if _, ok, err := a.TryLock(ctx, "saex test lock"); err != nil || ok {
		t.Fatalf("same pool, other connection, got a held lock: ok %v, %v", ok, err)
	}
	// Another name is another lock.
	relOther, ok, err := b.TryLock(ctx, "saex other lock")
	if err != nil || !ok {
		t.Fatalf("other name: ok %v, %v", ok, err)
	}
	relOther()
	relA()
	relB, ok, err := b.TryLock(ctx, "saex test lock")
	if err != nil || !ok {
		t.Fatalf("after release: ok %v, %v", ok, err)
	}
	// b's session dies holding it (a replica killed): PostgreSQL frees the
	// lock with the session, and releasing afterwards is harmless.
	c := open()
	if _, err := c.Pool.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	relB()
	rel, ok, err := c.TryLock(ctx, "saex test lock")
	if err != nil || !ok {
		t.Fatalf("after the holder's session died: ok %v, %v", ok, err)
	}
	rel()
}

// TestMigrateConcurrently starts three "replicas" migrating one empty
// database at once: goose's session lock serialises them, every call
// succeeds and each migration is applied exactly once.
func TestMigrateConcurrently(t *testing.T) {
	url := storetest.NewURL(t)
	ctx := context.Background()
	reset, err := store.Open(ctx, url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Back to an empty database: drop what the template migrated.
	if _, err := reset.Pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	reset.Close()
	const n = 3
	dbs := make([]*store.DB, n)
	for i := range dbs {
		if dbs[i], err = store.Open(ctx, url, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(dbs[i].Close)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	cur, target, err := dbs[0].MigrationVersions(ctx)
	if err != nil || cur != target || target == 0 {
		t.Fatalf("schema version %d of %d: %v", cur, target, err)
	}
	var applied, distinct int
	err = dbs[0].Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0 AND is_applied`).
		Scan(&applied, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if applied != distinct || applied == 0 {
		t.Errorf("goose_db_version: %d applied rows for %d versions: a migration ran more than once", applied, distinct)
	}
	if err := dbs[0].Ready(ctx); err != nil {
		t.Errorf("Ready after concurrent migration: %v", err)
	}
}
