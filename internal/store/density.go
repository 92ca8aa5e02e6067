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
// live features and counts its dead ones (dead or without a density). It
// reads the source's feature tallies (migration 00009), kept in the same
// bins, not its features: a source of a million features costs what one of
// a hundred does.
func (db *DB) SourceDensityHistogram(ctx context.Context, modelID, sourceID string) (*features.DensityHistogram, error) {
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if err != nil {
		return nil, err
	}
	t, err := db.tally(ctx, db.Pool, sid)
	if err != nil {
		return nil, dbErr(err, "density histogram of %s/%s", modelID, sourceID)
	}
	h := &features.DensityHistogram{MinLog10: densityMinLog10, Step: densityStep, Counts: make([]int, densityBins)}
	for bin, n := range t.bins {
		switch {
		case bin < 0:
			h.Dead += int(n)
		case bin < densityBins:
			h.Counts[bin] += int(n)
		}
	}
	return h, nil
}
