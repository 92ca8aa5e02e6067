package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

// querier is what helpers need of a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const modelCols = `id, display_name, display_name_short, creator_id, tlens_id, dimension, layers,
	neurons_per_layer, visibility, default_source_set_name, default_source_id, inference_enabled,
	instruct, owner, website, created_at, updated_at`

func scanModel(row pgx.Row) (*features.Model, error) {
	m := &features.Model{}
	err := row.Scan(&m.ID, &m.DisplayName, &m.DisplayNameShort, &m.CreatorID, &m.TlensID, &m.Dimension,
		&m.Layers, &m.NeuronsPerLayer, &m.Visibility, &m.DefaultSourceSetName, &m.DefaultSourceID,
		&m.InferenceEnabled, &m.Instruct, &m.Owner, &m.Website, &m.CreatedAt, &m.UpdatedAt)
	if err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

// ListModels returns every model ordered by id.
func (db *DB) ListModels(ctx context.Context) ([]*features.Model, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+modelCols+` FROM models ORDER BY id`)
	if err != nil {
		return nil, dbErr(err, "list models")
	}
	defer rows.Close()
	var out []*features.Model
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, dbErr(err, "list models")
		}
		out = append(out, m)
	}
	return out, dbErr(rows.Err(), "list models")
}

// GetModel returns ENOTFOUND when the model does not exist.
func (db *DB) GetModel(ctx context.Context, modelID string) (*features.Model, error) {
	m, err := scanModel(db.Pool.QueryRow(ctx, `SELECT `+modelCols+` FROM models WHERE id = $1`, modelID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, features.Errorf(features.ENOTFOUND, "model %q not found", modelID)
	}
	return m, dbErr(err, "get model %q", modelID)
}

// UpsertModel creates or replaces a model.
func (db *DB) UpsertModel(ctx context.Context, m *features.Model) error {
	if !features.ValidID(m.ID) {
		return features.Errorf(features.EINVALID, "invalid model id %q", m.ID)
	}
	if err := checkText("model", m.DisplayName, m.DisplayNameShort, m.CreatorID, m.Visibility, m.Owner); err != nil {
		return err
	}
	now := db.now()
	created, updated := orNow(m.CreatedAt, now), orNow(m.UpdatedAt, now)
	_, err := db.Pool.Exec(ctx, `INSERT INTO models (`+modelCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
		ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name,
		  display_name_short = EXCLUDED.display_name_short, creator_id = EXCLUDED.creator_id,
		  tlens_id = EXCLUDED.tlens_id, dimension = EXCLUDED.dimension, layers = EXCLUDED.layers,
		  neurons_per_layer = EXCLUDED.neurons_per_layer, visibility = EXCLUDED.visibility,
		  default_source_set_name = EXCLUDED.default_source_set_name,
		  default_source_id = EXCLUDED.default_source_id, inference_enabled = EXCLUDED.inference_enabled,
		  instruct = EXCLUDED.instruct, owner = EXCLUDED.owner, website = EXCLUDED.website,
		  created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
		m.ID, m.DisplayName, m.DisplayNameShort, m.CreatorID, m.TlensID, m.Dimension, m.Layers,
		m.NeuronsPerLayer, orDefault(m.Visibility, "PUBLIC"), m.DefaultSourceSetName, m.DefaultSourceID,
		m.InferenceEnabled, m.Instruct, m.Owner, m.Website, created, updated)
	if err != nil {
		return dbErr(err, "upsert model %q", m.ID)
	}
	m.CreatedAt, m.UpdatedAt = created, updated
	return nil
}

// UpsertRelease creates or replaces a release.
func (db *DB) UpsertRelease(ctx context.Context, r *features.Release) error {
	if strings.TrimSpace(r.Name) == "" {
		return features.Errorf(features.EINVALID, "release name is empty")
	}
	if err := checkText("release", r.Name, r.Description, r.CreatorName, r.CreatorID, r.Visibility); err != nil {
		return err
	}
	created := orNow(r.CreatedAt, db.now())
	_, err := db.Pool.Exec(ctx, `INSERT INTO releases (name, description, description_short, creator_name,
		  creator_name_short, creator_email, creator_id, visibility, is_new_ui, featured, urls, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
		ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,
		  description_short = EXCLUDED.description_short, creator_name = EXCLUDED.creator_name,
		  creator_name_short = EXCLUDED.creator_name_short, creator_email = EXCLUDED.creator_email,
		  creator_id = EXCLUDED.creator_id, visibility = EXCLUDED.visibility, is_new_ui = EXCLUDED.is_new_ui,
		  featured = EXCLUDED.featured, urls = EXCLUDED.urls, created_at = EXCLUDED.created_at`,
		r.Name, r.Description, r.DescriptionShort, r.CreatorName, r.CreatorNameShort, r.CreatorEmail,
		r.CreatorID, orDefault(r.Visibility, "PUBLIC"), r.IsNewUI, r.Featured, nonNil(r.URLs), created)
	if err != nil {
		return dbErr(err, "upsert release %q", r.Name)
	}
	r.CreatedAt = created
	return nil
}

// GetRelease returns ENOTFOUND when the release does not exist.
func (db *DB) GetRelease(ctx context.Context, name string) (*features.Release, error) {
	r := &features.Release{}
	err := db.Pool.QueryRow(ctx, `SELECT name, description, description_short, creator_name, creator_name_short,
		  creator_email, creator_id, visibility, is_new_ui, featured, urls, created_at
		FROM releases WHERE name = $1`, name).Scan(&r.Name, &r.Description, &r.DescriptionShort,
		&r.CreatorName, &r.CreatorNameShort, &r.CreatorEmail, &r.CreatorID, &r.Visibility, &r.IsNewUI,
		&r.Featured, &r.URLs, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, features.Errorf(features.ENOTFOUND, "release %q not found", name)
	}
	if err != nil {
		return nil, dbErr(err, "get release %q", name)
	}
	r.URLs = nilIfEmpty(r.URLs)
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

const sourceSetCols = `model_id, name, description, type, creator_name, creator_email, creator_id,
	release_name, has_dashboards, visibility, urls, default_range, default_show_breaks, show_dfa,
	show_correlated, show_head_attribution, show_umap, created_at`

// UpsertSourceSet creates or replaces a source set; its model (and release,
// when named) must exist.
func (db *DB) UpsertSourceSet(ctx context.Context, s *features.SourceSet) error {
	if !features.ValidID(s.ModelID) || !features.ValidID(s.Name) {
		return features.Errorf(features.EINVALID, "invalid source set %q of model %q", s.Name, s.ModelID)
	}
	if err := checkText("source set", s.Description, s.Type, s.CreatorName, s.CreatorID, s.Visibility); err != nil {
		return err
	}
	created := orNow(s.CreatedAt, db.now())
	_, err := db.Pool.Exec(ctx, `INSERT INTO source_sets (`+sourceSetCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
		ON CONFLICT (model_id, name) DO UPDATE SET description = EXCLUDED.description, type = EXCLUDED.type,
		  creator_name = EXCLUDED.creator_name, creator_email = EXCLUDED.creator_email,
		  creator_id = EXCLUDED.creator_id, release_name = EXCLUDED.release_name,
		  has_dashboards = EXCLUDED.has_dashboards, visibility = EXCLUDED.visibility, urls = EXCLUDED.urls,
		  default_range = EXCLUDED.default_range, default_show_breaks = EXCLUDED.default_show_breaks,
		  show_dfa = EXCLUDED.show_dfa, show_correlated = EXCLUDED.show_correlated,
		  show_head_attribution = EXCLUDED.show_head_attribution, show_umap = EXCLUDED.show_umap,
		  created_at = EXCLUDED.created_at`,
		s.ModelID, s.Name, s.Description, s.Type, s.CreatorName, s.CreatorEmail, s.CreatorID, s.ReleaseName,
		s.HasDashboards, orDefault(s.Visibility, "PUBLIC"), nonNil(s.URLs), s.DefaultRange, s.DefaultShowBreaks,
		s.ShowDFA, s.ShowCorrelated, s.ShowHeadAttribution, s.ShowUmap, created)
	if err != nil {
		return dbErr(err, "upsert source set %s/%s", s.ModelID, s.Name)
	}
	s.CreatedAt = created
	return nil
}

// ListSourceSets returns the model's source sets ordered by name.
func (db *DB) ListSourceSets(ctx context.Context, modelID string) ([]*features.SourceSet, error) {
	rows, err := db.Pool.Query(ctx, sourceSetsOfModel, modelID)
	if err != nil {
		return nil, dbErr(err, "list source sets")
	}
	out, err := scanSourceSets(rows)
	return out, dbErr(err, "list source sets")
}

// sourceSetsOfModel selects the source sets of model $1 for scanSourceSets.
const sourceSetsOfModel = `SELECT ` + sourceSetCols + ` FROM source_sets WHERE model_id = $1 ORDER BY name`

// scanSourceSets reads and closes the rows of sourceSetsOfModel.
func scanSourceSets(rows pgx.Rows) ([]*features.SourceSet, error) {
	defer rows.Close()
	var out []*features.SourceSet
	for rows.Next() {
		s := &features.SourceSet{}
		if err := rows.Scan(&s.ModelID, &s.Name, &s.Description, &s.Type, &s.CreatorName, &s.CreatorEmail,
			&s.CreatorID, &s.ReleaseName, &s.HasDashboards, &s.Visibility, &s.URLs, &s.DefaultRange,
			&s.DefaultShowBreaks, &s.ShowDFA, &s.ShowCorrelated, &s.ShowHeadAttribution, &s.ShowUmap,
			&s.CreatedAt); err != nil {
			return nil, err
		}
		s.URLs = nilIfEmpty(s.URLs)
		s.CreatedAt = s.CreatedAt.UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}

const sourceCols = `s.sid, s.model_id, s.id, s.set_name, s.creator_id, s.has_dashboards, s.inference_enabled,
	s.saelens_config::text, s.saelens_release, s.saelens_sae_id, s.hf_repo_id, s.hf_folder_id, s.visibility,
	s.num_prompts, s.num_tokens_in_prompt, s.dataset, s.notes, s.created_at, s.hook_name, s.num_features, s.build`

// storedFeatureCount stands in for the SAE width when it is not recorded:
// counting is a scan of the source's features, so it runs only then.
const storedFeatureCount = `CASE WHEN coalesce(s.num_features, 0) > 0 THEN 0
		  ELSE (SELECT count(*) FROM features f WHERE f.sid = s.sid) END`

func scanSource(row pgx.Row) (*features.Source, int32, error) {
	s := &features.Source{}
	var sid int32
	var cfg *string
	var build []byte
	err := row.Scan(&sid, &s.ModelID, &s.ID, &s.SetName, &s.CreatorID, &s.HasDashboards, &s.InferenceEnabled,
		&cfg, &s.SAELensRelease, &s.SAELensSAEID, &s.HFRepoID, &s.HFFolderID, &s.Visibility, &s.NumPrompts,
		&s.NumTokensInPrompt, &s.Dataset, &s.Notes, &s.CreatedAt, &s.HookName, &s.NumFeatures, &build)
	if err != nil {
		return nil, 0, err
	}
	if cfg != nil {
		s.SAELensConfig = json.RawMessage(*cfg)
	}
	if len(build) > 0 {
		s.Build = &features.BuildStatus{}
		if err := json.Unmarshal(build, s.Build); err != nil {
			return nil, 0, err
		}
		s.Build.UpdatedAt = s.Build.UpdatedAt.UTC()
	}
	s.CreatedAt = s.CreatedAt.UTC()
	return s, sid, nil
}

// ListSources returns the model's sources ordered by layer (numerically
// where it is a number), then id.
func (db *DB) ListSources(ctx context.Context, modelID string) ([]*features.Source, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+sourceCols+`,
		  `+storedFeatureCount+`
		FROM sources s WHERE s.model_id = $1
		ORDER BY (substring(s.id from '^[0-9]+'))::numeric NULLS LAST, s.id`, modelID)
	if err != nil {
		return nil, dbErr(err, "list sources")
	}
	defer rows.Close()
	var out []*features.Source
	for rows.Next() {
		var n int
		s, _, err := scanSource(scanExtra{rows, &n})
		if err != nil {
			return nil, dbErr(err, "list sources")
		}
		if s.NumFeatures == 0 {
			s.NumFeatures = n
		}
		out = append(out, s)
	}
	return out, dbErr(rows.Err(), "list sources")
}

// scanExtra appends destinations to a Scan, so one scan function serves
// queries with extra columns.
type scanExtra struct {
	row   pgx.Row
	extra any
}

func (s scanExtra) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra)...) }

// GetSource returns ENOTFOUND when the source does not exist.
func (db *DB) GetSource(ctx context.Context, modelID, sourceID string) (*features.Source, error) {
	var n int
	s, _, err := scanSource(scanExtra{db.Pool.QueryRow(ctx, `SELECT `+sourceCols+`,
		  `+storedFeatureCount+`
		FROM sources s WHERE s.model_id = $1 AND s.id = $2`, modelID, sourceID), &n})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, features.Errorf(features.ENOTFOUND, "source %s/%s not found", modelID, sourceID)
	}
	if err != nil {
		return nil, dbErr(err, "get source %s/%s", modelID, sourceID)
	}
	if s.NumFeatures == 0 {
		s.NumFeatures = n
	}
	return s, nil
}

// UpsertSource creates or replaces a source; its model and source set must
// exist. The Build field is left alone (SetBuildStatus writes it).
func (db *DB) UpsertSource(ctx context.Context, s *features.Source) error {
	if !features.ValidID(s.ModelID) || !features.ValidID(s.SetName) {
		return features.Errorf(features.EINVALID, "invalid source %q (set %q) of model %q", s.ID, s.SetName, s.ModelID)
	}
	if err := features.CheckSourceID(s.ID); err != nil {
		return err
	}
	if err := checkText("source", s.CreatorID, s.Visibility, s.HookName); err != nil {
		return err
	}
	var cfg *string
	if len(s.SAELensConfig) > 0 && string(s.SAELensConfig) != "null" {
		if !json.Valid(s.SAELensConfig) {
			return features.Errorf(features.EINVALID, "source %s/%s: saelensConfig is not valid JSON", s.ModelID, s.ID)
		}
		c := string(s.SAELensConfig)
		cfg = &c
	}
	created := orNow(s.CreatedAt, db.now())
	_, err := db.Pool.Exec(ctx, `INSERT INTO sources (model_id, id, set_name, creator_id, has_dashboards,
		  inference_enabled, saelens_config, saelens_release, saelens_sae_id, hf_repo_id, hf_folder_id,
		  visibility, num_prompts, num_tokens_in_prompt, dataset, notes, created_at, hook_name, num_features, owner_key)
		VALUES ($1,$2,$3,$4,$5,$6,$7::json,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,nullif($20, ''))
		ON CONFLICT (model_id, id) DO UPDATE SET set_name = EXCLUDED.set_name, creator_id = EXCLUDED.creator_id,
		  has_dashboards = EXCLUDED.has_dashboards, inference_enabled = EXCLUDED.inference_enabled,
		  saelens_config = EXCLUDED.saelens_config, saelens_release = EXCLUDED.saelens_release,
		  saelens_sae_id = EXCLUDED.saelens_sae_id, hf_repo_id = EXCLUDED.hf_repo_id,
		  hf_folder_id = EXCLUDED.hf_folder_id, visibility = EXCLUDED.visibility,
		  num_prompts = EXCLUDED.num_prompts, num_tokens_in_prompt = EXCLUDED.num_tokens_in_prompt,
		  dataset = EXCLUDED.dataset, notes = EXCLUDED.notes, created_at = EXCLUDED.created_at,
		  hook_name = EXCLUDED.hook_name, num_features = EXCLUDED.num_features`,
		s.ModelID, s.ID, s.SetName, s.CreatorID, s.HasDashboards, s.InferenceEnabled, cfg, s.SAELensRelease,
		s.SAELensSAEID, s.HFRepoID, s.HFFolderID, orDefault(s.Visibility, "PUBLIC"), s.NumPrompts,
		s.NumTokensInPrompt, s.Dataset, s.Notes, created, s.HookName, s.NumFeatures, s.OwnerKeyID)
	if err != nil {
		return dbErr(err, "upsert source %s/%s", s.ModelID, s.ID)
	}
	s.CreatedAt = created
	return nil
}

// SetBuildStatus records dashboard-build progress for a source.
func (db *DB) SetBuildStatus(ctx context.Context, modelID, sourceID string, st *features.BuildStatus) error {
	var b []byte
	if st != nil {
		cp := *st
		cp.UpdatedAt = orNow(cp.UpdatedAt, db.now())
		var err error
		if b, err = json.Marshal(cp); err != nil {
			return features.Wrap(features.EINVALID, err, "encode build status")
		}
	}
	tag, err := db.Pool.Exec(ctx, `UPDATE sources SET build = $3 WHERE model_id = $1 AND id = $2`, modelID, sourceID, b)
	if err != nil {
		return dbErr(err, "set build status of %s/%s", modelID, sourceID)
	}
	if tag.RowsAffected() == 0 {
		return features.Errorf(features.ENOTFOUND, "source %s/%s not found", modelID, sourceID)
	}
	return nil
}

// SourceStats summarises a source: feature counts, median density of live
// features, how many features have an explanation and how many an
// automatic top-tokens label (counted apart).
func (db *DB) SourceStats(ctx context.Context, modelID, sourceID string) (*features.SourceStats, error) {
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if err != nil {
		return nil, err
	}
	t, err := db.tally(ctx, db.Pool, sid)
	if err != nil {
		return nil, dbErr(err, "source stats of %s/%s", modelID, sourceID)
	}
	st := &features.SourceStats{NumFeatures: int(t.total()), NumDead: int(t.bins[tallyDead])}
	if live := t.live(); live > 0 {
		// percentile_cont(0.5) of the live densities: the middle one, or
		// the two middle ones interpolated, read from features_density.
		rows, err := db.Pool.Query(ctx, `SELECT frac_nonzero FROM features WHERE sid = $1 AND max_act_approx > 0
			ORDER BY frac_nonzero, idx OFFSET $2 LIMIT $3`, sid, (live-1)/2, 2-live%2)
		if err != nil {
			return nil, dbErr(err, "source stats of %s/%s", modelID, sourceID)
		}
		mid, err := pgx.CollectRows(rows, pgx.RowTo[float64])
		if err != nil {
			return nil, dbErr(err, "source stats of %s/%s", modelID, sourceID)
		}
		switch len(mid) {
		case 1:
			st.MedianDensity = mid[0]
		case 2:
			st.MedianDensity = mid[0] + (mid[1]-mid[0])*0.5
		}
	}
	err = db.Pool.QueryRow(ctx, `SELECT (SELECT count(DISTINCT idx) FROM explanations WHERE sid = $1 AND type_name <> $2),
		  (SELECT count(DISTINCT idx) FROM explanations WHERE sid = $1 AND type_name = $2)`,
		sid, features.AutoLabelType).Scan(&st.NumExplained, &st.NumAutoLabelled)
	if err != nil {
		return nil, dbErr(err, "source stats of %s/%s", modelID, sourceID)
	}
	return st, nil
}

// sourceID returns the source's integer surrogate, cached: sids never change
// once a source exists.
func (db *DB) sourceID(ctx context.Context, modelID, sourceID string) (int32, error) {
	key := modelID + "\x00" + sourceID
	if v, ok := db.sids.Load(key); ok {
		return v.(int32), nil
	}
	var sid int32
	err := db.Pool.QueryRow(ctx, `SELECT sid FROM sources WHERE model_id = $1 AND id = $2`, modelID, sourceID).Scan(&sid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, features.Errorf(features.ENOTFOUND, "source %s/%s not found", modelID, sourceID)
	}
	if err != nil {
		return 0, dbErr(err, "find source %s/%s", modelID, sourceID)
	}
	db.sids.Store(key, sid)
	return sid, nil
}
