package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

var _ features.RegistryService = (*DB)(nil)

// CreateModel inserts a model that must not exist yet (ECONFLICT).
func (db *DB) CreateModel(ctx context.Context, m *features.Model) error {
	if !features.ValidID(m.ID) {
		return features.Errorf(features.EINVALID, "invalid model id %q", m.ID)
	}
	if err := checkText("model", m.DisplayName, m.DisplayNameShort, m.CreatorID, m.Visibility, m.Owner); err != nil {
		return err
	}
	if err := checkTextPtr("model", m.Website); err != nil {
		return err
	}
	now := db.now()
	tag, err := db.Pool.Exec(ctx, `INSERT INTO models (`+modelCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
		ON CONFLICT (id) DO NOTHING`,
		m.ID, m.DisplayName, m.DisplayNameShort, m.CreatorID, m.TlensID, m.Dimension, m.Layers,
		m.NeuronsPerLayer, orDefault(m.Visibility, "PUBLIC"), m.DefaultSourceSetName, m.DefaultSourceID,
		m.InferenceEnabled, m.Instruct, m.Owner, m.Website, now, now)
	if err != nil {
		return dbErr(err, "create model %q", m.ID)
	}
	if tag.RowsAffected() == 0 {
		return features.Errorf(features.ECONFLICT, "model %q already exists", m.ID)
	}
	m.CreatedAt, m.UpdatedAt = now, now
	return nil
}

// CreateSourceSet inserts a source set and its sources "{layer}-{name}",
// layers 0..model.layers-1, in one transaction; s.OwnerKeyID (or the admin,
// when empty) owns the sources.
func (db *DB) CreateSourceSet(ctx context.Context, s *features.SourceSet) ([]*features.Source, error) {
	if !features.ValidID(s.ModelID) || !features.ValidID(s.Name) {
		return nil, features.Errorf(features.EINVALID, "invalid source set %q of model %q", s.Name, s.ModelID)
	}
	if err := checkText("source set", s.Description, s.Type, s.CreatorName, s.CreatorID, s.Visibility); err != nil {
		return nil, err
	}
	if err := checkText("source set", s.URLs...); err != nil {
		return nil, err
	}
	now := db.now()
	var sources []*features.Source
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var layers int
		err := tx.QueryRow(ctx, `SELECT layers FROM models WHERE id = $1 FOR SHARE`, s.ModelID).Scan(&layers)
		if errors.Is(err, pgx.ErrNoRows) {
			return features.Errorf(features.ENOTFOUND, "model %q not found", s.ModelID)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO source_sets (`+sourceSetCols+`)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
			ON CONFLICT (model_id, name) DO NOTHING`,
			s.ModelID, s.Name, s.Description, s.Type, s.CreatorName, s.CreatorEmail, s.CreatorID, s.ReleaseName,
			s.HasDashboards, orDefault(s.Visibility, "PUBLIC"), nonNil(s.URLs), s.DefaultRange, s.DefaultShowBreaks,
			s.ShowDFA, s.ShowCorrelated, s.ShowHeadAttribution, s.ShowUmap, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return features.Errorf(features.ECONFLICT, "source set %q of model %q already exists", s.Name, s.ModelID)
		}
		for layer := range layers {
			src := &features.Source{ID: strconv.Itoa(layer) + "-" + s.Name, ModelID: s.ModelID, SetName: s.Name,
				CreatorID: s.CreatorID, HasDashboards: s.HasDashboards, Visibility: orDefault(s.Visibility, "PUBLIC"), CreatedAt: now}
			if !features.ValidID(src.ID) {
				return features.Errorf(features.EINVALID, "source id %q would be invalid", src.ID)
			}
			// The creating key owns the sources, so an upload key may fill
			// them (features.AuthorizeSourceWrite); without one the admin does.
			src.OwnerKeyID = s.OwnerKeyID
			_, err := tx.Exec(ctx, `INSERT INTO sources (model_id, id, set_name, creator_id, has_dashboards, visibility, created_at, owner_key)
				VALUES ($1,$2,$3,$4,$5,$6,$7,NULLIF($8, ''))`, src.ModelID, src.ID, src.SetName, src.CreatorID, src.HasDashboards, src.Visibility, now, src.OwnerKeyID)
			if err != nil {
				return err
			}
			sources = append(sources, src)
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(err, "create source set %s/%s", s.ModelID, s.Name)
	}
	s.CreatedAt = now
	return sources, nil
}

// GetSourceSet returns a source set and its sources ordered by layer.
func (db *DB) GetSourceSet(ctx context.Context, modelID, name string) (*features.SourceSet, []*features.Source, error) {
	sets, err := db.ListSourceSets(ctx, modelID)
	if err != nil {
		return nil, nil, err
	}
	var set *features.SourceSet
	for _, s := range sets {
		if s.Name == name {
			set = s
		}
	}
	if set == nil {
		return nil, nil, features.Errorf(features.ENOTFOUND, "source set %q of model %q not found", name, modelID)
	}
	all, err := db.ListSources(ctx, modelID)
	if err != nil {
		return nil, nil, err
	}
	var out []*features.Source
	for _, src := range all {
		if src.SetName == name {
			out = append(out, src)
		}
	}
	return set, out, nil
}
