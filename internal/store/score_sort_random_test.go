package store_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

// TestListFeaturesByScoreMatchesAggregate checks the sort by a scorer
// (feature_best_scores and its tallies, migration 00010) against the
// aggregate over every score it replaced, on random data that goes through
// what the triggers must follow: scores added one and many at a time (ties,
// a NaN), re-scored, deleted; explanations deleted and re-inserted as a
// dashboard rebuild does, moved to another feature; features deleted; with
// and without hide-dead and a text query; every page, both directions.
func TestListFeaturesByScoreMatchesAggregate(t *testing.T) {
	db := storetest.NewDB(t)
	storetest.NewSource(t, db, &features.Source{ModelID: "m", ID: "0-res", SetName: "res", NumFeatures: 36})
	var sid int32
	if err := db.Pool.QueryRow(ctx, `SELECT sid FROM sources WHERE model_id = 'm'`).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A third dead, so that hide-dead drops scored and unscored ones.
	exec(`INSERT INTO features (sid, idx, max_act_approx) SELECT $1, g, CASE WHEN g % 3 = 0 THEN 0 ELSE g END
		FROM generate_series(0, 35) g`, sid)

	r := rand.New(rand.NewPCG(14, 15))
	types := []string{"recall", "fuzz"}
	words := []string{"cat", "dog", "cats and dogs", "bird"}
	values := []float64{0.1, 0.5, 0.5, 0.9, 1} // ties
	nExpl, nScore := 0, 0
	explain := func(idx int) string {
		nExpl++
		id := fmt.Sprintf("e%d", nExpl)
		exec(`INSERT INTO explanations (id, sid, idx, description) VALUES ($1, $2, $3, $4)`, id, sid, idx, words[r.IntN(len(words))])
		return id
	}
	score := func(ids ...string) {
		// One statement for all of them: several scores of one feature
		// and type at once.
		var rows []string
		for _, id := range ids {
			nScore++
			rows = append(rows, fmt.Sprintf("('s%d', '%s', %v, '%s')", nScore, id, values[r.IntN(len(values))], types[r.IntN(len(types))]))
		}
		exec(`INSERT INTO explanation_scores (id, explanation_id, value, explanation_score_type_name) VALUES ` + strings.Join(rows, ", "))
	}
	live := func() []int {
		rows, _ := db.Pool.Query(ctx, `SELECT idx FROM features WHERE sid = $1 ORDER BY idx`, sid)
		var idx []int
		for rows.Next() {
			var i int32
			if err := rows.Scan(&i); err != nil {
				t.Fatal(err)
			}
			idx = append(idx, int(i))
		}
		return idx
	}

	rounds := []struct {
		name string
		op   func()
	}{
		{"scores one at a time", func() {
			for range 40 {
				score(explain(r.IntN(36)))
			}
		}},
		{"many scores in one statement", func() {
			var ids []string
			for range 30 {
				ids = append(ids, explain(r.IntN(36)))
			}
			score(append(ids, ids[:10]...)...)
		}},
		{"a NaN", func() {
			exec(`INSERT INTO explanation_scores (id, explanation_id, value, explanation_score_type_name) VALUES ('nan', 'e3', 'NaN', 'recall')`)
		}},
		{"re-scored", func() {
			exec(`UPDATE explanation_scores SET value = value / 3 WHERE id IN (SELECT id FROM explanation_scores ORDER BY id LIMIT 20)`)
			exec(`UPDATE explanation_scores SET explanation_score_type_name = 'fuzz' WHERE id IN (SELECT id FROM explanation_scores ORDER BY id DESC LIMIT 5)`)
			exec(`UPDATE explanation_scores SET value = 'NaN' WHERE id = 'nan'`)
		}},
		{"scores deleted", func() {
			exec(`DELETE FROM explanation_scores WHERE id IN (SELECT id FROM explanation_scores ORDER BY md5(id) LIMIT 15)`)
		}},
		{"a dashboard rebuild", func() {
			idxs := []int32{1, 2, 4, 5, 7, 8}
			exec(`DELETE FROM explanations WHERE sid = $1 AND idx = ANY($2)`, sid, idxs)
			for _, i := range idxs[:3] {
				score(explain(int(i)), explain(int(i)))
			}
		}},
		{"explanations moved", func() {
			exec(`UPDATE explanations SET idx = 35 - idx WHERE id IN (SELECT id FROM explanations ORDER BY md5(id) LIMIT 6)`)
		}},
		{"features deleted", func() {
			exec(`DELETE FROM features WHERE sid = $1 AND idx IN (10, 11, 12, 30)`, sid)
		}},
	}
	for i, round := range rounds {
		round.op()
		all := live()
		sorts := types
		if i == len(rounds)-1 {
			sorts = append(sorts, "none") // every feature unscored
		}
		for _, typ := range sorts {
			// The table is exact and its tally is its size.
			var wrong, tally, rows int
			if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM (
				SELECT e.sid, s.explanation_score_type_name, e.idx, max(s.value) FROM explanations e
				  JOIN explanation_scores s ON s.explanation_id = e.id GROUP BY 1, 2, 3
				EXCEPT SELECT * FROM feature_best_scores) d`).Scan(&wrong); err != nil {
				t.Fatal(err)
			}
			if err := db.Pool.QueryRow(ctx, `SELECT (SELECT coalesce(sum(n), 0) FROM feature_best_score_tallies WHERE sid = $1 AND score_type = $2),
				(SELECT count(*) FROM feature_best_scores WHERE sid = $1 AND score_type = $2)`, sid, typ).Scan(&tally, &rows); err != nil {
				t.Fatal(err)
			}
			if wrong != 0 || tally != rows {
				t.Fatalf("%s, %s: %d best scores wrong, tally %d of %d rows", round.name, typ, wrong, tally, rows)
			}
			for _, hideDead := range []bool{false, true} {
				for _, query := range []string{"", "cat"} {
					for _, desc := range []bool{true, false} {
						what := fmt.Sprintf("%s: %s desc %v hide-dead %v query %q", round.name, typ, desc, hideDead, query)
						want := aggregateOrder(t, db, sid, typ, desc, hideDead, query)
						for off := 0; off < len(all)+8; off += 8 {
							page, total, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: "m", SourceID: "0-res",
								Sort: features.SortByScore(typ), Desc: desc, HideDead: hideDead, Query: query, Offset: off, Limit: 8})
							if err != nil {
								t.Fatalf("%s, offset %d: %v", what, off, err)
							}
							if total != len(want) {
								t.Fatalf("%s: total %d, want %d", what, total, len(want))
							}
							var got []scored
							for _, s := range page {
								got = append(got, scored{s.Key.Index, s.Score})
							}
							if exp := want[min(off, len(want)):min(off+8, len(want))]; !slices.EqualFunc(got, exp, scored.same) {
								t.Fatalf("%s, offset %d:\n got %v\nwant %v", what, off, got, exp)
							}
						}
					}
				}
			}
		}
	}
}

type scored struct {
	idx   int
	score *float64
}

func (a scored) same(b scored) bool {
	if a.idx != b.idx || (a.score == nil) != (b.score == nil) {
		return false
	}
	return a.score == nil || *a.score == *b.score || math.IsNaN(*a.score) && math.IsNaN(*b.score)
}

func (a scored) String() string {
	if a.score == nil {
		return fmt.Sprintf("%d:-", a.idx)
	}
	return fmt.Sprintf("%d:%v", a.idx, *a.score)
}

// aggregateOrder is the whole order of the sort by a scorer as the browser
// computed it before migration 00010: every score of the source aggregated
// per query.
func aggregateOrder(t *testing.T, db *store.DB, sid int32, typ string, desc, hideDead bool, query string) []scored {
	t.Helper()
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	where, args := ` WHERE f.sid = $1`, []any{sid, typ}
	if hideDead {
		where += ` AND f.max_act_approx > 0`
	}
	if query != "" {
		args = append(args, query)
		where += ` AND f.idx IN (SELECT e.idx FROM explanations e WHERE e.sid = $1
			AND (e.tsv @@ websearch_to_tsquery('english', $3) OR lower(e.description) LIKE '%' || $3 || '%'))`
	}
	rows, err := db.Pool.Query(ctx, `SELECT f.idx, sc.v FROM features f
		LEFT JOIN (SELECT e.idx, max(s.value) AS v FROM explanations e JOIN explanation_scores s ON s.explanation_id = e.id
		  WHERE e.sid = $1 AND s.explanation_score_type_name = $2 GROUP BY e.idx) sc ON sc.idx = f.idx`+where+`
		ORDER BY sc.v `+dir+` NULLS LAST, f.idx`, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []scored
	for rows.Next() {
		var s scored
		var i int32
		if err := rows.Scan(&i, &s.score); err != nil {
			t.Fatal(err)
		}
		s.idx = int(i)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFeatureBestScoresConcurrentWriters scores one feature from several
// transactions at once, and deletes one of its scores meanwhile: the best
// score and the tally end exact (a plain INSERT would fail on the key, a
// blind overwrite would keep whichever committed last).
func TestFeatureBestScoresConcurrentWriters(t *testing.T) {
	db := storetest.NewDB(t)
	storetest.NewSource(t, db, &features.Source{ModelID: "m", ID: "0-res", SetName: "res", NumFeatures: 2})
	if _, err := db.Pool.Exec(ctx, `INSERT INTO features (sid, idx, max_act_approx) SELECT sid, g, 1 FROM sources, generate_series(0, 1) g;
		INSERT INTO explanations (id, sid, idx, description) SELECT 'first', sid, 0, 'x' FROM sources;
		INSERT INTO explanation_scores (id, explanation_id, value, explanation_score_type_name) VALUES ('first', 'first', 2, 'recall')`); err != nil {
		t.Fatal(err)
	}
	const writers = 6 // and a deleter: all within the pool's 8 connections
	var ready, done sync.WaitGroup
	ready.Add(writers + 1)
	errs := make(chan error, writers+1)
	for w := range writers + 1 {
		done.Add(1)
		go func() {
			defer done.Done()
			errs <- pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
				id := fmt.Sprintf("w%d", w)
				var err error
				if w == writers {
					_, err = tx.Exec(ctx, `SELECT 1`)
				} else {
					_, err = tx.Exec(ctx, `INSERT INTO explanations (id, sid, idx, description) SELECT $1, sid, 0, 'x' FROM sources`, id)
				}
				ready.Done()
				ready.Wait() // every transaction open before any scores
				if err != nil {
					return err
				}
				if w == writers {
					_, err = tx.Exec(ctx, `DELETE FROM explanation_scores WHERE id = 'first'`)
					return err
				}
				_, err = tx.Exec(ctx, `INSERT INTO explanation_scores (id, explanation_id, value, explanation_score_type_name) VALUES ($1, $1, $2, 'recall')`,
					id, float64(w)/10)
				return err
			})
		}()
	}
	done.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var best float64
	var tally, rows int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT best FROM feature_best_scores WHERE idx = 0 AND score_type = 'recall'),
		(SELECT sum(n) FROM feature_best_score_tallies WHERE score_type = 'recall'),
		(SELECT count(*) FROM feature_best_scores)`).Scan(&best, &tally, &rows); err != nil {
		t.Fatal(err)
	}
	if want := float64(writers-1) / 10; best != want || tally != 1 || rows != 1 {
		t.Errorf("best %v, want %v; tally %d, rows %d, want 1", best, want, tally, rows)
	}
}
