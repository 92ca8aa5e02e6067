package store_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

// TestImportStorageMigration checks migration 00013: feature rows of a few
// KB stay inline (nothing reaches the TOAST table), and the toastable
// columns of features, activations and explanations use lz4 where the
// server has it (pglz, the default, where it does not: the migration must
// still have run).
func TestImportStorageMigration(t *testing.T) {
	db := storetest.NewDB(t)
	var opts []string
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = 'features'::regclass`).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if len(opts) != 1 || opts[0] != "toast_tuple_target=8160" {
		t.Errorf("features reloptions %q, want [toast_tuple_target=8160]", opts)
	}

	hasLZ4 := true
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TEMP TABLE lz4_probe (t text COMPRESSION lz4) ON COMMIT DROP`)
		return err
	})
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "0A000" {
		hasLZ4 = false
	} else if err != nil {
		t.Fatal(err)
	}
	want := "l"
	if !hasLZ4 {
		want = ""
	}
	rows, err := db.Pool.Query(ctx, `SELECT attrelid::regclass::text, attname, attcompression::text FROM pg_attribute
		WHERE attrelid IN ('features'::regclass, 'activations'::regclass, 'explanations'::regclass)
		  AND attnum > 0 AND NOT attisdropped AND attstorage IN ('x', 'm')`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var table, col, comp string
		if err := rows.Scan(&table, &col, &comp); err != nil {
			t.Fatal(err)
		}
		n++
		if comp != want {
			t.Errorf("%s.%s compression %q, want %q (server has lz4: %v)", table, col, comp, want, hasLZ4)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 30 {
		t.Errorf("%d toastable columns checked, want the ~40 of the three tables", n)
	}

	// A wide-SAE feature (~2.7 KB: neighbours, histograms, top logits) is
	// over the 2 KB at which PostgreSQL would TOAST it by default.
	if err := db.UpsertModel(ctx, &features.Model{ID: "m"}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: "m", Name: "res"}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertSource(ctx, &features.Source{ModelID: "m", ID: "0-res", SetName: "res"}); err != nil {
		t.Fatal(err)
	}
	floats := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = 1 / float64(i+3)
		}
		return out
	}
	ints := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i * 7919
		}
		return out
	}
	words := []string{" the", " python", " code", " of", " and", " to", " in", " is", " for", " on"}
	f := &features.Feature{Index: 3, MaxActApprox: 2, FracNonzero: 1e-3,
		TopkCosSimIndices: ints(25), TopkCosSimValues: floats(25),
		FreqHistHeights: floats(50), FreqHistValues: floats(50), LogitsHistHeights: floats(50), LogitsHistValues: floats(50),
		PosStr: words, PosValues: floats(10), NegStr: words, NegValues: floats(10),
		NeuronAlignmentIndices: ints(3), NeuronAlignmentValues: floats(3), NeuronAlignmentL1: floats(3)}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "m", SourceID: "0-res", Features: []*features.Feature{f}}); err != nil {
		t.Fatal(err)
	}
	var rowBytes, toastBytes int64
	if err := db.Pool.QueryRow(ctx, `SELECT pg_column_size(f.*), pg_relation_size(c.reltoastrelid)
		FROM features f, pg_class c WHERE f.idx = 3 AND c.oid = 'features'::regclass`).Scan(&rowBytes, &toastBytes); err != nil {
		t.Fatal(err)
	}
	if rowBytes < 2100 {
		t.Errorf("the test feature's row is %d bytes: too small to have been TOASTed before 00013", rowBytes)
	}
	if toastBytes != 0 {
		t.Errorf("features' TOAST table holds %d bytes after writing one %d-byte row, want it inline", toastBytes, rowBytes)
	}
}
