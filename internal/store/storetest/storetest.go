// Package storetest gives tests a fresh, migrated PostgreSQL database:
// a template database is migrated once (named after a hash of the
// migrations, so a changed schema gets a new template) and every test gets
// a clone of it, dropped when the test ends.
//
// The server is TEST_DATABASE_URL, or postgres://postgres@127.0.0.1:5432/test.
// When it is unreachable tests fail, unless SAEX_SKIP_DB=1 opts out of them
// (and neither CI=true nor SAEX_REQUIRE_DB=1 is set): see internal/testenv.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/testenv"
	"saex/migrations"
)

// DefaultURL is the server tests use when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test"

// ServerURL returns the configured test server URL.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

func unavailable(tb testing.TB, err error) {
	tb.Helper()
	testenv.Missing(tb, testenv.Postgres, fmt.Errorf("storetest: PostgreSQL at %s: %w", ServerURL(), err))
}

// withDatabase returns url with its database name replaced.
func withDatabase(url, name string) (string, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "", err
	}
	cfg.Database = name
	// Rebuild a key=value DSN: the parsed config keeps host, port, user,
	// password and TLS settings we need to preserve.
	parts := []string{
		"host=" + quote(cfg.Host),
		fmt.Sprintf("port=%d", cfg.Port),
		"user=" + quote(cfg.User),
		"dbname=" + quote(name),
	}
	if cfg.Password != "" {
		parts = append(parts, "password="+quote(cfg.Password))
	}
	if cfg.TLSConfig == nil {
		parts = append(parts, "sslmode=disable")
	}
	return strings.Join(parts, " "), nil
}

func quote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func adminConn(ctx context.Context) (*pgx.Conn, error) {
	u, err := withDatabase(ServerURL(), "postgres")
	if err != nil {
		return nil, err
	}
	return pgx.Connect(ctx, u)
}

func ensureTemplate(ctx context.Context) (string, error) {
	name := "saex_tmpl_" + migrations.Hash()
	conn, err := adminConn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	// Test binaries of several packages run at once: serialise creation.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext('saex.storetest.template'))`); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('saex.storetest.template'))`)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	// Build under a scratch name and rename when complete, so a crash
	// mid-migration never leaves a half-made template behind.
	building := name + "_building"
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+building); err != nil {
		return "", err
	}
	u, err := withDatabase(ServerURL(), building)
	if err != nil {
		return "", err
	}
	db, err := store.Open(ctx, u, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	err = db.Migrate(ctx)
	db.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, `ALTER DATABASE `+building+` RENAME TO `+name); err != nil {
		return "", err
	}
	return name, nil
}

// NewURL creates a fresh migrated database for tb and returns its
// connection string; the database is dropped when tb ends.
func NewURL(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx) })
	if templateErr != nil {
		unavailable(tb, templateErr)
	}
	conn, err := adminConn(ctx)
	if err != nil {
		unavailable(tb, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "saex_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+templateName); err != nil {
		tb.Fatalf("storetest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := adminConn(ctx)
		if err != nil {
			tb.Errorf("storetest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("storetest: drop %s: %v", name, err)
		}
	})
	u, err := withDatabase(ServerURL(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// NewDB returns an open *store.DB on a fresh migrated database, closed and
// dropped when tb ends.
func NewDB(tb testing.TB) *store.DB {
	tb.Helper()
	u := NewURL(tb)
	db, err := store.Open(context.Background(), u, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("storetest: open: %v", err)
	}
	tb.Cleanup(db.Close) // runs before the drop registered by NewURL
	return db
}

// NewSource stores src with the model and source set it names (both
// otherwise empty), for tests that need somewhere to write features.
func NewSource(tb testing.TB, db *store.DB, src *features.Source) {
	tb.Helper()
	ctx := context.Background()
	for _, err := range []error{
		db.UpsertModel(ctx, &features.Model{ID: src.ModelID}),
		db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: src.ModelID, Name: src.SetName}),
		db.UpsertSource(ctx, src),
	} {
		if err != nil {
			tb.Fatalf("storetest: source %s/%s: %v", src.ModelID, src.ID, err)
		}
	}
}

// Indices lists the feature indices of a ListFeatures page, in its order
// (nil for an empty page).
func Indices(page []*features.FeatureSummary) []int {
	var idx []int
	for _, s := range page {
		idx = append(idx, s.Key.Index)
	}
	return idx
}

// OrderLike reorders want's examples and explanations into the order got
// has them, matching by id, so that a test can compare what it wrote (want)
// with what the store returned (got) without restating the store's ORDER BY
// (the store's own tests pin that order). Entries of want that got lacks go
// last, in their own order, so length and equality checks still catch them.
func OrderLike(want, got *features.Feature) {
	want.Activations = orderByID(want.Activations, got.Activations, func(a *features.Activation) string { return a.ID })
	want.Explanations = orderByID(want.Explanations, got.Explanations, func(e *features.Explanation) string { return e.ID })
}

func orderByID[T any](want, got []T, id func(T) string) []T {
	if len(want) == 0 {
		return want // nil stays nil for reflect.DeepEqual
	}
	pos := make(map[string]int, len(got))
	for i, g := range got {
		pos[id(g)] = i
	}
	byPos := make([]T, len(got))
	has := make([]bool, len(got))
	var rest []T
	for _, w := range want {
		if i, ok := pos[id(w)]; ok && !has[i] {
			byPos[i], has[i] = w, true
			continue
		}
		rest = append(rest, w)
	}
	out := make([]T, 0, len(want))
	for i, w := range byPos {
		if has[i] {
			out = append(out, w)
		}
	}
	return append(out, rest...)
}
