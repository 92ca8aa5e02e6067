package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Tally bins of migration 00009's feature_tally_bin: dead features, live
// ones without a density, then the density histogram's bins 0..34.
const (
	tallyDead      = -2
	tallyNoDensity = -1
)

// tallyCompactAt is how many delta rows a source may collect before a
// writer folds them into one row per bin (an import adds one to three dozen
// per file).
const tallyCompactAt = 512

// featureTally is a source's feature counts by tally bin.
type featureTally struct {
	bins map[int]int64
	rows int // delta rows summed
}

func (t featureTally) total() int64 {
	var n int64
	for _, c := range t.bins {
		n += c
	}
	return n
}

func (t featureTally) live() int64 { return t.total() - t.bins[tallyDead] }

// tally sums a source's feature_tallies rows: the number of its features in
// each bin, as of the caller's snapshot, without reading the features.
func (db *DB) tally(ctx context.Context, q querier, sid int32) (featureTally, error) {
	rows, err := q.Query(ctx, `SELECT bin, sum(n), count(*) FROM feature_tallies WHERE sid = $1 GROUP BY bin`, sid)
	if err != nil {
		return featureTally{}, err
	}
	t := featureTally{bins: map[int]int64{}}
	var bin int16
	var n, rowsN int64
	_, err = pgx.ForEachRow(rows, []any{&bin, &n, &rowsN}, func() error {
		if n != 0 {
			t.bins[int(bin)] = n
		}
		t.rows += int(rowsN)
		return nil
	})
	return t, err
}

// compactTallies folds a source's tally deltas into one row per bin when
// they have piled up. One writer at a time does it (a transaction-scoped
// advisory lock, skipped when taken); readers see the rows before or after,
// whose sums are the same.
func (db *DB) compactTallies(ctx context.Context, sid int32) error {
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM feature_tallies WHERE sid = $1`, sid).Scan(&n); err != nil {
		return dbErr(err, "count feature tallies")
	}
	if n < tallyCompactAt {
		return nil
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended('saex feature tallies', $1))`, sid).Scan(&ok); err != nil || !ok {
			return err
		}
		_, err := tx.Exec(ctx, `WITH d AS (DELETE FROM feature_tallies WHERE sid = $1 RETURNING bin, n)
			INSERT INTO feature_tallies (sid, bin, n) SELECT $1, bin, sum(n) FROM d GROUP BY bin HAVING sum(n) <> 0`, sid)
		return err
	})
	return dbErr(err, "compact feature tallies")
}
