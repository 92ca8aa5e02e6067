package store

import (
	"context"

	"saex/internal/features"
)

var _ features.DensityHistogrammer = (*DB)(nil)

// Density bins: log10 densities from 1e-7 to 1 in 35 bins of 0.2.
const (
	densityMinLog10 = -7.0
	densityStep     = 0.2
	densityBins     = 35
)

// SourceDensityHistogram bins the log10 activation densities of a source's
// live features and counts its dead ones, in one pass over the source.
func (db *DB) SourceDensityHistogram(ctx context.Context, modelID, sourceID string) (*features.DensityHistogram, error) {
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if err != nil {
		return nil, err
	}
	h := &features.DensityHistogram{MinLog10: densityMinLog10, Step: densityStep, Counts: make([]int, densityBins)}
	rows, err := db.Pool.Query(ctx, `SELECT CASE WHEN max_act_approx <= 0 OR frac_nonzero <= 0 THEN -1
		  ELSE least(greatest(floor((log(frac_nonzero) - $2) / $3), 0), $4 - 1)::int END AS bin, count(*)
		FROM features WHERE sid = $1 GROUP BY 1`, sid, densityMinLog10, densityStep, densityBins)
	if err != nil {
		return nil, dbErr(err, "density histogram of %s/%s", modelID, sourceID)
	}
	defer rows.Close()
	for rows.Next() {
		var bin, n int
		if err := rows.Scan(&bin, &n); err != nil {
			return nil, dbErr(err, "density histogram of %s/%s", modelID, sourceID)
		}
		if bin < 0 {
			h.Dead += n
		} else {
			h.Counts[bin] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "density histogram of %s/%s", modelID, sourceID)
	}
	return h, nil
}
