package store_test

import (
	"strings"
	"testing"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

// BenchmarkListFeaturesByScore times the browser's sorts on a synthetic
// source of 100,000 features, 80,000 of them with a score of each of two
// scorers (docs/autointerp.md quotes it):
//
//	go test -run '^$' -bench ListFeaturesByScore -benchtime 5x ./internal/store/
func BenchmarkListFeaturesByScore(b *testing.B) {
	db := storetest.NewDB(b)
	for _, err := range []error{
		db.UpsertModel(ctx, &features.Model{ID: "bench"}),
		db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: "bench", Name: "res"}),
		db.UpsertSource(ctx, &features.Source{ModelID: "bench", ID: "0-res", SetName: "res", NumFeatures: 100_000}),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
	var sid int32
	if err := db.Pool.QueryRow(ctx, `SELECT sid FROM sources WHERE model_id = 'bench'`).Scan(&sid); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO features (sid, idx, max_act_approx, frac_nonzero) SELECT $1, g, random(), random() FROM generate_series(0, 99999) g`,
		`INSERT INTO explanations (id, sid, idx, description, type_name, explanation_model_name, author_id)
		  SELECT 'e' || g, $1, g, 'x', 't', 'm', 'a' FROM generate_series(0, 99999) g`,
		`INSERT INTO explanation_scores (id, explanation_id, value, explanation_score_type_name, explanation_score_model_name, initiated_by_user_id, json_details)
		  SELECT t || g, 'e' || g, random(), t, 'm', 'a', '' FROM generate_series(0, 79999) g,
		  unnest(ARRAY['eleuther_recall', 'eleuther_fuzz']) t`,
	} {
		args := []any{sid}
		if !strings.Contains(q, "$1") {
			args = nil
		}
		if _, err := db.Pool.Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    features.FeatureFilter
	}{
		{"index", features.FeatureFilter{Sort: features.SortByIndex}},
		{"maxact", features.FeatureFilter{Sort: features.SortByMaxAct, Desc: true}},
		{"score-page1", features.FeatureFilter{Sort: features.SortByScore("eleuther_recall"), Desc: true}},
		{"score-page2001", features.FeatureFilter{Sort: features.SortByScore("eleuther_recall"), Desc: true, Offset: 50_000}},
		{"score-page2001-hide-dead", features.FeatureFilter{Sort: features.SortByScore("eleuther_recall"), Desc: true, Offset: 50_000, HideDead: true}},
		{"score-page3601-unscored", features.FeatureFilter{Sort: features.SortByScore("eleuther_recall"), Desc: true, Offset: 90_000}},
	} {
		c.f.ModelID, c.f.SourceID, c.f.Limit = "bench", "0-res", 25
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := db.ListFeatures(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("score-types", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.SourceScoreTypes(ctx, "bench", "0-res"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
