package store

import (
	"context"

	"saex/internal/features"
)

var _ features.ExplanationExporter = (*DB)(nil)

// ExportExplanations returns one page of a source's explanations (with
// their scores) ordered by feature index, then id.
func (db *DB) ExportExplanations(ctx context.Context, modelID, sourceID string, offset, limit int) ([]*features.Explanation, error) {
	if offset < 0 || limit <= 0 {
		return nil, features.Errorf(features.EINVALID, "invalid offset %d or limit %d", offset, limit)
	}
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if err != nil {
		return nil, err
	}
	rows, err := db.Pool.Query(ctx, explanationSelect+` WHERE e.id IN (SELECT id FROM explanations
		  WHERE sid = $1 ORDER BY idx, id LIMIT $2 OFFSET $3)
		ORDER BY e.idx, e.id, s.created_at, s.id`, sid, limit, offset)
	if err != nil {
		return nil, dbErr(err, "export explanations of %s/%s", modelID, sourceID)
	}
	out, err := loadExplanations(rows, modelID, sourceID)
	return out, dbErr(err, "export explanations of %s/%s", modelID, sourceID)
}
