package store

import (
	"context"
	"errors"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

var _ features.VectorService = (*DB)(nil)

// CreateVector stores a steering vector as the next feature of the source
// "{layer}-neuronpedia-{hook}" (Neuronpedia's layout), creating that
// source and its set on first use, in one transaction.
func (db *DB) CreateVector(ctx context.Context, v *features.NewVector) (*features.Feature, error) {
	suffix, ok := features.VectorSourceSetSuffix[v.HookType]
	if !ok {
		return nil, features.Errorf(features.EINVALID, "invalid hook type %q", v.HookType)
	}
	if !features.ValidID(v.ModelID) || v.Layer < 0 {
		return nil, features.Errorf(features.EINVALID, "invalid model %q or layer %d", v.ModelID, v.Layer)
	}
	if err := checkText("vector", v.Label, v.Owner); err != nil {
		return nil, err
	}
	for _, x := range v.Values {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, features.Errorf(features.EINVALID, "vector: values must be finite")
		}
	}
	setName := "neuronpedia-" + suffix
	sourceID := strconv.Itoa(v.Layer) + "-" + setName
	hook := "blocks." + strconv.Itoa(v.Layer) + "." + v.HookType
	now := db.now()
	f := &features.Feature{ModelID: v.ModelID, SourceID: sourceID, SourceSetName: setName, CreatorID: v.Owner, CreatedAt: now,
		HasVector: true, Vector: v.Values, VectorLabel: &v.Label, VectorDefaultSteerStrength: &v.DefaultSteerStrength, HookName: &hook}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM models WHERE id = $1 FOR SHARE)`, v.ModelID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return features.Errorf(features.ENOTFOUND, "model %q not found", v.ModelID)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO source_sets (model_id, name, description, type, creator_name, visibility, created_at)
			VALUES ($1, $2, 'Custom steering vectors', 'vector', 'saex', 'UNLISTED', $3) ON CONFLICT DO NOTHING`, v.ModelID, setName, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sources (model_id, id, set_name, visibility, hook_name, created_at)
			VALUES ($1, $2, $3, 'UNLISTED', $4, $5) ON CONFLICT DO NOTHING`, v.ModelID, sourceID, setName, hook, now); err != nil {
			return err
		}
		var sid int32
		// The source row's lock serializes the choice of the next index.
		if err := tx.QueryRow(ctx, `SELECT sid FROM sources WHERE model_id = $1 AND id = $2 FOR UPDATE`, v.ModelID, sourceID).Scan(&sid); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM features WHERE sid = $1`, sid).Scan(&f.Index); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO features (sid, idx, source_set_name, creator_id, created_at, has_vector, vector,
			  vector_label, vector_default_steer_strength, hook_name)
			VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8, $9)`,
			sid, f.Index, setName, v.Owner, now, v.Values, v.Label, v.DefaultSteerStrength, hook)
		return err
	})
	if err != nil {
		return nil, dbErr(err, "create vector of %s layer %d", v.ModelID, v.Layer)
	}
	return f, nil
}

// DeleteVector deletes a vector feature the owner created.
func (db *DB) DeleteVector(ctx context.Context, key features.FeatureKey, owner string) error {
	if err := key.Validate(); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var sid int32
		var creator string
		err := tx.QueryRow(ctx, `SELECT f.sid, f.creator_id FROM features f JOIN sources s ON s.sid = f.sid
			WHERE s.model_id = $1 AND s.id = $2 AND f.idx = $3 AND f.has_vector FOR UPDATE OF f`,
			key.ModelID, key.SourceID, key.Index).Scan(&sid, &creator)
		if errors.Is(err, pgx.ErrNoRows) {
			return features.Errorf(features.ENOTFOUND, "vector %s not found", key)
		}
		if err != nil {
			return err
		}
		if creator != owner {
			return features.Errorf(features.EFORBIDDEN, "vector %s belongs to another API key", key)
		}
		// Examples and explanations reference the feature without cascading.
		for _, q := range []string{`DELETE FROM activations WHERE sid = $1 AND idx = $2`,
			`DELETE FROM explanations WHERE sid = $1 AND idx = $2`, `DELETE FROM features WHERE sid = $1 AND idx = $2`} {
			if _, err := tx.Exec(ctx, q, sid, key.Index); err != nil {
				return err
			}
		}
		return nil
	})
	return dbErr(err, "delete vector %s", key)
}

// VectorsOwned returns the vectors an API key created, newest first.
func (db *DB) VectorsOwned(ctx context.Context, owner string) ([]*features.Feature, error) {
	rows, err := db.Pool.Query(ctx, `SELECT s.model_id, s.id, f.idx, f.source_set_name, f.creator_id, f.created_at,
		  coalesce(f.vector, '{}'), f.vector_label, f.vector_default_steer_strength, f.hook_name
		FROM features f JOIN sources s ON s.sid = f.sid
		WHERE f.has_vector AND f.creator_id = $1 ORDER BY f.created_at DESC, s.model_id, s.id, f.idx`, owner)
	if err != nil {
		return nil, dbErr(err, "list vectors")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*features.Feature, error) {
		f := &features.Feature{HasVector: true}
		err := r.Scan(&f.ModelID, &f.SourceID, &f.Index, &f.SourceSetName, &f.CreatorID, &f.CreatedAt,
			&f.Vector, &f.VectorLabel, &f.VectorDefaultSteerStrength, &f.HookName)
		f.CreatedAt = f.CreatedAt.UTC()
		return f, err
	})
	return out, dbErr(err, "list vectors")
}
