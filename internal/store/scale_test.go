package store_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"saex/internal/features"
	"saex/internal/npexport"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

const scaleModel, scaleSource = "gemma-2-2b", "12-gemmascope-res-1m"

// scaleSourceDB makes a source of n features whose sort keys tie often:
// a quarter dead (max 0, density 0), some live with density 0, and max
// activations and densities drawn from a few values.
func scaleSourceDB(t *testing.T, n int) (*store.DB, []*features.Feature) {
	return scaleSourceDBStride(t, n, 3)
}

// scaleSourceDBStride is scaleSourceDB with indexes 0, stride, 2*stride...
// (stride 1: every index, as a full SAE has).
func scaleSourceDBStride(t *testing.T, n, stride int) (*store.DB, []*features.Feature) {
	t.Helper()
	db := storetest.NewDB(t)
	loadMeta(t, db, &npexport.Meta{
		Model:     &features.Model{ID: scaleModel},
		SourceSet: &features.SourceSet{ModelID: scaleModel, Name: "gemmascope-res-1m"},
		Source:    &features.Source{ModelID: scaleModel, ID: scaleSource, SetName: "gemmascope-res-1m"},
	})
	rng := rand.New(rand.NewPCG(7, 9))
	var fs []*features.Feature
	for i := 0; i < n; i++ {
		f := &features.Feature{Index: i * stride}
		switch rng.IntN(8) {
		case 0, 1: // dead
		case 2:
			f.MaxActApprox = float64(1 + rng.IntN(4))
		default:
			f.MaxActApprox = float64(1 + rng.IntN(4))
			f.FracNonzero = math.Pow(10, -float64(rng.IntN(9)))
		}
		fs = append(fs, f)
	}
	for start := 0; start < len(fs); start += 100 {
		batch := fs[start:min(start+100, len(fs))]
		if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: scaleModel, SourceID: scaleSource, Features: batch}); err != nil {
			t.Fatal(err)
		}
	}
	return db, fs
}

// browserOrder is the source browser's order, worked out in Go: by the
// sort key, ties by index, both in the sort's direction.
func browserOrder(fs []*features.Feature, sort features.FeatureSort, desc, hideDead bool) []int {
	var keep []*features.Feature
	for _, f := range fs {
		if !hideDead || f.MaxActApprox > 0 {
			keep = append(keep, f)
		}
	}
	key := func(f *features.Feature) float64 {
		switch sort {
		case features.SortByMaxAct:
			return f.MaxActApprox
		case features.SortByDensity:
			return f.FracNonzero
		}
		return 0
	}
	slices.SortFunc(keep, func(a, b *features.Feature) int {
		c := cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.Index, b.Index))
		if desc {
			return -c
		}
		return c
	})
	out := make([]int, len(keep))
	for i, f := range keep {
		out[i] = f.Index
	}
	return out
}

// TestListFeaturesEveryPage pages through every sort, direction and
// hide-dead choice and checks each page, the deep ones read from the far
// end included, against the order worked out in Go, and the total against
// a count.
func TestListFeaturesEveryPage(t *testing.T) {
	for _, stride := range []int{1, 3} {
		t.Run(fmt.Sprintf("stride %d", stride), func(t *testing.T) { testListFeaturesEveryPage(t, stride) })
	}
}

func testListFeaturesEveryPage(t *testing.T, stride int) {
	db, fs := scaleSourceDBStride(t, 301, stride)
	// Marks every 5 features, so most pages of 7 are read through them
	// once fresh, with skips of 0 to 4 from a mark.
	store.SetRankMarks(db, 5)
	var sid int32
	if err := db.Pool.QueryRow(ctx, `SELECT sid FROM sources WHERE id = $1`, scaleSource).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	marks := func() int {
		t.Helper()
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM feature_rank_marks WHERE sid = $1`, sid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := marks(); n != 0 {
		t.Fatalf("%d rank marks before any refresh", n)
	}
	checkEveryPage(t, db, fs, "stale")
	if err := store.RefreshRanks(db, sid); err != nil {
		t.Fatal(err)
	}
	// 6 orders, 301 features, of which the live ones: a mark per 5.
	live := len(browserOrder(fs, features.SortByIndex, false, true))
	if n, want := marks(), 3*((301+4)/5+(live+4)/5); n != want {
		t.Fatalf("%d rank marks after a refresh, want %d", n, want)
	}
	checkEveryPage(t, db, fs, "fresh")
	if stride == 1 {
		return // the write below is the same for either stride
	}
	// A write that moves features in every order makes the marks stale.
	for i := 0; i < 100; i += 10 {
		fs[i].MaxActApprox, fs[i].FracNonzero = 2.5, 0.001
	}
	fs[1].MaxActApprox = 0
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: scaleModel, SourceID: scaleSource, Features: fs[:100]}); err != nil {
		t.Fatal(err)
	}
	if n := marks(); n != 0 {
		t.Fatalf("%d rank marks after a write, want none", n)
	}
	checkEveryPage(t, db, fs, "stale after a write")
	if err := store.RefreshRanks(db, sid); err != nil {
		t.Fatal(err)
	}
	checkEveryPage(t, db, fs, "fresh after a write")
}

// checkEveryPage pages through every sort, direction and hide-dead choice.
func checkEveryPage(t *testing.T, db *store.DB, fs []*features.Feature, state string) {
	t.Helper()
	const limit = 7
	for _, sort := range []features.FeatureSort{features.SortByIndex, features.SortByMaxAct, features.SortByDensity} {
		for _, desc := range []bool{false, true} {
			for _, hideDead := range []bool{false, true} {
				want := browserOrder(fs, sort, desc, hideDead)
				name := fmt.Sprintf("%s: %s desc=%v hidedead=%v", state, sort, desc, hideDead)
				for off := 0; off < len(want)+limit; off += limit {
					page, total, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: scaleModel, SourceID: scaleSource,
						Sort: sort, Desc: desc, HideDead: hideDead, Offset: off, Limit: limit})
					if err != nil {
						t.Fatalf("%s offset %d: %v", name, off, err)
					}
					if total != len(want) {
						t.Fatalf("%s: total %d, want %d", name, total, len(want))
					}
					got := storetest.Indices(page)
					w := want[min(off, len(want)):min(off+limit, len(want))]
					if !slices.Equal(got, w) && !(len(got) == 0 && len(w) == 0) {
						t.Fatalf("%s offset %d: %v, want %v", name, off, got, w)
					}
				}
			}
		}
	}
}

// TestFeatureTallies checks the stored counts behind the browser's totals,
// the density histogram and the source stats against the scans they
// replace, after every kind of write: COPY of new features, upserts that
// move features between bins, a mixed batch, vectors created and deleted,
// and enough small writes to make the writer fold the tally rows.
func TestFeatureTallies(t *testing.T) {
	db, fs := scaleSourceDB(t, 240)
	check := func(when string) {
		t.Helper()
		var sid int32
		if err := db.Pool.QueryRow(ctx, `SELECT sid FROM sources WHERE id = $1`, scaleSource).Scan(&sid); err != nil {
			t.Fatal(err)
		}
		var total, live, dead int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE max_act_approx > 0),
			count(*) FILTER (WHERE max_act_approx <= 0) FROM features WHERE sid = $1`, sid).Scan(&total, &live, &dead); err != nil {
			t.Fatal(err)
		}
		// The histogram as store/density.go computed it before the tallies.
		want := &features.DensityHistogram{MinLog10: -7, Step: 0.2, Counts: make([]int, 35)}
		rows, err := db.Pool.Query(ctx, `SELECT CASE WHEN max_act_approx <= 0 OR frac_nonzero <= 0 THEN -1
			  ELSE least(greatest(floor((log(frac_nonzero) - $2) / $3), 0), $4 - 1)::int END AS bin, count(*)
			FROM features WHERE sid = $1 GROUP BY 1`, sid, -7.0, 0.2, 35)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var bin, n int
			if err := rows.Scan(&bin, &n); err != nil {
				t.Fatal(err)
			}
			if bin < 0 {
				want.Dead += n
			} else {
				want.Counts[bin] += n
			}
		}
		rows.Close()
		got, err := db.SourceDensityHistogram(ctx, scaleModel, scaleSource)
		if err != nil {
			t.Fatal(err)
		}
		if got.Dead != want.Dead || !slices.Equal(got.Counts, want.Counts) {
			t.Errorf("%s: histogram %+v, want %+v", when, got, want)
		}
		for _, hide := range []bool{false, true} {
			_, n, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: scaleModel, SourceID: scaleSource, HideDead: hide})
			if err != nil {
				t.Fatal(err)
			}
			if w := map[bool]int{false: total, true: live}[hide]; n != w {
				t.Errorf("%s: hidedead=%v total %d, want %d", when, hide, n, w)
			}
		}
		st, err := db.SourceStats(ctx, scaleModel, scaleSource)
		if err != nil {
			t.Fatal(err)
		}
		var median *float64
		if err := db.Pool.QueryRow(ctx, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY frac_nonzero)
			FILTER (WHERE max_act_approx > 0) FROM features WHERE sid = $1`, sid).Scan(&median); err != nil {
			t.Fatal(err)
		}
		if st.NumFeatures != total || st.NumDead != dead || (median != nil && st.MedianDensity != *median) || (median == nil && st.MedianDensity != 0) {
			t.Errorf("%s: stats %+v, want %d features, %d dead, median %v", when, st, total, dead, median)
		}
	}
	check("after COPY")

	// Upserts: revive the dead, kill the live, move densities.
	for _, f := range fs[:50] {
		if f.MaxActApprox > 0 {
			f.MaxActApprox, f.FracNonzero = 0, 0
		} else {
			f.MaxActApprox, f.FracNonzero = 2, 0.001
		}
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: scaleModel, SourceID: scaleSource, Features: fs[:50]}); err != nil {
		t.Fatal(err)
	}
	check("after upserts")

	// A batch of stored and new features.
	mixed := []*features.Feature{fs[60], {Index: 10_000, MaxActApprox: 3, FracNonzero: 0.5}, {Index: 10_001}}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: scaleModel, SourceID: scaleSource, Features: mixed}); err != nil {
		t.Fatal(err)
	}
	check("after a mixed batch")

	// Single new features, one statement each, until the writer folds.
	for i := 0; i < 600; i++ {
		f := &features.Feature{Index: 20_000 + i, MaxActApprox: float64(i % 3), FracNonzero: math.Pow(10, -float64(i%8))}
		if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: scaleModel, SourceID: scaleSource, Features: []*features.Feature{f}}); err != nil {
			t.Fatal(err)
		}
	}
	var rows int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM feature_tallies`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows >= 512 {
		t.Errorf("%d tally rows after 600 writes: never folded", rows)
	}
	check("after 600 single writes")

	if _, err := db.Pool.Exec(ctx, `DELETE FROM features WHERE idx % 5 = 0`); err != nil {
		t.Fatal(err)
	}
	check("after a delete")
}

// TestSubstringFilterWildcards pins the substring arm of the browser's
// filter and of explanation search (now a LIKE a trigram index serves) to
// what strpos did: %, _ and \ in a query are plain characters, case is
// folded, and a top logit token equal to the query matches too.
func TestSubstringFilterWildcards(t *testing.T) {
	db, _ := scaleSourceDB(t, 12)
	descs := map[int]string{0: "100% of the time", 3: "A_B pairs", 6: "axb pairs", 9: `back\slash`, 12: "plain words"}
	for idx, d := range descs {
		if err := db.CreateExplanation(ctx, &features.Explanation{ModelID: scaleModel, SourceID: scaleSource, Index: idx, Description: d}); err != nil {
			t.Fatal(err)
		}
	}
	logit := &features.Feature{Index: 15, MaxActApprox: 1, PosStr: []string{" zebra", "x"}, PosValues: []float64{1, 0.5}}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: scaleModel, SourceID: scaleSource, Features: []*features.Feature{logit}}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]int{"0%": {0}, "a_b": {3}, `k\s`: {9}, "%": {0}, "_": {3}, "zebra": {15}, "PLAIN": {12}} {
		page, total, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: scaleModel, SourceID: scaleSource, Query: q})
		if err != nil {
			t.Fatal(err)
		}
		got := storetest.Indices(page)
		if total != len(want) || !slices.Equal(got, want) {
			t.Errorf("browser filter %q: %v (total %d), want %v", q, got, total, want)
		}
		if q == "zebra" {
			continue // a logit, not an explanation
		}
		hits, total, err := db.SearchExplanations(ctx, features.ExplanationQuery{Query: q, ModelID: scaleModel})
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, h := range hits {
			got = append(got, h.Explanation.Index)
		}
		if total != len(want) || !slices.Equal(got, want) {
			t.Errorf("search %q: %v (total %d), want %v", q, got, total, want)
		}
	}
}

// TestTextQueryCap checks the cap on the browser's text filter and on
// explanation search (features.MatchCap, lowered to 20 here): under the
// cap totals and pages are exact; over it the total says "more than the
// cap" and the pages hold matches only, in the sort's order.
func TestTextQueryCap(t *testing.T) {
	db, fs := scaleSourceDB(t, 120)
	store.SetMatchCap(db, 20)
	// "python" labels 60 features, "rare" 6.
	var exps []*features.Explanation
	python, rare := map[int]bool{}, map[int]bool{}
	for i, f := range fs {
		d := fmt.Sprintf("tokens of kind %d", i)
		switch {
		case i%2 == 0:
			d, python[f.Index] = "python code "+d, true
		case i%20 == 1:
			d, rare[f.Index] = "rare words "+d, true
		}
		exps = append(exps, &features.Explanation{ID: fmt.Sprintf("x%d", i), ModelID: scaleModel, SourceID: scaleSource,
			Index: f.Index, Description: d})
	}
	if err := db.WriteExplanations(ctx, exps, nil); err != nil {
		t.Fatal(err)
	}
	var rareFs []*features.Feature
	for _, f := range fs {
		if rare[f.Index] {
			rareFs = append(rareFs, f)
		}
	}
	for _, sort := range []features.FeatureSort{features.SortByIndex, features.SortByMaxAct, features.SortByDensity} {
		for _, desc := range []bool{false, true} {
			name := fmt.Sprintf("%s desc=%v", sort, desc)
			// Under the cap: exact.
			want := browserOrder(rareFs, sort, desc, false)
			page, total, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: scaleModel, SourceID: scaleSource,
				Sort: sort, Desc: desc, Query: "rare", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			got := storetest.Indices(page)
			if total != len(want) || !slices.Equal(got, want) {
				t.Errorf("%s q=rare: %d %v, want %d %v", name, total, got, len(want), want)
			}
			// Over it: cap+1, and the pages are matches in order.
			page, total, err = db.ListFeatures(ctx, features.FeatureFilter{ModelID: scaleModel, SourceID: scaleSource,
				Sort: sort, Desc: desc, Query: "python", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if total != 21 || len(page) < 20 || len(page) > 21 {
				t.Fatalf("%s q=python: total %d with %d rows, want 21 and 20 or 21 rows", name, total, len(page))
			}
			var pageFs []*features.Feature
			for _, s := range page {
				if !python[s.Key.Index] {
					t.Fatalf("%s q=python: feature %d does not match", name, s.Key.Index)
				}
				pageFs = append(pageFs, fs[s.Key.Index/3])
			}
			got = storetest.Indices(page)
			if w := browserOrder(pageFs, sort, desc, false); !slices.Equal(got, w) {
				t.Errorf("%s q=python: %v, not in the sort's order %v", name, got, w)
			}
		}
	}
	// Explanation search: exact under the cap, cap+1 and matches over it.
	hits, total, err := db.SearchExplanations(ctx, features.ExplanationQuery{Query: "rare", ModelID: scaleModel, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if total != 6 || len(hits) != 6 {
		t.Errorf("search rare: total %d, %d hits, want 6", total, len(hits))
	}
	hits, total, err = db.SearchExplanations(ctx, features.ExplanationQuery{Query: "python", ModelID: scaleModel, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if total != 21 || len(hits) != 21 {
		t.Fatalf("search python: total %d, %d hits, want 21 and 21", total, len(hits))
	}
	for i, h := range hits {
		if !python[h.Explanation.Index] {
			t.Errorf("search python: hit %d (feature %d) does not match", i, h.Explanation.Index)
		}
		if i > 0 && h.Rank > hits[i-1].Rank {
			t.Errorf("search python: hit %d ranks above hit %d", i, i-1)
		}
	}
}

// TestRefreshRankMarks checks the method bulk writers call when done: it
// writes a source's marks (none before it, since no page was viewed), a
// deep page then reads through them (a mark moved by hand moves the page),
// and an unknown source is ENOTFOUND.
func TestRefreshRankMarks(t *testing.T) {
	db, fs := scaleSourceDBStride(t, 60, 1)
	store.SetRankMarks(db, 5)
	count := func() int {
		t.Helper()
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM feature_rank_marks m JOIN sources s ON s.sid = m.sid
			WHERE s.id = $1`, scaleSource).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d rank marks before the refresh", n)
	}
	if err := db.RefreshRankMarks(ctx, scaleModel, scaleSource); err != nil {
		t.Fatal(err)
	}
	live := len(browserOrder(fs, features.SortByIndex, false, true))
	if n, want := count(), 3*((60+4)/5+(live+4)/5); n != want {
		t.Fatalf("%d rank marks after the refresh, want %d", n, want)
	}
	// By activation: the index order of a full SAE needs no marks.
	want := browserOrder(fs, features.SortByMaxAct, false, false)
	page := func() []int {
		t.Helper()
		out, _, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: scaleModel, SourceID: scaleSource,
			Sort: features.SortByMaxAct, Offset: 20, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		return storetest.Indices(out)
	}
	if got := page(); !slices.Equal(got, want[20:25]) {
		t.Fatalf("page at 20: %v, want %v", got, want[20:25])
	}
	// Mark 20 of the activation order moved to the feature at position
	// 21: a page read through the marks starts there, one read by OFFSET
	// would not.
	next := fs[want[21]]
	if _, err := db.Pool.Exec(ctx, `UPDATE feature_rank_marks SET key = $1, idx = $2 WHERE ord = 2 AND pos = 20`,
		next.MaxActApprox, next.Index); err != nil {
		t.Fatal(err)
	}
	if got := page(); !slices.Equal(got, want[21:26]) {
		t.Fatalf("page at 20 with mark 20 moved one on: %v, want %v (read through the mark)", got, want[21:26])
	}
	if err := db.RefreshRankMarks(ctx, scaleModel, "no-such-source"); features.ErrorCode(err) != features.ENOTFOUND {
		t.Fatalf("refresh of an unknown source: %v, want ENOTFOUND", err)
	}
}
