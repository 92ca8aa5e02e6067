package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

// Rank marks (migration 00012): per source and browser order, the sort key
// of every rankStride-th feature counted from the ascending end. A page at
// position p of an order is a keyset scan from mark p/rankStride that skips
// p%rankStride entries, instead of an OFFSET skip of p.
const (
	defaultRankStride = 512
	// rankRefreshEvery spaces a source's background refreshes: during an
	// import every file's write deletes the marks again, and a refresh
	// reads the whole source.
	rankRefreshEvery = 30 * time.Second
	// rankLockWait bounds how long a refresh waits for the source's
	// writers to commit; it gives up and a later page view tries again.
	rankLockWait = "2s"
)

// rankOrder is a browser order with stored marks: its ord in
// feature_rank_marks, the sort column ("" for idx) and the hide-dead
// filter.
type rankOrder struct {
	ord      int16
	col      string
	liveOnly bool
}

// rankOrders are the orders a refresh marks.
var rankOrders = []rankOrder{
	{0, "", false}, {1, "", true},
	{2, "max_act_approx", false}, {3, "max_act_approx", true},
	{4, "frac_nonzero", false}, {5, "frac_nonzero", true},
}

// rankOrderOf returns the order of a browser sort column ("f.max_act_approx",
// "f.frac_nonzero" or "" for idx); false for any other.
func rankOrderOf(col string, hideDead bool) (rankOrder, bool) {
	for _, o := range rankOrders {
		if (o.col == "" && col == "" || col == "f."+o.col) && o.liveOnly == hideDead {
			return o, true
		}
	}
	return rankOrder{}, false
}

// matchCapOrDefault is features.MatchCap unless a test lowered it.
func (db *DB) matchCapOrDefault() int {
	if db.matchCap > 0 {
		return db.matchCap
	}
	return features.MatchCap
}

func (db *DB) rankStrideOrDefault() int {
	if db.rankStride > 0 {
		return db.rankStride
	}
	return defaultRankStride
}

// rankPage reads the features at ascending positions [pos, pos+limit) of
// order o through the source's marks, sorted by orderBy; none when the
// source has no marks (written since the last refresh). The mark and the
// features are read in one statement, so one snapshot: the mark is there
// only if no write since its refresh is visible.
func (db *DB) rankPage(ctx context.Context, sid int32, o rankOrder, pos, limit int, orderBy, modelID, sourceID string) ([]*features.FeatureSummary, error) {
	stride := db.rankStrideOrDefault()
	mark, skip := pos/stride*stride, pos%stride
	// The mark's key as InitPlan parameters (not a join), so that the row
	// comparison is a condition of the index scan, not a filter after it.
	mk := func(c string) string {
		return `(SELECT m.` + c + ` FROM feature_rank_marks m WHERE m.sid = $1 AND m.ord = $2 AND m.pos = $3)`
	}
	cond, asc := `f.idx >= `+mk("idx"), `f.idx`
	if o.col != "" {
		cond = fmt.Sprintf(`(f.%s, f.idx) >= (%s, %s)`, o.col, mk("key"), mk("idx"))
		asc = fmt.Sprintf(`f.%s, f.idx`, o.col)
	}
	if o.liveOnly {
		cond += ` AND f.max_act_approx > 0`
	}
	rows, err := db.Pool.Query(ctx, summarySelect+fmt.Sprintf(` WHERE f.sid = $1 AND f.idx IN (SELECT f.idx
		FROM features f WHERE f.sid = $1 AND %s ORDER BY %s LIMIT $4 OFFSET $5) ORDER BY %s`, cond, asc, orderBy),
		sid, o.ord, mark, limit, skip)
	if err != nil {
		return nil, err
	}
	return scanSummaries(rows, modelID, sourceID, false)
}

// rankRefresh is a source's background refresh state.
type rankRefresh struct {
	mu      sync.Mutex
	running bool
	last    time.Time
}

// scheduleRankRefresh refreshes the source's marks in the background unless
// a refresh runs or ran within rankRefreshEvery.
func (db *DB) scheduleRankRefresh(sid int32) {
	if db.rankManual {
		return
	}
	v, _ := db.rankRefreshes.LoadOrStore(sid, &rankRefresh{})
	st := v.(*rankRefresh)
	st.mu.Lock()
	if st.running || time.Since(st.last) < rankRefreshEvery {
		st.mu.Unlock()
		return
	}
	st.running, st.last = true, time.Now()
	st.mu.Unlock()
	go func() {
		defer func() {
			st.mu.Lock()
			st.running = false
			st.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		if err := db.refreshRanks(ctx, sid); err != nil {
			if db.Log != nil {
				db.Log.Warn("refresh feature rank marks", "sid", sid, "err", err)
			}
			return
		}
		if db.Log != nil {
			db.Log.Info("refreshed feature rank marks", "sid", sid, "took", time.Since(start))
		}
	}()
}

var _ features.RankRefresher = (*DB)(nil)

// RefreshRankMarks recomputes the rank marks of a source now; bulk writers
// call it when done (features.RankRefresher), and page views refresh in the
// background only what later writes made stale.
func (db *DB) RefreshRankMarks(ctx context.Context, modelID, sourceID string) error {
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if err != nil {
		return err
	}
	return db.refreshRanks(ctx, sid)
}

// refreshRanks recomputes a source's marks: one set-based INSERT per order.
// It holds the source's rank lock exclusively, so writers of the source
// (which take it shared in migration 00012's triggers) have committed
// before its reads and wait until it commits.
func (db *DB) refreshRanks(ctx context.Context, sid int32) error {
	stride := db.rankStrideOrDefault()
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+rankLockWait+`'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('saex feature ranks'), $1)`, sid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = 0`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM feature_rank_marks WHERE sid = $1`, sid); err != nil {
			return err
		}
		for _, o := range rankOrders {
			key, order, where := "idx", "idx", ""
			if o.col != "" {
				key, order = o.col, o.col+", idx"
			}
			if o.liveOnly {
				where = ` AND max_act_approx > 0`
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO feature_rank_marks (sid, ord, pos, key, idx)
				SELECT $1, $2, pos, key, idx FROM (SELECT %s AS key, idx, row_number() OVER (ORDER BY %s) - 1 AS pos
				  FROM features WHERE sid = $1%s) s
				WHERE pos %% $3 = 0`, key, order, where), sid, o.ord, stride); err != nil {
				return err
			}
		}
		return nil
	})
	return dbErr(err, "refresh feature rank marks")
}
