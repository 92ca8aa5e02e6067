package store

import (
	"context"

	"saex/internal/features"
)

var _ features.DataVersioner = (*DB)(nil)

// DataVersion reads PostgreSQL's current snapshot: its xmax (one past the
// latest completed transaction) and how many transactions are still in
// progress below it. A transaction's writes become visible exactly when it
// leaves that list or moves xmax, so an unchanged version means nothing
// was written in between, by this process or any other (imports and builds
// run as separate processes). Transaction ids belong to the whole server:
// writes to its other databases change the version too, which only costs
// a needless invalidation.
func (db *DB) DataVersion(ctx context.Context) (features.DataVersion, error) {
	var horizon int64
	var pending int32
	err := db.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmax(s)::text::int8, (SELECT count(*) FROM pg_snapshot_xip(s))::int4
		FROM pg_current_snapshot() s`).Scan(&horizon, &pending)
	if err != nil {
		return features.DataVersion{}, dbErr(err, "read the data version")
	}
	return features.DataVersion{Horizon: uint64(horizon), Pending: int(pending)}, nil
}
