package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

func validateExplanations(exps []*features.Explanation) error {
	for _, e := range exps {
		what := fmt.Sprintf("explanation %q of %s@%s:%d", e.ID, e.ModelID, e.SourceID, e.Index)
		if err := checkText(what, e.ID, e.Description, e.TypeName, e.ExplanationModelName, e.AuthorID); err != nil {
			return err
		}
		if err := checkTextPtr(what, e.TriggeredByID, e.Notes); err != nil {
			return err
		}
		if !features.ValidIndex(e.Index) {
			return features.Errorf(features.EINVALID, "%s: invalid feature index %d", what, e.Index)
		}
		if err := fitsInt4(what, "umap_cluster", e.UmapCluster); err != nil {
			return err
		}
		if len(e.Embedding) != 0 && len(e.Embedding) != features.EmbeddingDim {
			return features.Errorf(features.EINVALID, "%s: embedding has %d values, want %d", what, len(e.Embedding), features.EmbeddingDim)
		}
		for j, sc := range e.Scores {
			if sc == nil {
				return features.Errorf(features.EINVALID, "%s: score %d is nil", what, j)
			}
			if err := checkText(what+" score", sc.ID, sc.ExplanationScoreTypeName, sc.ExplanationScoreModelName, sc.InitiatedByUserID, sc.JSONDetails); err != nil {
				return err
			}
		}
	}
	return nil
}

const explanationCols = `id, sid, idx, description, type_name, explanation_model_name, author_id, triggered_by_id,
	notes, embedding, score_v1, score_v2, umap_x, umap_y, umap_cluster, umap_log_feature_sparsity, created_at`

// explanationUpdate is the SET list of the explanation upserts.
const explanationUpdate = `sid = EXCLUDED.sid, idx = EXCLUDED.idx,
	description = EXCLUDED.description, type_name = EXCLUDED.type_name,
	explanation_model_name = EXCLUDED.explanation_model_name, author_id = EXCLUDED.author_id,
	triggered_by_id = EXCLUDED.triggered_by_id, notes = EXCLUDED.notes, embedding = EXCLUDED.embedding,
	score_v1 = EXCLUDED.score_v1, score_v2 = EXCLUDED.score_v2, umap_x = EXCLUDED.umap_x,
	umap_y = EXCLUDED.umap_y, umap_cluster = EXCLUDED.umap_cluster,
	umap_log_feature_sparsity = EXCLUDED.umap_log_feature_sparsity, created_at = EXCLUDED.created_at`

// explanationColumns holds explanations column by column, the parameters
// of one multi-row upsert (unnest of one array per column).
type explanationColumns struct {
	id, description, typeName, modelName, authorID []string
	triggeredByID, notes                           []*string
	sid, idx                                       []int32
	umapCluster                                    []*int32
	scoreV1                                        []float64
	scoreV2, umapX, umapY, umapLogSparsity         []*float64
	createdAt                                      []time.Time
}

func (c *explanationColumns) add(e *features.Explanation, sid int32, created time.Time) {
	var cluster *int32
	if e.UmapCluster != nil {
		v := int32(*e.UmapCluster) // validateExplanations checked the range
		cluster = &v
	}
	c.id = append(c.id, e.ID)
	c.sid = append(c.sid, sid)
	c.idx = append(c.idx, int32(e.Index))
	c.description = append(c.description, e.Description)
	c.typeName = append(c.typeName, e.TypeName)
	c.modelName = append(c.modelName, e.ExplanationModelName)
	c.authorID = append(c.authorID, e.AuthorID)
	c.triggeredByID = append(c.triggeredByID, e.TriggeredByID)
	c.notes = append(c.notes, e.Notes)
	c.scoreV1 = append(c.scoreV1, e.ScoreV1)
	c.scoreV2 = append(c.scoreV2, e.ScoreV2)
	c.umapX = append(c.umapX, e.UmapX)
	c.umapY = append(c.umapY, e.UmapY)
	c.umapCluster = append(c.umapCluster, cluster)
	c.umapLogSparsity = append(c.umapLogSparsity, e.UmapLogFeatureSparsity)
	c.createdAt = append(c.createdAt, created)
}

// upsertExplanations writes explanations (and replaces their scores) inside
// tx. sids maps "model\x00source" to the source's sid.
func (db *DB) upsertExplanations(ctx context.Context, tx pgx.Tx, sids map[string]int32, exps []*features.Explanation, now time.Time) error {
	if len(exps) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	ids := make([]string, 0, len(exps))
	for _, e := range exps {
		if e.ID == "" {
			e.ID = newID("x")
		}
		ids = append(ids, e.ID)
	}
	queueEmbeddingUpkeep(batch, sids, exps)
	// Explanations without an embedding go in with one statement: row by
	// row each cost ~70 µs of PostgreSQL (an import's explanations phase
	// spent more there than in its two GIN indexes). A batch that repeats
	// an id is written row by row, where the later row wins (one statement
	// cannot update a row twice); so are rows with an embedding (a real[]
	// per row does not unnest).
	seen := make(map[string]bool, len(exps))
	dup := false
	for _, e := range exps {
		dup = dup || seen[e.ID]
		seen[e.ID] = true
	}
	var set explanationColumns
	for _, e := range exps {
		sid := sids[e.ModelID+"\x00"+e.SourceID]
		if !dup && len(e.Embedding) == 0 {
			set.add(e, sid, orNow(e.CreatedAt, now))
			continue
		}
		batch.Queue(`INSERT INTO explanations (`+explanationCols+`)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
			ON CONFLICT (id) DO UPDATE SET `+explanationUpdate,
			e.ID, sid, int32(e.Index), e.Description, e.TypeName, e.ExplanationModelName, e.AuthorID, e.TriggeredByID,
			e.Notes, nilIfEmpty(e.Embedding), e.ScoreV1, e.ScoreV2, e.UmapX, e.UmapY, e.UmapCluster,
			e.UmapLogFeatureSparsity, orNow(e.CreatedAt, now))
	}
	if len(set.id) > 0 {
		batch.Queue(`INSERT INTO explanations (`+explanationCols+`)
			SELECT id, sid, idx, description, type_name, explanation_model_name, author_id, triggered_by_id,
			       notes, NULL, score_v1, score_v2, umap_x, umap_y, umap_cluster, umap_log_feature_sparsity, created_at
			  FROM unnest($1::text[], $2::int4[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			              $9::text[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::int4[], $15::float8[],
			              $16::timestamptz[])
			    AS u(id, sid, idx, description, type_name, explanation_model_name, author_id, triggered_by_id,
			         notes, score_v1, score_v2, umap_x, umap_y, umap_cluster, umap_log_feature_sparsity, created_at)
			ON CONFLICT (id) DO UPDATE SET `+explanationUpdate,
			set.id, set.sid, set.idx, set.description, set.typeName, set.modelName, set.authorID, set.triggeredByID,
			set.notes, set.scoreV1, set.scoreV2, set.umapX, set.umapY, set.umapCluster, set.umapLogSparsity, set.createdAt)
	}
	queueImportedEmbeddings(batch, exps)
	batch.Queue(`DELETE FROM explanation_scores WHERE explanation_id = ANY($1)`, ids)
	for _, e := range exps {
		for _, sc := range e.Scores {
			if sc.ID == "" {
				sc.ID = newID("s")
			}
			batch.Queue(`INSERT INTO explanation_scores (id, explanation_id, value, explanation_score_type_name,
				  explanation_score_model_name, initiated_by_user_id, json_details, created_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
				ON CONFLICT (id) DO UPDATE SET explanation_id = EXCLUDED.explanation_id, value = EXCLUDED.value,
				  explanation_score_type_name = EXCLUDED.explanation_score_type_name,
				  explanation_score_model_name = EXCLUDED.explanation_score_model_name,
				  initiated_by_user_id = EXCLUDED.initiated_by_user_id, json_details = EXCLUDED.json_details,
				  created_at = EXCLUDED.created_at`,
				sc.ID, e.ID, sc.Value, sc.ExplanationScoreTypeName, sc.ExplanationScoreModelName,
				sc.InitiatedByUserID, sc.JSONDetails, orNow(sc.CreatedAt, now))
		}
	}
	return tx.SendBatch(ctx, batch).Close()
}

// WriteExplanations upserts explanations by ID (with their scores) and
// records cp in the same transaction; ENOTFOUND when a feature is missing.
func (db *DB) WriteExplanations(ctx context.Context, exps []*features.Explanation, cp *features.Checkpoint) error {
	sids := map[string]int32{}
	need := map[int32][]int32{}
	for i, e := range exps {
		if e == nil {
			return features.Errorf(features.EINVALID, "explanation %d is nil", i)
		}
		key := features.FeatureKey{ModelID: e.ModelID, SourceID: e.SourceID, Index: e.Index}
		if err := key.Validate(); err != nil {
			return features.Errorf(features.EINVALID, "explanation %q: %s", e.ID, features.ErrorMessage(err))
		}
		gk := e.ModelID + "\x00" + e.SourceID
		sid, ok := sids[gk]
		if !ok {
			var err error
			if sid, err = db.sourceID(ctx, e.ModelID, e.SourceID); err != nil {
				return err
			}
			sids[gk] = sid
		}
		need[sid] = append(need[sid], int32(e.Index))
	}
	if err := validateExplanations(exps); err != nil {
		return err
	}
	for sid, idxs := range need {
		have, err := db.existingIndexes(ctx, sid, idxs)
		if err != nil {
			return err
		}
		for _, e := range exps {
			if sids[e.ModelID+"\x00"+e.SourceID] == sid && !have[int32(e.Index)] {
				return features.Errorf(features.ENOTFOUND, "feature %s@%s:%d of explanation %q not found", e.ModelID, e.SourceID, e.Index, e.ID)
			}
		}
	}
	now := db.now()
	err := db.unitTx(ctx, cp, func(tx pgx.Tx) error {
		return db.upsertExplanations(ctx, tx, sids, exps, now)
	})
	return dbErr(err, "write %d explanations", len(exps))
}

// CreateExplanation stores a new explanation of an existing feature and
// fills in ID and CreatedAt.
func (db *DB) CreateExplanation(ctx context.Context, e *features.Explanation) error {
	if e == nil {
		return features.Errorf(features.EINVALID, "nil explanation")
	}
	if strings.TrimSpace(e.Description) == "" {
		return features.Errorf(features.EINVALID, "explanation description is empty")
	}
	if e.ID == "" {
		e.ID = newID("x")
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = db.now()
	}
	return db.WriteExplanations(ctx, []*features.Explanation{e}, nil)
}

// loadExplanations reads the explanations (best first) and their scores of
// one feature.
func loadExplanations(rows pgx.Rows, modelID, sourceID string) ([]*features.Explanation, error) {
	defer rows.Close()
	var out []*features.Explanation
	byID := map[string]*features.Explanation{}
	for rows.Next() {
		e := &features.Explanation{ModelID: modelID, SourceID: sourceID}
		var sc struct {
			id, typ, model, user, details *string
			value                         *float64
			created                       *time.Time
		}
		var idx int32
		if err := rows.Scan(&e.ID, &idx, &e.Description, &e.TypeName, &e.ExplanationModelName, &e.AuthorID,
			&e.TriggeredByID, &e.Notes, &e.Embedding, &e.ScoreV1, &e.ScoreV2, &e.UmapX, &e.UmapY, &e.UmapCluster,
			&e.UmapLogFeatureSparsity, &e.CreatedAt,
			&sc.id, &sc.value, &sc.typ, &sc.model, &sc.user, &sc.details, &sc.created); err != nil {
			return nil, err
		}
		if prev := byID[e.ID]; prev != nil {
			e = prev
		} else {
			e.Index = int(idx)
			e.CreatedAt = e.CreatedAt.UTC()
			e.Embedding = nilIfEmpty(e.Embedding)
			byID[e.ID] = e
			out = append(out, e)
		}
		if sc.id != nil {
			e.Scores = append(e.Scores, &features.ExplanationScore{ID: *sc.id, ExplanationID: e.ID, Value: *sc.value,
				ExplanationScoreTypeName: *sc.typ, ExplanationScoreModelName: *sc.model, InitiatedByUserID: *sc.user,
				JSONDetails: *sc.details, CreatedAt: sc.created.UTC()})
		}
	}
	return out, rows.Err()
}

const explanationSelect = `SELECT e.id, e.idx, e.description, e.type_name, e.explanation_model_name, e.author_id,
	  e.triggered_by_id, e.notes, e.embedding, e.score_v1, e.score_v2, e.umap_x, e.umap_y, e.umap_cluster,
	  e.umap_log_feature_sparsity, e.created_at,
	  s.id, s.value, s.explanation_score_type_name, s.explanation_score_model_name, s.initiated_by_user_id,
	  s.json_details, s.created_at
	FROM explanations e LEFT JOIN explanation_scores s ON s.explanation_id = e.id`

const explanationOrder = ` ORDER BY e.score_v2 DESC NULLS LAST, e.score_v1 DESC, e.created_at, e.id, s.created_at, s.id`

// SearchExplanations finds explanations whose description matches the
// full-text query (websearch syntax: words, "phrases", -not, or) or holds
// it as a substring, so that short and symbol queries ("if", ":=", "(")
// find the token labels that quote them. Best first: labels quoting the
// query as a whole token (“err” or “ err”), then other substring matches,
// then full-text matches, each by full-text rank.
func (db *DB) SearchExplanations(ctx context.Context, q features.ExplanationQuery) ([]*features.ExplanationHit, int, error) {
	if err := q.CheckPage(); err != nil {
		return nil, 0, err
	}
	if err := checkText("search query", q.Query); err != nil {
		return nil, 0, err
	}
	srcs := q.SourceIDs
	if srcs == nil {
		srcs = []string{}
	}
	// sub.p > 0 is the LIKE, which explanations_description_trgm serves.
	where := ` FROM explanations e JOIN sources src ON src.sid = e.sid,
		  websearch_to_tsquery('english', $1) query,
		  LATERAL (SELECT coalesce(least(nullif(strpos(e.description, '“' || $1 || '”'), 0),
		    nullif(strpos(e.description, '“ ' || $1 || '”'), 0)), 0) AS p) tok,
		  LATERAL (SELECT strpos(lower(e.description), lower($1)) AS p) sub
		WHERE (e.tsv @@ query OR lower(e.description) LIKE ` + containsLike("$1") + `)
		  AND ($2 = '' OR src.model_id = $2) AND (cardinality($3::text[]) = 0 OR src.id = ANY($3))
		  AND ($4 = '' OR EXISTS (SELECT 1 FROM source_sets ss
		    WHERE ss.model_id = src.model_id AND ss.name = src.set_name AND ss.release_name = $4))`
	// A common word matches 5-7 % of all explanations: the count stops at
	// cap+1 (features.MatchCap), and past the cap only the first cap+1
	// matches found are ranked, so the cost is bounded whatever the query.
	mcap := db.matchCapOrDefault()
	var total int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1`+where+` LIMIT $5) c`,
		q.Query, q.ModelID, srcs, q.ReleaseName, mcap+1).Scan(&total); err != nil {
		return nil, 0, dbErr(err, "search explanations")
	}
	if total == 0 || q.Offset >= total {
		return nil, total, nil
	}
	candidates := ""
	if total > mcap {
		candidates = fmt.Sprintf(` AND e.id IN (SELECT e.id%s LIMIT %d)`, where, mcap+1)
	}
	// Tiers: 20 for a whole quoted token, 10 for a substring, 0 for full
	// text only; within a tier an earlier match ranks higher (a label's
	// first token is its main one: "peaks on “ err” ..." before "...
	// promotes “ err”") and a token counted in more top examples ("20/20")
	// higher, then the full-text rank.
	rows, err := db.Pool.Query(ctx, `SELECT e.id, src.model_id, src.id,
		  (CASE WHEN tok.p > 0 THEN 20 + 1.0 / tok.p + coalesce(substring(substr(e.description, tok.p) from '^“[^”]*” (\d{1,4})/')::int, 0) / 2000.0
		        WHEN sub.p > 0 THEN 10 + 1.0 / sub.p ELSE 0 END)::float4 + ts_rank(e.tsv, query) / 100 AS rank`+where+candidates+`
		ORDER BY rank DESC, e.id LIMIT $5 OFFSET $6`, q.Query, q.ModelID, srcs, q.ReleaseName, q.Limit, q.Offset)
	if err != nil {
		return nil, 0, dbErr(err, "search explanations")
	}
	type hit struct {
		id, model, source string
		rank              float32
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hit, error) {
		var h hit
		err := r.Scan(&h.id, &h.model, &h.source, &h.rank)
		return h, err
	})
	if err != nil {
		return nil, 0, dbErr(err, "search explanations")
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	erows, err := db.Pool.Query(ctx, explanationSelect+` WHERE e.id = ANY($1)`+explanationOrder, ids)
	if err != nil {
		return nil, 0, dbErr(err, "search explanations")
	}
	exps, err := loadExplanations(erows, "", "")
	if err != nil {
		return nil, 0, dbErr(err, "search explanations")
	}
	byID := map[string]*features.Explanation{}
	for _, e := range exps {
		byID[e.ID] = e
	}
	out := make([]*features.ExplanationHit, 0, len(hits))
	for _, h := range hits {
		e := byID[h.id]
		if e == nil {
			continue // deleted between the two queries
		}
		e.ModelID, e.SourceID = h.model, h.source
		out = append(out, &features.ExplanationHit{Explanation: e, Rank: float64(h.rank)})
	}
	return out, total, nil
}

// containsLike is a LIKE pattern, in SQL, matching what
// strpos(lower(text), lower(param)) > 0 does: the parameter lowered by
// PostgreSQL, its wildcards and the escape character escaped. Unlike
// strpos, LIKE can use a trigram index (migration 00009).
func containsLike(param string) string {
	return `('%' || replace(replace(replace(lower(` + param + `), '\', '\\'), '%', '\%'), '_', '\_') || '%')`
}
