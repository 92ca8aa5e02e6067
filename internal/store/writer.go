package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"saex/internal/features"
)

const featureCols = `source_set_name, creator_id, created_at, max_act_approx, frac_nonzero, has_vector,
	vector, vector_label, vector_default_steer_strength, hook_name, topk_cos_sim_indices, topk_cos_sim_values,
	neuron_alignment_indices, neuron_alignment_values, neuron_alignment_l1,
	correlated_neurons_indices, correlated_neurons_pearson, correlated_neurons_l1,
	correlated_features_indices, correlated_features_pearson, correlated_features_l1,
	neg_str, neg_values, pos_str, pos_values, freq_hist_heights, freq_hist_values,
	logits_hist_heights, logits_hist_values, decoder_weights_dist,
	umap_cluster, umap_log_feature_sparsity, umap_x, umap_y`

// featureCopyCols are the columns of featureArgs, for COPY.
var featureCopyCols = append([]string{"sid", "idx"}, strings.Split(strings.Join(strings.Fields(featureCols), ""), ",")...)

var upsertFeatureSQL = func() string {
	cols := strings.Split(strings.Join(strings.Fields(featureCols), ""), ",")
	ph := make([]string, len(cols))
	set := make([]string, len(cols))
	for i, c := range cols {
		ph[i] = fmt.Sprintf("$%d", i+3)
		set[i] = c + " = EXCLUDED." + c
	}
	return `INSERT INTO features (sid, idx, ` + strings.Join(cols, ", ") + `) VALUES ($1, $2, ` +
		strings.Join(ph, ", ") + `) ON CONFLICT (sid, idx) DO UPDATE SET ` + strings.Join(set, ", ")
}()

func bytesList(ss []string) [][]byte {
	if ss == nil {
		return nil
	}
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// featureArgs are a feature's column values; its arrays as float8s and
// int4s, which the connection encodes without pgx's per-element boxing.
func featureArgs(sid int32, f *features.Feature, created any) []any {
	return []any{sid, f.Index, f.SourceSetName, f.CreatorID, created, f.MaxActApprox, f.FracNonzero, f.HasVector,
		float8s(f.Vector), f.VectorLabel, f.VectorDefaultSteerStrength, f.HookName, int4s(f.TopkCosSimIndices), float8s(f.TopkCosSimValues),
		int4s(f.NeuronAlignmentIndices), float8s(f.NeuronAlignmentValues), float8s(f.NeuronAlignmentL1),
		int4s(f.CorrelatedNeuronsIndices), float8s(f.CorrelatedNeuronsPearson), float8s(f.CorrelatedNeuronsL1),
		int4s(f.CorrelatedFeaturesIndices), float8s(f.CorrelatedFeaturesPearson), float8s(f.CorrelatedFeaturesL1),
		bytesList(f.NegStr), float8s(f.NegValues), bytesList(f.PosStr), float8s(f.PosValues), float8s(f.FreqHistHeights), float8s(f.FreqHistValues),
		float8s(f.LogitsHistHeights), float8s(f.LogitsHistValues), float8s(f.DecoderWeightsDist),
		f.UmapCluster, f.UmapLogFeatureSparsity, f.UmapX, f.UmapY}
}

// WriteFeatures writes a batch in one transaction: feature rows are
// upserted, their examples and explanations written (replacing the old ones
// when ReplaceExamples, else replacing rows with the same ids), and the
// checkpoint recorded. Writing the same batch twice leaves the same rows.
func (db *DB) WriteFeatures(ctx context.Context, b *features.FeatureBatch) error {
	if b == nil {
		return features.Errorf(features.EINVALID, "nil feature batch")
	}
	if !features.ValidID(b.ModelID) || !features.ValidSourceID(b.SourceID) {
		return features.Errorf(features.EINVALID, "invalid source %q of model %q", b.SourceID, b.ModelID)
	}
	sid, err := db.sourceID(ctx, b.ModelID, b.SourceID)
	if err != nil {
		return err
	}
	seen := make(map[int]bool, len(b.Features))
	idxs := make([]int32, 0, len(b.Features))
	var acts []*features.Activation
	var exps []*features.Explanation
	for i, f := range b.Features {
		if f == nil {
			return features.Errorf(features.EINVALID, "feature %d of the batch is nil", i)
		}
		if (f.ModelID != "" && f.ModelID != b.ModelID) || (f.SourceID != "" && f.SourceID != b.SourceID) {
			return features.Errorf(features.EINVALID, "feature %s in a batch of %s/%s", f.Key(), b.ModelID, b.SourceID)
		}
		key := features.FeatureKey{ModelID: b.ModelID, SourceID: b.SourceID, Index: f.Index}
		if f.Index < 0 || f.Index > 1<<31-1 {
			return features.Errorf(features.EINVALID, "invalid feature index %d", f.Index)
		}
		if seen[f.Index] {
			return features.Errorf(features.EINVALID, "feature %s appears twice in the batch", key)
		}
		seen[f.Index] = true
		if err := validateFeature(key, f); err != nil {
			return err
		}
		idxs = append(idxs, int32(f.Index))
		for j, a := range f.Activations {
			if a == nil {
				return features.Errorf(features.EINVALID, "feature %s: activation %d is nil", key, j)
			}
			if (a.ModelID != "" && a.ModelID != b.ModelID) || (a.SourceID != "" && a.SourceID != b.SourceID) || (a.Index != f.Index && a.Index != 0) {
				return features.Errorf(features.EINVALID, "feature %s: activation %q belongs to %s@%s:%d", key, a.ID, a.ModelID, a.SourceID, a.Index)
			}
		}
		for _, a := range f.Activations {
			c := *a
			c.ModelID, c.SourceID, c.Index = b.ModelID, b.SourceID, f.Index
			acts = append(acts, &c)
		}
		for j, e := range f.Explanations {
			if e == nil {
				return features.Errorf(features.EINVALID, "feature %s: explanation %d is nil", key, j)
			}
			c := *e
			c.ModelID, c.SourceID, c.Index = b.ModelID, b.SourceID, f.Index
			exps = append(exps, &c)
		}
	}
	rows, err := db.activationRows(ctx, sid, b.ModelID, acts)
	if err != nil {
		return err
	}
	if err := validateExplanations(exps); err != nil {
		return err
	}
	now := db.now()
	// New features (an import, a first build) go in with one COPY; a
	// batch holding any stored feature is upserted row by row. A writer
	// racing ours to the same new features makes the COPY fail on the
	// primary key: then the batch is written again as upserts.
	have, err := db.existingIndexes(ctx, sid, idxs)
	if err != nil {
		return err
	}
	fresh := len(have) == 0
	write := func(tx pgx.Tx) error {
		if fresh {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"features"}, featureCopyCols,
				pgx.CopyFromSlice(len(b.Features), func(i int) ([]any, error) {
					return featureArgs(sid, b.Features[i], orNow(b.Features[i].CreatedAt, now)), nil
				})); err != nil {
				return err
			}
		} else {
			batch := &pgx.Batch{}
			for _, f := range b.Features {
				batch.Queue(upsertFeatureSQL, featureArgs(sid, f, orNow(f.CreatedAt, now))...)
			}
			if err := tx.SendBatch(ctx, batch).Close(); err != nil {
				return err
			}
		}
		if b.ReplaceExamples {
			if _, err := tx.Exec(ctx, `DELETE FROM activations WHERE sid = $1 AND idx = ANY($2)`, sid, idxs); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM explanations WHERE sid = $1 AND idx = ANY($2)`, sid, idxs); err != nil {
				return err
			}
		}
		if err := copyActivations(ctx, tx, sid, rows, !b.ReplaceExamples); err != nil {
			return err
		}
		return db.upsertExplanations(ctx, tx, map[string]int32{b.ModelID + "\x00" + b.SourceID: sid}, exps, now)
	}
	err = db.unitTx(ctx, b.Checkpoint, write)
	if pgErr := (*pgconn.PgError)(nil); fresh && errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "features_pkey" {
		fresh = false
		err = db.unitTx(ctx, b.Checkpoint, write)
	}
	if err != nil {
		return dbErr(err, "write %d features of %s/%s", len(b.Features), b.ModelID, b.SourceID)
	}
	// Best effort: the batch is written and the tallies are right either
	// way; a failed fold only leaves more rows for the next writer to fold.
	_ = db.compactTallies(ctx, sid)
	return nil
}

func validateFeature(key features.FeatureKey, f *features.Feature) error {
	if err := checkText("feature "+key.String(), f.SourceSetName, f.CreatorID); err != nil {
		return err
	}
	if err := checkTextPtr("feature "+key.String(), f.VectorLabel, f.HookName); err != nil {
		return err
	}
	pairs := []struct {
		name string
		a, b int
	}{
		{"topkCosSim", len(f.TopkCosSimIndices), len(f.TopkCosSimValues)},
		{"neg_str/neg_values", len(f.NegStr), len(f.NegValues)},
		{"pos_str/pos_values", len(f.PosStr), len(f.PosValues)},
	}
	for _, p := range pairs {
		if p.a != p.b {
			return features.Errorf(features.EINVALID, "feature %s: %s lengths differ (%d vs %d)", key, p.name, p.a, p.b)
		}
	}
	if err := fitsInt4("feature "+key.String(), "umap_cluster", f.UmapCluster); err != nil {
		return err
	}
	for _, arr := range [][]int{f.TopkCosSimIndices, f.NeuronAlignmentIndices, f.CorrelatedNeuronsIndices, f.CorrelatedFeaturesIndices} {
		for _, v := range arr {
			if v < -1<<31 || v > 1<<31-1 {
				return features.Errorf(features.EINVALID, "feature %s: index %d out of range", key, v)
			}
		}
	}
	return nil
}

// MaxTokenBytes bounds one token's text. Real tokens are a few bytes; the
// token dictionary's unique index cannot hold a key near 2.7 KB, and the
// database's refusal would not say which token was wrong.
const MaxTokenBytes = 1024

// actRow is an example encoded for COPY.
type actRow struct {
	idx    int32
	id     string
	values []any
}

// activationRows validates and encodes examples, interning their tokens.
// Tokens are encoded from the dictionary cache; tokens it lacks are
// added to the dictionary first, all of them in one round trip.
func (db *DB) activationRows(ctx context.Context, sid int32, model string, acts []*features.Activation) ([]actRow, error) {
	if len(acts) == 0 {
		return nil, nil
	}
	for _, a := range acts {
		if activationValid(a) {
			continue // the checks below would pass: skip formatting their messages
		}
		key := features.FeatureKey{ModelID: a.ModelID, SourceID: a.SourceID, Index: a.Index}
		if len(a.Values) != len(a.Tokens) {
			return nil, features.Errorf(features.EINVALID, "feature %s: activation %q has %d tokens but %d values", key, a.ID, len(a.Tokens), len(a.Values))
		}
		what := fmt.Sprintf("feature %s: activation %q", key, a.ID)
		if !features.ValidIndex(a.Index) {
			return nil, features.Errorf(features.EINVALID, "%s: invalid feature index %d", what, a.Index)
		}
		if err := fitsInt4(what, "maxValueTokenIndex", &a.MaxValueTokenIndex); err != nil {
			return nil, err
		}
		if err := fitsInt4(what, "qualifyingTokenIndex", a.QualifyingTokenIndex); err != nil {
			return nil, err
		}
		if err := fitsInt4(what, "dfaTargetIndex", a.DFATargetIndex); err != nil {
			return nil, err
		}
		for j, tok := range a.Tokens {
			if len(tok) > MaxTokenBytes {
				return nil, features.Errorf(features.EINVALID, "%s: token %d is too long: %d bytes, at most %d", what, j, len(tok), MaxTokenBytes)
			}
		}
		if len(a.Tokens) > 0 && (a.MaxValueTokenIndex < 0 || a.MaxValueTokenIndex >= len(a.Tokens)) {
			return nil, features.Errorf(features.EINVALID, "feature %s: activation %q: maxValueTokenIndex %d outside its %d tokens", key, a.ID, a.MaxValueTokenIndex, len(a.Tokens))
		}
		if err := checkText(fmt.Sprintf("feature %s: activation %q", key, a.ID), a.ID, a.CreatorID); err != nil {
			return nil, err
		}
		if err := checkTextPtr(fmt.Sprintf("feature %s: activation %q", key, a.ID), a.LogitContributions, a.DataIndex, a.DataSource); err != nil {
			return nil, err
		}
	}
	// One dictionary lookup per token: ids holds every example's token ids
	// end to end, -1 where the cache lacks the token. The missing ones
	// (each distinct text once, with its count) are added in one round trip
	// and patched in; only then are the examples encoded.
	d := db.dict(model)
	n := 0
	for _, a := range acts {
		n += len(a.Tokens)
	}
	ids := make([]int32, 0, n)
	var missing map[string]int
	d.mu.RLock()
	for _, a := range acts {
		for _, t := range a.Tokens {
			id, found := d.byText[t]
			if !found {
				if missing == nil {
					missing = map[string]int{}
				}
				missing[t]++
				id = -1
			}
			ids = append(ids, id)
		}
	}
	d.mu.RUnlock()
	if len(missing) > 0 {
		added, err := db.internTokens(ctx, model, missing)
		if err != nil {
			return nil, err
		}
		off := 0
		for _, a := range acts {
			for j, t := range a.Tokens {
				if ids[off+j] < 0 {
					ids[off+j] = added[t]
				}
			}
			off += len(a.Tokens)
		}
	}
	encoded := make([][]byte, len(acts))
	off := 0
	for i, a := range acts {
		encoded[i] = encodeTokens(ids[off : off+len(a.Tokens)])
		off += len(a.Tokens)
	}
	now := db.now()
	rows := make([]actRow, len(acts))
	for i, a := range acts {
		id := a.ID
		if id == "" {
			id = newID("a")
		}
		var creator *int32
		if a.CreatorID != "" {
			c, err := db.internName(ctx, a.CreatorID)
			if err != nil {
				return nil, err
			}
			creator = &c
		}
		rows[i] = actRow{idx: int32(a.Index), id: id,
			values: []any{sid, int32(a.Index), int32(a.MaxValueTokenIndex), creator, a.MaxValue, a.MinValue,
				a.BinMin, a.BinMax, a.BinContains, orNow(a.CreatedAt, now), id, encoded[i],
				encodeValues(a.Values), a.QualifyingTokenIndex, nilIfEmpty(a.DFAValues), a.DFATargetIndex, a.DFAMaxValue,
				nilIfEmpty(a.LossValues), a.LogitContributions, a.DataIndex, a.DataSource}}
	}
	return rows, nil
}

// activationValid reports whether a passes every check of activationRows
// (which then need not format "what" three times per example).
func activationValid(a *features.Activation) bool {
	int4 := func(p *int) bool { return p == nil || (*p >= math.MinInt32 && *p <= math.MaxInt32) }
	text := func(s string) bool { return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) }
	textPtr := func(p *string) bool { return p == nil || text(*p) }
	if len(a.Values) != len(a.Tokens) || !features.ValidIndex(a.Index) ||
		!int4(&a.MaxValueTokenIndex) || !int4(a.QualifyingTokenIndex) || !int4(a.DFATargetIndex) ||
		(len(a.Tokens) > 0 && (a.MaxValueTokenIndex < 0 || a.MaxValueTokenIndex >= len(a.Tokens))) ||
		!text(a.ID) || !text(a.CreatorID) || !textPtr(a.LogitContributions) || !textPtr(a.DataIndex) || !textPtr(a.DataSource) {
		return false
	}
	for _, tok := range a.Tokens {
		if len(tok) > MaxTokenBytes {
			return false
		}
	}
	return true
}

var activationCopyCols = []string{"sid", "idx", "max_value_token_index", "creator", "max_value", "min_value",
	"bin_min", "bin_max", "bin_contains", "created_at", "id", "tokens", "vals", "qualifying_token_index",
	"dfa_values", "dfa_target_index", "dfa_max_value", "loss_values", "logit_contributions", "data_index", "data_source"}

// copyActivations bulk-loads rows with COPY; with replaceIDs it first
// deletes rows of the same features that carry the same ids, so a rerun
// converges instead of duplicating.
func copyActivations(ctx context.Context, tx pgx.Tx, sid int32, rows []actRow, replaceIDs bool) error {
	if len(rows) == 0 {
		return nil
	}
	if replaceIDs {
		idxSet := map[int32]bool{}
		var idxs []int32
		ids := make([]string, len(rows))
		for i, r := range rows {
			if !idxSet[r.idx] {
				idxSet[r.idx] = true
				idxs = append(idxs, r.idx)
			}
			ids[i] = r.id
		}
		if _, err := tx.Exec(ctx, `DELETE FROM activations WHERE sid = $1 AND idx = ANY($2) AND id = ANY($3)`, sid, idxs, ids); err != nil {
			return err
		}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"activations"}, activationCopyCols,
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rows[i].values, nil }))
	return err
}

// WriteActivations appends examples to existing features (ENOTFOUND if one
// is missing); rows with the ids given are replaced.
func (db *DB) WriteActivations(ctx context.Context, acts []*features.Activation) error {
	return db.WriteActivationBatch(ctx, acts, nil)
}

// WriteActivationBatch is WriteActivations that also records cp in the same
// transaction (the importer's unit of resumption: one activations file).
// Examples may belong to several sources of one model or more.
func (db *DB) WriteActivationBatch(ctx context.Context, acts []*features.Activation, cp *features.Checkpoint) error {
	type group struct {
		sid   int32
		model string
		acts  []*features.Activation
		rows  []actRow
	}
	groups := map[string]*group{}
	var order []string
	for i, a := range acts {
		if a == nil {
			return features.Errorf(features.EINVALID, "activation %d is nil", i)
		}
		gk := a.ModelID + "\x00" + a.SourceID
		g := groups[gk]
		if g == nil || !features.ValidIndex(a.Index) { // a group's model and source ids were checked when it was made
			key := features.FeatureKey{ModelID: a.ModelID, SourceID: a.SourceID, Index: a.Index}
			if err := key.Validate(); err != nil {
				return features.Errorf(features.EINVALID, "activation %q: %s", a.ID, features.ErrorMessage(err))
			}
		}
		if g == nil {
			sid, err := db.sourceID(ctx, a.ModelID, a.SourceID)
			if err != nil {
				return err
			}
			g = &group{sid: sid, model: a.ModelID}
			groups[gk] = g
			order = append(order, gk)
		}
		g.acts = append(g.acts, a)
	}
	for _, gk := range order {
		g := groups[gk]
		if err := db.checkFeaturesExist(ctx, g.sid, g.acts); err != nil {
			return err
		}
		rows, err := db.activationRows(ctx, g.sid, g.model, g.acts)
		if err != nil {
			return err
		}
		g.rows = rows
	}
	err := db.unitTx(ctx, cp, func(tx pgx.Tx) error {
		for _, gk := range order {
			g := groups[gk]
			if err := copyActivations(ctx, tx, g.sid, g.rows, true); err != nil {
				return err
			}
		}
		return nil
	})
	return dbErr(err, "write %d activations", len(acts))
}

// checkFeaturesExist returns ENOTFOUND naming the first example whose
// feature is not stored.
func (db *DB) checkFeaturesExist(ctx context.Context, sid int32, acts []*features.Activation) error {
	idxs := make([]int32, 0, len(acts))
	seen := map[int]bool{}
	for _, a := range acts {
		if !seen[a.Index] {
			seen[a.Index] = true
			idxs = append(idxs, int32(a.Index))
		}
	}
	have, err := db.existingIndexes(ctx, sid, idxs)
	if err != nil {
		return err
	}
	for _, a := range acts {
		if !have[int32(a.Index)] {
			return features.Errorf(features.ENOTFOUND, "feature %s@%s:%d of activation %q not found", a.ModelID, a.SourceID, a.Index, a.ID)
		}
	}
	return nil
}

func (db *DB) existingIndexes(ctx context.Context, sid int32, idxs []int32) (map[int32]bool, error) {
	rows, err := db.Pool.Query(ctx, `SELECT idx FROM features WHERE sid = $1 AND idx = ANY($2)`, sid, idxs)
	if err != nil {
		return nil, dbErr(err, "check features")
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, dbErr(err, "check features")
	}
	m := make(map[int32]bool, len(have))
	for _, i := range have {
		m[i] = true
	}
	return m, nil
}

// unitTx runs fn in a transaction that records cp (nil: none), committed
// lazily when db.LazyCheckpointCommits (see there why that is safe).
func (db *DB) unitTx(ctx context.Context, cp *features.Checkpoint, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if cp != nil && db.LazyCheckpointCommits {
			if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
		}
		if err := fn(tx); err != nil {
			return err
		}
		return writeCheckpoint(ctx, tx, cp)
	})
}

func writeCheckpoint(ctx context.Context, tx pgx.Tx, cp *features.Checkpoint) error {
	if cp == nil {
		return nil
	}
	if cp.Job == "" || cp.Unit == "" {
		return features.Errorf(features.EINVALID, "checkpoint needs a job and a unit")
	}
	if err := checkText("checkpoint", cp.Job, cp.Unit, cp.Hash); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO checkpoints (job, unit, hash) VALUES ($1, $2, $3)
		ON CONFLICT (job, unit) DO UPDATE SET hash = EXCLUDED.hash, done_at = now()`, cp.Job, cp.Unit, cp.Hash)
	return err
}

// Done reports whether a checkpoint with this job, unit and hash exists.
func (db *DB) Done(ctx context.Context, cp features.Checkpoint) (bool, error) {
	var ok bool
	err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM checkpoints WHERE job = $1 AND unit = $2 AND hash = $3)`,
		cp.Job, cp.Unit, cp.Hash).Scan(&ok)
	return ok, dbErr(err, "read checkpoint")
}

// newID returns a random 25-character lower-case id (the length of
// Neuronpedia's cuids) starting with prefix.
func newID(prefix string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 25-len(prefix))
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}
