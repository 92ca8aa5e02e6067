package store

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

// WriteAutoInterp upserts explanations with their scores, their runs and
// cp in one transaction, so a job killed mid-way leaves each feature either
// fully written and checkpointed or untouched.
func (db *DB) WriteAutoInterp(ctx context.Context, exps []*features.Explanation, runs []*features.ExplanationRun, cp *features.Checkpoint) error {
	for i, r := range runs {
		if r == nil || r.ExplanationID == "" {
			return features.Errorf(features.EINVALID, "explanation run %d has no explanation id", i)
		}
		if err := checkText("explanation run", r.Job, r.PromptVersion); err != nil {
			return err
		}
	}
	if len(exps) == 0 && len(runs) == 0 {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return writeCheckpoint(ctx, tx, cp) })
		return dbErr(err, "write checkpoint")
	}
	sids := map[string]int32{}
	for _, e := range exps {
		if e == nil {
			return features.Errorf(features.EINVALID, "nil explanation")
		}
		key := features.FeatureKey{ModelID: e.ModelID, SourceID: e.SourceID, Index: e.Index}
		if err := key.Validate(); err != nil {
			return err
		}
		gk := e.ModelID + "\x00" + e.SourceID
		if _, ok := sids[gk]; !ok {
			sid, err := db.sourceID(ctx, e.ModelID, e.SourceID)
			if err != nil {
				return err
			}
			sids[gk] = sid
		}
		have, err := db.existingIndexes(ctx, sids[gk], []int32{int32(e.Index)})
		if err != nil {
			return err
		}
		if !have[int32(e.Index)] {
			return features.Errorf(features.ENOTFOUND, "feature %s not found", key)
		}
	}
	if err := validateExplanations(exps); err != nil {
		return err
	}
	now := db.now()
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if err := db.upsertExplanations(ctx, tx, sids, exps, now); err != nil {
			return err
		}
		for _, r := range runs {
			if _, err := tx.Exec(ctx, `INSERT INTO explanation_runs (explanation_id, job, prompt_version, prompt_tokens, completion_tokens)
				VALUES ($1,$2,$3,$4,$5)
				ON CONFLICT (explanation_id) DO UPDATE SET job = EXCLUDED.job, prompt_version = EXCLUDED.prompt_version,
				  prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens, created_at = now()`,
				r.ExplanationID, r.Job, r.PromptVersion, r.PromptTokens, r.CompletionTokens); err != nil {
				return err
			}
		}
		return writeCheckpoint(ctx, tx, cp)
	})
	return dbErr(err, "write %d auto-interp explanations", len(exps))
}

// ExplanationByID returns one explanation with its scores.
func (db *DB) ExplanationByID(ctx context.Context, id string) (*features.Explanation, error) {
	if strings.TrimSpace(id) == "" || len(id) > 128 {
		return nil, features.Errorf(features.EINVALID, "invalid explanation id %q", id)
	}
	if err := checkText("explanation id", id); err != nil {
		return nil, err
	}
	var modelID, sourceID string
	err := db.Pool.QueryRow(ctx, `SELECT src.model_id, src.id FROM explanations e JOIN sources src ON src.sid = e.sid
		WHERE e.id = $1`, id).Scan(&modelID, &sourceID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, features.Errorf(features.ENOTFOUND, "explanation %q not found", id)
	}
	if err != nil {
		return nil, dbErr(err, "read explanation %q", id)
	}
	rows, err := db.Pool.Query(ctx, explanationSelect+` WHERE e.id = $1`+explanationOrder, id)
	if err != nil {
		return nil, dbErr(err, "read explanation %q", id)
	}
	exps, err := loadExplanations(rows, modelID, sourceID)
	if err != nil {
		return nil, dbErr(err, "read explanation %q", id)
	}
	if len(exps) == 0 {
		return nil, features.Errorf(features.ENOTFOUND, "explanation %q not found", id)
	}
	return exps[0], nil
}

// AddExplanationScore appends a score to an existing explanation.
func (db *DB) AddExplanationScore(ctx context.Context, sc *features.ExplanationScore) error {
	if sc == nil || sc.ExplanationID == "" {
		return features.Errorf(features.EINVALID, "score needs an explanation id")
	}
	if err := checkText("explanation score", sc.ExplanationID, sc.ExplanationScoreTypeName, sc.ExplanationScoreModelName,
		sc.InitiatedByUserID, sc.JSONDetails); err != nil {
		return err
	}
	if sc.ID == "" {
		sc.ID = newID("s")
	}
	if sc.CreatedAt.IsZero() {
		sc.CreatedAt = db.now()
	}
	tag, err := db.Pool.Exec(ctx, `INSERT INTO explanation_scores (id, explanation_id, value, explanation_score_type_name,
		  explanation_score_model_name, initiated_by_user_id, json_details, created_at)
		SELECT $1,$2,$3,$4,$5,$6,$7,$8 WHERE EXISTS (SELECT 1 FROM explanations WHERE id = $2)`,
		sc.ID, sc.ExplanationID, sc.Value, sc.ExplanationScoreTypeName, sc.ExplanationScoreModelName,
		sc.InitiatedByUserID, sc.JSONDetails, sc.CreatedAt)
	if err != nil {
		return dbErr(err, "add score to explanation %q", sc.ExplanationID)
	}
	if tag.RowsAffected() == 0 {
		return features.Errorf(features.ENOTFOUND, "explanation %q not found", sc.ExplanationID)
	}
	return nil
}

// ExplanationRuns returns the runs of the given explanations by id.
func (db *DB) ExplanationRuns(ctx context.Context, ids []string) (map[string]*features.ExplanationRun, error) {
	rows, err := db.Pool.Query(ctx, `SELECT explanation_id, job, prompt_version, prompt_tokens, completion_tokens
		FROM explanation_runs WHERE explanation_id = ANY($1)`, ids)
	if err != nil {
		return nil, dbErr(err, "read explanation runs")
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*features.ExplanationRun, error) {
		run := &features.ExplanationRun{}
		err := r.Scan(&run.ExplanationID, &run.Job, &run.PromptVersion, &run.PromptTokens, &run.CompletionTokens)
		return run, err
	})
	if err != nil {
		return nil, dbErr(err, "read explanation runs")
	}
	out := make(map[string]*features.ExplanationRun, len(runs))
	for _, r := range runs {
		out[r.ExplanationID] = r
	}
	return out, nil
}
