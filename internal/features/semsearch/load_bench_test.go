package semsearch_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"saex/internal/features"
	"saex/internal/features/semsearch"
	"saex/internal/store/storetest"
)

// BenchmarkLoadIndex reads N stored 256-d embeddings (SAEX_BENCH_LOAD_N,
// default 100,000) from PostgreSQL into a new in-memory index: what a
// search pays after the model's embeddings changed, and what start-up pays
// with SAEX_EMBED_DIMENSIONS set.
//
//	SAEX_BENCH_LOAD_N=100000 go test -run '^$' -bench LoadIndex -benchtime 3x ./internal/features/semsearch
func BenchmarkLoadIndex(b *testing.B) {
	n := 100_000
	if s := os.Getenv("SAEX_BENCH_LOAD_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			b.Fatalf("SAEX_BENCH_LOAD_N=%q", s)
		}
	}
	ctx := context.Background()
	db := storetest.NewDB(b)
	storetest.NewSource(b, db, &features.Source{ModelID: "m", ID: "0-res", SetName: "res"})
	// Rows made in SQL: the write path has its own tests and costs.
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO features (sid, idx) SELECT s.sid, i FROM sources s, generate_series(0, $1 - 1) i`, []any{n}},
		{`INSERT INTO explanations (id, sid, idx, description) SELECT 'x' || idx, sid, idx, 'label ' || idx FROM features`, nil},
		{`INSERT INTO explanation_embeddings (explanation_id, model, dims, vec)
		  SELECT 'x' || i, $2, 256, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 256) WHERE i >= 0)
		  FROM generate_series(0, $1 - 1) i`, []any{n, features.ImportedEmbeddingModel}},
	} {
		if _, err := db.Pool.Exec(ctx, st.sql, st.args...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ix, err := semsearch.Load(ctx, db, features.ImportedEmbeddingModel, features.EmbeddingDim)
		if err != nil || ix.Len() != n {
			b.Fatalf("loaded %v, %v", ix, err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(n)*1e6, "µs/vector")
}
