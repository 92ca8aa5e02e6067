package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
	"saex/internal/npexport"
	"saex/internal/store/storetest"
)

// TestStoreBenchmark is the store benchmark of docs/performance.md, run by
// hand (it takes minutes):
//
//	SAEX_STORE_BENCH=1 go test -run TestStoreBenchmark -v -timeout 30m ./cmd/server/
//
// It generates (once, under SAEX_BENCH_EXPORT, default
// /tmp/saex-synth-gpt2) a synthetic export the size of gpt2-small/6-res-jb,
// imports it into a fresh database and reports import wall time, database
// size, bytes per example against a Neuronpedia-layout table holding the
// same rows (text[] tokens + float8[] values, filled from the first
// SAEX_BENCH_NP_FILES activation files, default 4), and GetFeature latency.
func TestStoreBenchmark(t *testing.T) {
	if os.Getenv("SAEX_STORE_BENCH") == "" {
		t.Skip("set SAEX_STORE_BENCH=1 to run the store benchmark")
	}
	ctx := context.Background()
	dir := os.Getenv("SAEX_BENCH_EXPORT")
	if dir == "" {
		dir = "/tmp/saex-synth-gpt2"
	}
	srcDir := filepath.Join(dir, "gpt2-small", "6-res-jb")
	if _, err := os.Stat(filepath.Join(srcDir, "source.jsonl")); err != nil {
		start := time.Now()
		if _, err := npexport.GenerateSynthetic(dir, npexport.SynthOptions{Seed: 1}); err != nil {
			t.Fatal(err)
		}
		t.Logf("generated the synthetic export in %v", time.Since(start))
	}
	url := storetest.NewURL(t)
	start := time.Now()
	if out, err := runCLI(t, "import", "--from", dir, "--database-url", url, "--workers", "2"); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	importWall := time.Since(start)
	db := openTestDB(t, url)
	if _, err := db.Pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		t.Fatal(err)
	}
	res := map[string]any{"import_wall_s": importWall.Seconds()}
	q := func(sql string, dst ...any) {
		if err := db.Pool.QueryRow(ctx, sql).Scan(dst...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var rows, dbSize, actSize, actHeap, tokSize, featSize, explSize int64
	q(`SELECT count(*) FROM activations`, &rows)
	q(`SELECT pg_database_size(current_database()), pg_total_relation_size('activations'), pg_relation_size('activations'),
		pg_total_relation_size('tokens'), pg_total_relation_size('features'), pg_total_relation_size('explanations')`,
		&dbSize, &actSize, &actHeap, &tokSize, &featSize, &explSize)
	res["examples"] = rows
	res["db_size_mb"] = float64(dbSize) / 1e6
	res["activations_total_mb"] = float64(actSize) / 1e6
	res["features_total_mb"] = float64(featSize) / 1e6
	res["explanations_total_mb"] = float64(explSize) / 1e6
	res["token_dictionary_mb"] = float64(tokSize) / 1e6
	res["bytes_per_example"] = float64(actSize) / float64(rows)
	res["bytes_per_example_heap_only"] = float64(actHeap) / float64(rows)
	res["rows_per_s"] = float64(rows) / importWall.Seconds()

	// Neuronpedia's Activation table (docs/neuronpedia.md §1.4) with the same rows.
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE np_activation (
		id text PRIMARY KEY, "modelId" text NOT NULL, layer text NOT NULL, index text NOT NULL,
		tokens text[], "values" float8[], "maxValue" float8, "maxValueTokenIndex" int, "minValue" float8,
		"dfaValues" float8[], "dfaTargetIndex" int, "dfaMaxValue" float8, "lossValues" float8[],
		"logitContributions" text, "binMin" float8, "binMax" float8, "binContains" float8,
		"qualifyingTokenIndex" int, "dataIndex" text, "dataSource" text, "creatorId" text NOT NULL,
		"createdAt" timestamp NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `CREATE INDEX ON np_activation ("modelId", layer, index)`); err != nil {
		t.Fatal(err)
	}
	nFiles := 4
	if v, err := strconv.Atoi(os.Getenv("SAEX_BENCH_NP_FILES")); err == nil && v > 0 {
		nFiles = v
	}
	npRows := 0
	for i := 0; i < nFiles; i++ {
		f, err := npexport.ReadFile(filepath.Join(srcDir, "activations", fmt.Sprintf("batch-%d.jsonl.gz", i)))
		if err != nil {
			break
		}
		acts, _, err := npexport.ParseActivations(f, "", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Pool.CopyFrom(ctx, pgx.Identifier{"np_activation"},
			[]string{"id", "modelId", "layer", "index", "tokens", "values", "maxValue", "maxValueTokenIndex", "minValue",
				"dfaValues", "lossValues", "binMin", "binMax", "binContains", "creatorId", "createdAt"},
			pgx.CopyFromSlice(len(acts), func(j int) ([]any, error) {
				a := acts[j]
				vals := make([]float64, len(a.Values))
				for k, v := range a.Values {
					vals[k] = float64(v)
				}
				return []any{a.ID, a.ModelID, a.SourceID, strconv.Itoa(a.Index), a.Tokens, vals, a.MaxValue,
					a.MaxValueTokenIndex, a.MinValue, []float64{}, []float64{}, a.BinMin, a.BinMax, a.BinContains,
					a.CreatorID, a.CreatedAt}, nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		npRows += len(acts)
	}
	if _, err := db.Pool.Exec(ctx, "VACUUM ANALYZE np_activation"); err != nil {
		t.Fatal(err)
	}
	var npSize int64
	q(`SELECT pg_total_relation_size('np_activation')`, &npSize)
	res["np_rows_sampled"] = npRows
	res["np_bytes_per_example"] = float64(npSize) / float64(npRows)
	res["ratio_ours_to_np"] = res["bytes_per_example"].(float64) / res["np_bytes_per_example"].(float64)

	// GetFeature latency over random features (first touch of each).
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	for i := 0; i < 2000; i++ {
		key := features.FeatureKey{ModelID: "gpt2-small", SourceID: "6-res-jb", Index: rng.IntN(24576)}
		t0 := time.Now()
		f, err := db.GetFeature(ctx, key, features.FeatureOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if len(f.Activations) != 50 {
			t.Fatalf("%s: %d examples", key, len(f.Activations))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res["get_feature_p50_ms"] = float64(lat[len(lat)/2].Microseconds()) / 1000
	res["get_feature_p99_ms"] = float64(lat[len(lat)*99/100].Microseconds()) / 1000
	b, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("store benchmark:\n%s", b)
	fmt.Println(string(b))
}
