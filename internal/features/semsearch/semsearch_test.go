package semsearch_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"

	"saex/internal/features"
	"saex/internal/features/semsearch"
	"saex/internal/store"
)

// The Go scan ranks exactly as a float64 brute force does, with the
// full-text routes' filters (model, sources, release) and pages.
func TestScanRankingEqualsBruteForce(t *testing.T) {
	f := newFixture(t)
	s := f.service(t, features.ImportedEmbeddingModel, dims)
	ctx := context.Background()
	cases := []features.ExplanationQuery{
		{Query: "dogs and cats", Limit: 20},
		{Query: "dogs and cats", Limit: 20, Offset: 20},
		{Query: "dogs and cats", Limit: 20, Offset: 150},
		{Query: "the end of a sentence", Limit: 1000},
		{Query: "the end of a sentence", ModelID: "ma", Limit: 20},
		{Query: "the end of a sentence", ModelID: "ma", SourceIDs: []string{"1-res", "0-att"}, Limit: 7, Offset: 3},
		{Query: "numbers", ReleaseName: "r1", Limit: 20},
		{Query: "numbers", ModelID: "mb", SourceIDs: []string{"0-res"}, Limit: 20},
		{Query: "numbers", ModelID: "nope", Limit: 20},
		{Query: "numbers", ReleaseName: "r1", ModelID: "mb", Limit: 20},
	}
	for _, q := range cases {
		hits, total, err := s.SearchExplanations(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		wantIDs, wantCos, wantTotal := f.bruteForce(q, vectorOf(q.Query, dims))
		if total != wantTotal || len(hits) != len(wantIDs) {
			t.Fatalf("%+v: %d hits of %d, want %d of %d", q, len(hits), total, len(wantIDs), wantTotal)
		}
		for i, h := range hits {
			e := h.Explanation
			p := f.where[e.ID]
			if e.ID != wantIDs[i] || h.CosineSimilarity == nil || math.Abs(*h.CosineSimilarity-wantCos[i]) > 1e-5 || h.Rank != *h.CosineSimilarity {
				t.Fatalf("%+v: hit %d = %s (%v), want %s (%v)", q, i, e.ID, h.CosineSimilarity, wantIDs[i], wantCos[i])
			}
			if e.ModelID != p.model || e.SourceID != p.source || e.Description != "label "+e.ID || len(e.Embedding) != dims {
				t.Fatalf("hit %s: %s@%s %q, want %s@%s", e.ID, e.ModelID, e.SourceID, e.Description, p.model, p.source)
			}
		}
	}
	if s.SearchRanking() != features.RankSemantic || f.db.SearchRanking() != features.RankFullText {
		t.Error("rankings")
	}
}

// New and changed explanations show in the next search: the index reloads
// when the model's embeddings change and not otherwise.
func TestIndexFollowsWrites(t *testing.T) {
	f := newFixture(t)
	s := f.service(t, features.ImportedEmbeddingModel, dims)
	ctx := context.Background()
	q := features.ExplanationQuery{Query: "commas in lists", Limit: 5}
	_, total, err := s.SearchExplanations(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if total != len(f.vecs) {
		t.Fatalf("total %d, want %d", total, len(f.vecs))
	}
	// An explanation worded as the query embeds as the query: first, cos 1.
	e := &features.Explanation{ModelID: "mb", SourceID: "0-res", Index: 3, Description: q.Query}
	if err := s.CreateExplanation(ctx, e); err != nil {
		t.Fatal(err)
	}
	hits, total, err := s.SearchExplanations(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if total != len(f.vecs)+1 || hits[0].Explanation.ID != e.ID || math.Abs(*hits[0].CosineSimilarity-1) > 1e-6 {
		t.Fatalf("after create: total %d, first %s %v", total, hits[0].Explanation.ID, *hits[0].CosineSimilarity)
	}
	// Re-describing drops the old embedding (it described the old text).
	e.Description = "something else entirely"
	if err := f.db.WriteExplanations(ctx, []*features.Explanation{e}, nil); err != nil {
		t.Fatal(err)
	}
	hits, total, err = s.SearchExplanations(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if total != len(f.vecs) || hits[0].Explanation.ID == e.ID {
		t.Fatalf("after re-describe: total %d, first %s", total, hits[0].Explanation.ID)
	}
	// Moving an explanation to another source moves it in the filters too.
	moved := "x-ma-0-att-05"
	ex, err := f.db.ExplanationsByID(ctx, []string{moved})
	if err != nil || len(ex) != 1 {
		t.Fatal(ex, err)
	}
	ex[0].ModelID, ex[0].SourceID = "mb", "0-res"
	if err := f.db.WriteExplanations(ctx, ex, nil); err != nil {
		t.Fatal(err)
	}
	_, totalMB, err := s.SearchExplanations(ctx, features.ExplanationQuery{Query: "x", ModelID: "mb", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if totalMB != perSource+1 {
		t.Fatalf("mb has %d embedded explanations after the move, want %d", totalMB, perSource+1)
	}
	// Re-importing unchanged vectors leaves the version (and index) alone.
	v0, _ := f.db.EmbeddingsVersion(ctx, features.ImportedEmbeddingModel, dims)
	if err := f.db.WriteExplanations(ctx, ex, nil); err != nil {
		t.Fatal(err)
	}
	if v1, _ := f.db.EmbeddingsVersion(ctx, features.ImportedEmbeddingModel, dims); v1 != v0 {
		t.Fatalf("unchanged rewrite moved the version %v -> %v", v0, v1)
	}
}

// Backfill embeds what lacks an embedding of the endpoint's model, batch
// by batch, and a run stopped by a failing endpoint resumes where it was.
func TestBackfillResumes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.service(t, "small-embed", 0) // another model: every explanation needs one
	f.ep.dims = 48
	f.ep.failFrom = 4
	done, err := s.Backfill(ctx, 25, nil)
	if err == nil || done != 75 {
		t.Fatalf("first run: %d embedded, err %v; want 75 and the endpoint's error", done, err)
	}
	if strings.Contains(err.Error(), secretKey) {
		t.Fatalf("error leaks the key: %v", err)
	}
	f.ep.mu.Lock()
	f.ep.failFrom, f.ep.requests = 0, 0
	f.ep.mu.Unlock()
	var seen []int
	done, err = s.Backfill(ctx, 25, func(n int) { seen = append(seen, n) })
	if err != nil || done != len(f.vecs)-75 {
		t.Fatalf("second run: %d embedded, err %v; want %d", done, err, len(f.vecs)-75)
	}
	if f.ep.requests != 4 || len(seen) != 4 || seen[3] != done { // 85 left: 25+25+25+10
		t.Fatalf("second run made %d requests, progress %v", f.ep.requests, seen)
	}
	left, err := f.db.ExplanationsToEmbed(ctx, "small-embed", 0, "", 10)
	if err != nil || len(left) != 0 {
		t.Fatalf("left %d, %v", len(left), err)
	}
	// The new model's vectors (48 values) rank on their own.
	hits, total, err := s.SearchExplanations(ctx, features.ExplanationQuery{Query: "label x-ma-1-res-07", Limit: 3})
	if err != nil || total != len(f.vecs) || hits[0].Explanation.ID != "x-ma-1-res-07" || math.Abs(*hits[0].CosineSimilarity-1) > 1e-6 {
		t.Fatalf("search over the backfilled model: %d, %v", total, err)
	}
}

// A failing endpoint is a 503-class error that names the model and never
// the key.
func TestEndpointErrorsHideTheKey(t *testing.T) {
	f := newFixture(t)
	s := f.service(t, features.ImportedEmbeddingModel, dims)
	f.ep.failFrom = 1
	_, _, err := s.SearchExplanations(context.Background(), features.ExplanationQuery{Query: "anything " + secretQuery})
	if err == nil || features.ErrorCode(err) != features.EUNAVAILABLE {
		t.Fatalf("err %v (%s), want unavailable", err, features.ErrorCode(err))
	}
	for _, msg := range []string{err.Error(), features.ErrorMessage(err)} {
		if strings.Contains(msg, secretKey) || !strings.Contains(msg, features.ImportedEmbeddingModel) {
			t.Fatalf("message %q", msg)
		}
	}
	// Creating still works (the explanation is kept, the embedding waits
	// for embed-explanations).
	e := &features.Explanation{ModelID: "ma", SourceID: "0-res", Index: 1, Description: "kept anyway"}
	if err := s.CreateExplanation(context.Background(), e); err != nil || e.ID == "" {
		t.Fatalf("create: %v", err)
	}
	left, _ := f.db.ExplanationsToEmbed(context.Background(), features.ImportedEmbeddingModel, dims, "", 10)
	if len(left) != 1 || left[0].ID != e.ID {
		t.Fatalf("left to embed: %v", left)
	}
}

// otherExtension asks the real server about another extension in place of
// vector, to walk ChooseBackend's "available" branch where pgvector is not
// installed.
type otherExtension struct {
	*store.DB
	name string
}

func (o otherExtension) ExtensionAvailable(ctx context.Context, _ string) (bool, error) {
	return o.DB.ExtensionAvailable(ctx, o.name)
}

// The backend is chosen from pg_available_extensions: pgvector when the
// server has it, else the Go scan, also when enabling pgvector fails.
func TestChooseBackend(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, want := range map[string]bool{"plpgsql": true, "no_such_extension_zz": false} {
		if got, err := f.db.ExtensionAvailable(ctx, name); err != nil || got != want {
			t.Fatalf("ExtensionAvailable(%s) = %v, %v", name, got, err)
		}
	}
	has, err := f.db.ExtensionAvailable(ctx, "vector")
	if err != nil {
		t.Fatal(err)
	}
	s := f.service(t, features.ImportedEmbeddingModel, dims)
	why := s.ChooseBackend(ctx, f.db)
	if has {
		if s.Backend() != "pgvector" {
			t.Fatalf("pgvector available, chose %s: %s", s.Backend(), why)
		}
		// The database ranks as the brute force does at the top.
		q := features.ExplanationQuery{Query: "dogs and cats", ModelID: "ma", Limit: 5}
		hits, total, err := s.SearchExplanations(ctx, q)
		ids, _, wantTotal := f.bruteForce(q, vectorOf(q.Query, dims))
		if err != nil || total != wantTotal || len(hits) == 0 || hits[0].Explanation.ID != ids[0] {
			t.Fatalf("pgvector search: %d of %d, %v", len(hits), total, err)
		}
	} else if s.Backend() != "go-scan" || !strings.Contains(why, "no pgvector") {
		t.Fatalf("no pgvector: chose %s: %s", s.Backend(), why)
	}
	// Available but impossible to enable (here: plpgsql stands in for it,
	// and CREATE EXTENSION vector fails): the scan, with the reason.
	if !has {
		s2 := f.service(t, features.ImportedEmbeddingModel, dims)
		why := s2.ChooseBackend(ctx, otherExtension{f.db, "plpgsql"})
		if s2.Backend() != "go-scan" || !strings.Contains(why, "could not be enabled") {
			t.Fatalf("enable failure: chose %s: %s", s2.Backend(), why)
		}
		var _ semsearch.VectorBackend = otherExtension{}
	}
}

// The index follows writes by reading only the new rows, and falls back to
// a full load when that cannot be exact (a deletion; a writer committing
// out of seq order); either way it ranks as a fresh load does.
func TestIndexUpdatesIncrementally(t *testing.T) {
	f := newFixture(t)
	s := f.service(t, features.ImportedEmbeddingModel, dims)
	var logs bytes.Buffer
	s.Log = slog.New(slog.NewTextHandler(&logs, nil))
	loads := func() int { return strings.Count(logs.String(), "index loaded") }
	ctx := context.Background()
	search := func(q features.ExplanationQuery) ([]*features.ExplanationHit, int) {
		t.Helper()
		hits, total, err := s.SearchExplanations(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return hits, total
	}
	q := features.ExplanationQuery{Query: "quoted strings", Limit: 20}
	search(q)
	if loads() != 1 {
		t.Fatalf("%d loads, want 1", loads())
	}
	// A new explanation and a move: read incrementally.
	e := &features.Explanation{ModelID: "ma", SourceID: "0-att", Index: 7, Description: "quoted strings"}
	if err := s.CreateExplanation(ctx, e); err != nil {
		t.Fatal(err)
	}
	hits, total := search(q)
	if hits[0].Explanation.ID != e.ID || total != len(f.vecs)+1 {
		t.Fatalf("after create: first %s, total %d", hits[0].Explanation.ID, total)
	}
	ex, _ := f.db.ExplanationsByID(ctx, []string{"x-ma-1-res-03"})
	ex[0].ModelID, ex[0].SourceID = "mb", "0-res"
	if err := f.db.WriteExplanations(ctx, ex, nil); err != nil {
		t.Fatal(err)
	}
	if _, n := search(features.ExplanationQuery{Query: "q", ModelID: "mb", Limit: 1}); n != perSource+1 {
		t.Fatalf("mb has %d after the move, want %d", n, perSource+1)
	}
	if loads() != 1 {
		t.Fatalf("%d loads after create and move, want 1 (incremental)", loads())
	}
	// A writer that takes its seq first and commits last: the version
	// moves, the rows above the last seq seen miss it, the counts say so.
	late := &features.Explanation{ModelID: "ma", SourceID: "0-res", Index: 9, Description: "late writer"}
	early := &features.Explanation{ModelID: "ma", SourceID: "0-res", Index: 8, Description: "early writer"}
	for _, x := range []*features.Explanation{late, early} {
		if err := f.db.CreateExplanation(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := f.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	ins := `INSERT INTO explanation_embeddings (explanation_id, model, dims, vec) VALUES ($1, $2, $3, $4)`
	if _, err := tx.Exec(ctx, ins, late.ID, features.ImportedEmbeddingModel, dims, vectorOf(late.Description, dims)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Pool.Exec(ctx, ins, early.ID, features.ImportedEmbeddingModel, dims, vectorOf(early.Description, dims)); err != nil {
		t.Fatal(err)
	}
	if hits, _ := search(features.ExplanationQuery{Query: "early writer", Limit: 1}); hits[0].Explanation.ID != early.ID || loads() != 1 {
		t.Fatalf("early writer: %s, %d loads", hits[0].Explanation.ID, loads())
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if hits, _ := search(features.ExplanationQuery{Query: "late writer", Limit: 1}); hits[0].Explanation.ID != late.ID || loads() != 2 {
		t.Fatalf("late writer: %s, %d loads (want a second, full one)", hits[0].Explanation.ID, loads())
	}
	// A deletion (re-described explanation) reloads too.
	e.Description = "now about something else"
	if err := f.db.WriteExplanations(ctx, []*features.Explanation{e}, nil); err != nil {
		t.Fatal(err)
	}
	if _, n := search(q); n != len(f.vecs)+2 || loads() != 3 {
		t.Fatalf("after the deletion: total %d, %d loads", n, loads())
	}
	// More incremental changes, then the same answers as a fresh load.
	ex, _ = f.db.ExplanationsByID(ctx, []string{"x-mb-0-res-11", "x-ma-0-res-12"})
	for _, x := range ex {
		x.ModelID, x.SourceID = "ma", "0-att"
	}
	if err := f.db.WriteExplanations(ctx, ex, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateExplanation(ctx, &features.Explanation{ModelID: "mb", SourceID: "0-res", Index: 1, Description: "incremental again"}); err != nil {
		t.Fatal(err)
	}
	fresh := f.service(t, features.ImportedEmbeddingModel, dims)
	for _, q := range []features.ExplanationQuery{
		{Query: "incremental again", Limit: 50}, {Query: "dots", ModelID: "ma", SourceIDs: []string{"0-att"}, Limit: 50},
		{Query: "dots", ModelID: "mb", Limit: 30, Offset: 10},
	} {
		got, gotTotal := search(q)
		want, wantTotal, err := fresh.SearchExplanations(ctx, q)
		if err != nil || gotTotal != wantTotal || len(got) != len(want) {
			t.Fatalf("%+v: %d of %d, fresh %d of %d (%v)", q, len(got), gotTotal, len(want), wantTotal, err)
		}
		for i := range got {
			if got[i].Explanation.ID != want[i].Explanation.ID || *got[i].CosineSimilarity != *want[i].CosineSimilarity {
				t.Fatalf("%+v: hit %d %s, fresh %s", q, i, got[i].Explanation.ID, want[i].Explanation.ID)
			}
		}
	}
	if loads() != 3 {
		t.Fatalf("%d loads, want 3", loads())
	}
}

// Searches run while writes move the index on (go test -race).
func TestConcurrentSearchesAndWrites(t *testing.T) {
	f := newFixture(t)
	s := f.service(t, features.ImportedEmbeddingModel, dims)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 3 {
		wg.Go(func() {
			for i := range 8 {
				q := features.ExplanationQuery{Query: fmt.Sprintf("query %d %d", g, i), Limit: 10}
				if _, total, err := s.SearchExplanations(ctx, q); err != nil || total < len(f.vecs) {
					errs <- fmt.Errorf("search: total %d, %v", total, err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 8 {
			e := &features.Explanation{ModelID: "ma", SourceID: "1-res", Index: i, Description: fmt.Sprintf("written %d", i)}
			if err := s.CreateExplanation(ctx, e); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, total, err := s.SearchExplanations(ctx, features.ExplanationQuery{Query: "after", Limit: 1}); err != nil || total != len(f.vecs)+8 {
		t.Fatalf("after the writes: %d, %v", total, err)
	}
}
