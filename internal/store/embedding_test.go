package store_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"saex/internal/features"
	"saex/internal/npexport"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

// loadEmbedded writes the fixture source with an imported embedding on its
// first explanation and returns the db, the feature and that embedding.
func loadEmbedded(t *testing.T) (*store.DB, *features.Feature, []float32) {
	t.Helper()
	db := storetest.NewDB(t)
	meta, fs, err := npexport.LoadSource(fixtureSource)
	if err != nil {
		t.Fatal(err)
	}
	loadMeta(t, db, meta)
	f := fs[0]
	if len(f.Explanations) < 2 {
		t.Fatalf("fixture feature has %d explanations, want 2", len(f.Explanations))
	}
	v := make([]float32, features.EmbeddingDim)
	for i := range v {
		v[i] = float32(i)/7 - 10
	}
	v[0], v[1], v[2] = float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32
	f.Explanations[0].Embedding = v
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: f.ModelID, SourceID: f.SourceID, Features: fs[:1]}); err != nil {
		t.Fatal(err)
	}
	return db, f, v
}

type scanned struct {
	src features.EmbeddedSource
	vec []float32
}

func scanAll(t *testing.T, db *store.DB, model string, dims int) (map[string]scanned, features.EmbeddingsVersion) {
	t.Helper()
	out := map[string]scanned{}
	ver, err := db.ScanExplanationEmbeddings(ctx, model, dims, 0, func(src *features.EmbeddedSource, id string, _ int64, vec []float32) error {
		out[id] = scanned{*src, append([]float32(nil), vec...)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, ver
}

// Imported embeddings land in explanation_embeddings bit for bit, under
// text-embedding-3-large, and scan back with their source.
func TestImportedEmbeddingsScanBack(t *testing.T) {
	db, f, v := loadEmbedded(t)
	got, ver := scanAll(t, db, features.ImportedEmbeddingModel, features.EmbeddingDim)
	e := f.Explanations[0]
	s, ok := got[e.ID]
	if len(got) != 1 || !ok || ver.Count != 1 || ver.MaxSeq == 0 {
		t.Fatalf("scanned %d embeddings (%v), version %+v", len(got), ok, ver)
	}
	for i := range v {
		if math.Float32bits(s.vec[i]) != math.Float32bits(v[i]) {
			t.Fatalf("value %d: %v, want %v", i, s.vec[i], v[i])
		}
	}
	if s.src.ModelID != f.ModelID || s.src.SourceID != f.SourceID || s.src.ReleaseName == "" {
		t.Errorf("source %+v", s.src)
	}
	left, err := db.ExplanationsToEmbed(ctx, features.ImportedEmbeddingModel, features.EmbeddingDim, "", 10)
	if err != nil || len(left) != len(f.Explanations)-1 || left[0].ID == e.ID {
		t.Errorf("left to embed: %d, %v", len(left), err)
	}
}

// Bad embeddings are refused whole: nothing of the batch is written.
func TestWriteExplanationEmbeddingsRefusesBadInput(t *testing.T) {
	db, f, _ := loadEmbedded(t)
	id := f.Explanations[1].ID
	ok := features.ExplanationEmbedding{ExplanationID: id, Model: "m-e", Vector: []float32{1, 2, 3}}
	cases := map[string]struct {
		emb  features.ExplanationEmbedding
		code string
		want string
	}{
		"missing":  {features.ExplanationEmbedding{ExplanationID: "nope", Model: "m-e", Vector: []float32{1}}, features.ENOTFOUND, `"nope" not found`},
		"nan":      {features.ExplanationEmbedding{ExplanationID: id, Model: "m-e", Vector: []float32{1, float32(math.NaN())}}, features.EINVALID, "value 1"},
		"inf":      {features.ExplanationEmbedding{ExplanationID: id, Model: "m-e", Vector: []float32{float32(math.Inf(-1))}}, features.EINVALID, "value 0"},
		"empty":    {features.ExplanationEmbedding{ExplanationID: id, Model: "m-e"}, features.EINVALID, "0 values"},
		"no model": {features.ExplanationEmbedding{ExplanationID: id, Vector: []float32{1}}, features.EINVALID, "model"},
		"nul":      {features.ExplanationEmbedding{ExplanationID: id, Model: "m\x00e", Vector: []float32{1}}, features.EINVALID, "m-e"},
	}
	for name, c := range cases {
		err := db.WriteExplanationEmbeddings(ctx, []features.ExplanationEmbedding{ok, c.emb})
		if features.ErrorCode(err) != c.code || name != "nul" && !strings.Contains(features.ErrorMessage(err), c.want) {
			t.Errorf("%s: %v (%s), want %s naming %q", name, err, features.ErrorCode(err), c.code, c.want)
		}
	}
	if got, _ := scanAll(t, db, "m-e", 3); len(got) != 0 {
		t.Fatalf("a refused batch wrote %d embeddings", len(got))
	}
	if err := db.WriteExplanationEmbeddings(ctx, []features.ExplanationEmbedding{ok}); err != nil {
		t.Fatal(err)
	}
	got, v1 := scanAll(t, db, "m-e", 3)
	if len(got) != 1 || got[id].vec[2] != 3 {
		t.Fatalf("scanned %v", got)
	}
	// Writing the same vector again changes nothing; another one does.
	if err := db.WriteExplanationEmbeddings(ctx, []features.ExplanationEmbedding{ok}); err != nil {
		t.Fatal(err)
	}
	if _, v2 := scanAll(t, db, "m-e", 3); v2 != v1 {
		t.Errorf("same vector moved the version %+v -> %+v", v1, v2)
	}
	ok.Vector = []float32{1, 2, 4}
	if err := db.WriteExplanationEmbeddings(ctx, []features.ExplanationEmbedding{ok}); err != nil {
		t.Fatal(err)
	}
	if _, v3 := scanAll(t, db, "m-e", 3); v3 == v1 || v3.Count != 1 {
		t.Errorf("new vector left the version at %+v", v3)
	}
}

// The pgvector SQL, checked as far as a server without pgvector allows:
// the count query runs with the filters (and a quote in the model name);
// the ranking query and the index parse and fail only for the missing
// vector type.
func TestPgvectorSQL(t *testing.T) {
	db, f, _ := loadEmbedded(t)
	if has, err := db.ExtensionAvailable(ctx, "vector"); err != nil || has {
		t.Skipf("the server has pgvector (%v): semsearch's TestChooseBackend runs the real thing", err)
	}
	if err := db.WriteExplanationEmbeddings(ctx, []features.ExplanationEmbedding{
		{ExplanationID: f.Explanations[1].ID, Model: "it's", Vector: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	imported, _ := scanAll(t, db, features.ImportedEmbeddingModel, features.EmbeddingDim)
	rel := imported[f.Explanations[0].ID].src.ReleaseName
	for _, c := range []struct {
		model, release string
		dims           int
		srcs           []string
		want           int
	}{
		{features.ImportedEmbeddingModel, "", 256, []string{}, 1},
		{"it's", "", 2, []string{f.SourceID}, 1},
		{"it's", "", 2, []string{"0-other"}, 0},
		{"it's", "no-release", 2, []string{}, 0},
		{"it's", rel, 2, []string{}, 1},
		{"it's", "", 3, []string{}, 0},
	} {
		count, _ := store.VectorSearchSQL(c.model, c.dims)
		var n int
		if err := db.Pool.QueryRow(ctx, count, f.ModelID, c.srcs, c.release).Scan(&n); err != nil || n != c.want {
			t.Errorf("%+v: count %d, %v", c, n, err)
		}
	}
	_, page := store.VectorSearchSQL("it's", 2)
	_, err := db.Pool.Exec(ctx, "EXPLAIN "+page, f.ModelID, []string{}, "", store.VectorLiteral([]float32{1, 2}), 20, 0)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42704" || !strings.Contains(pgErr.Message, `type "vector" does not exist`) {
		t.Errorf("ranking query: %v, want only the missing vector type", err)
	}
	_, err = db.Pool.Exec(ctx, store.VectorIndexSQL("it's", 2))
	if !errors.As(err, &pgErr) || pgErr.Code != "42704" || !strings.Contains(pgErr.Message, `type "vector" does not exist`) {
		t.Errorf("index: %v, want only the missing vector type", err)
	}
	if err := db.EnableVectorSearch(ctx, "m", 256); err == nil || !strings.Contains(features.ErrorMessage(err), "vector") {
		t.Errorf("EnableVectorSearch without pgvector: %v", err)
	}
	if got := store.VectorLiteral([]float32{0.5, -1, 2e-7, 3}); got != "[0.5,-1,2e-07,3]" {
		t.Errorf("VectorLiteral = %s", got)
	}
	for v, want := range map[string]bool{"0.7.4": false, "0.8.0": true, "0.10.1": true, "1.0": true, "x": false, "": false} {
		if store.IterativeScan(v) != want {
			t.Errorf("IterativeScan(%q) != %v", v, want)
		}
	}
}

// TestEmbeddingsScanBackBitForBit writes embeddings of random finite
// float32 bit patterns (every exponent, subnormals, signed zeros) through
// the write path and checks that the scan the semantic index loads from
// returns each one bit for bit, under its explanation.
func TestEmbeddingsScanBackBitForBit(t *testing.T) {
	db, f, _ := loadEmbedded(t)
	const model, dims = "test-embedder", 256
	rng := rand.New(rand.NewPCG(3, 5))
	want := map[string][]float32{}
	var embs []features.ExplanationEmbedding
	for _, e := range f.Explanations {
		v := make([]float32, dims)
		for i := range v {
			for {
				v[i] = math.Float32frombits(rng.Uint32())
				if !math.IsNaN(float64(v[i])) && !math.IsInf(float64(v[i]), 0) {
					break
				}
			}
		}
		want[e.ID] = v
		embs = append(embs, features.ExplanationEmbedding{ExplanationID: e.ID, Model: model, Vector: v})
	}
	if err := db.WriteExplanationEmbeddings(ctx, embs); err != nil {
		t.Fatal(err)
	}
	got, ver := scanAll(t, db, model, dims)
	if len(got) != len(want) || ver.Count != int64(len(want)) {
		t.Fatalf("scanned %d embeddings (version count %d), want %d", len(got), ver.Count, len(want))
	}
	for id, w := range want {
		g := got[id].vec
		if len(g) != dims {
			t.Fatalf("%s: %d values", id, len(g))
		}
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				t.Fatalf("%s value %d: %08x, want %08x", id, i, math.Float32bits(g[i]), math.Float32bits(w[i]))
			}
		}
	}
}
