package store_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

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
	storetest.NewSource(t, db, &features.Source{ModelID: "m", ID: "0-res", SetName: "res"})
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

// TestWriteExplanationsPaths writes explanations through each path of
// upsertExplanations: the one-statement upsert (nullable columns set and
// unset), rows with an embedding (row by row), a rewrite of stored ids, and
// a batch repeating an id (row by row, the later row wins). Each must read
// back as written.
func TestWriteExplanationsPaths(t *testing.T) {
	db := storetest.NewDB(t)
	storetest.NewSource(t, db, &features.Source{ModelID: "m", ID: "0-res", SetName: "res"})
	fs := []*features.Feature{{Index: 1}, {Index: 2}}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "m", SourceID: "0-res", Features: fs}); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	f64 := func(v float64) *float64 { return &v }
	cluster := -7
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	emb := make([]float32, features.EmbeddingDim)
	for i := range emb {
		emb[i] = float32(i) / 10
	}
	exp := func(id string, idx int, desc string) *features.Explanation {
		return &features.Explanation{ID: id, ModelID: "m", SourceID: "0-res", Index: idx, Description: desc, CreatedAt: at}
	}
	full := exp("xfull", 1, "python code")
	full.TypeName, full.ExplanationModelName, full.AuthorID = "oai", "gpt", "u1"
	full.TriggeredByID, full.Notes, full.ScoreV1, full.ScoreV2 = str("u2"), str("n"), 0.5, f64(0.25)
	full.UmapX, full.UmapY, full.UmapCluster, full.UmapLogFeatureSparsity = f64(1), f64(-2), &cluster, f64(-3.5)
	withEmb := exp("xemb", 2, "music")
	withEmb.Embedding = emb
	want := map[string]*features.Explanation{"xfull": full, "xemb": withEmb, "xbare": exp("xbare", 2, "bare")}
	if err := db.WriteExplanations(ctx, []*features.Explanation{full, withEmb, want["xbare"]}, nil); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got := map[string]*features.Explanation{}
		for _, idx := range []int{1, 2} {
			f, err := db.GetFeature(ctx, features.FeatureKey{ModelID: "m", SourceID: "0-res", Index: idx}, features.FeatureOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range f.Explanations {
				got[e.ID] = e
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d explanations stored, want %d", when, len(got), len(want))
		}
		for id, w := range want {
			g := got[id]
			if g == nil {
				t.Errorf("%s: %s missing", when, id)
				continue
			}
			if g.Description != w.Description || g.TypeName != w.TypeName || g.ExplanationModelName != w.ExplanationModelName ||
				g.AuthorID != w.AuthorID || !reflect.DeepEqual(g.TriggeredByID, w.TriggeredByID) || !reflect.DeepEqual(g.Notes, w.Notes) ||
				g.ScoreV1 != w.ScoreV1 || !reflect.DeepEqual(g.ScoreV2, w.ScoreV2) || !reflect.DeepEqual(g.UmapX, w.UmapX) ||
				!reflect.DeepEqual(g.UmapY, w.UmapY) || !reflect.DeepEqual(g.UmapCluster, w.UmapCluster) ||
				!reflect.DeepEqual(g.UmapLogFeatureSparsity, w.UmapLogFeatureSparsity) || !g.CreatedAt.Equal(w.CreatedAt) ||
				g.Index != w.Index || len(g.Embedding) != len(w.Embedding) {
				t.Errorf("%s: %s reads back as\n%+v\nwant\n%+v", when, id, g, w)
			}
		}
	}
	check("first write")

	// Rewrite: xfull moves to feature 2 and loses its optional columns;
	// the batch names xbare twice, so the later row must win.
	moved := exp("xfull", 2, "moved")
	want["xfull"] = moved
	want["xbare"] = exp("xbare", 1, "second")
	if err := db.WriteExplanations(ctx, []*features.Explanation{moved, exp("xbare", 2, "first"), want["xbare"]}, nil); err != nil {
		t.Fatal(err)
	}
	check("rewrite with a repeated id")
}
