package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

// scanFeature scans a features row selected as "idx, " + featureCols.
func scanFeature(row pgx.Row, f *features.Feature) error {
	var negStr, posStr [][]byte
	var idx int32
	err := row.Scan(&idx, &f.SourceSetName, &f.CreatorID, &f.CreatedAt, &f.MaxActApprox, &f.FracNonzero, &f.HasVector,
		&f.Vector, &f.VectorLabel, &f.VectorDefaultSteerStrength, &f.HookName, &f.TopkCosSimIndices, &f.TopkCosSimValues,
		&f.NeuronAlignmentIndices, &f.NeuronAlignmentValues, &f.NeuronAlignmentL1,
		&f.CorrelatedNeuronsIndices, &f.CorrelatedNeuronsPearson, &f.CorrelatedNeuronsL1,
		&f.CorrelatedFeaturesIndices, &f.CorrelatedFeaturesPearson, &f.CorrelatedFeaturesL1,
		&negStr, &f.NegValues, &posStr, &f.PosValues, &f.FreqHistHeights, &f.FreqHistValues,
		&f.LogitsHistHeights, &f.LogitsHistValues, &f.DecoderWeightsDist,
		&f.UmapCluster, &f.UmapLogFeatureSparsity, &f.UmapX, &f.UmapY)
	if err != nil {
		return err
	}
	f.Index = int(idx)
	f.CreatedAt = f.CreatedAt.UTC()
	f.NegStr, f.PosStr = stringList(negStr), stringList(posStr)
	for _, p := range []*[]float64{&f.Vector, &f.TopkCosSimValues, &f.NeuronAlignmentValues, &f.NeuronAlignmentL1,
		&f.CorrelatedNeuronsPearson, &f.CorrelatedNeuronsL1, &f.CorrelatedFeaturesPearson, &f.CorrelatedFeaturesL1,
		&f.NegValues, &f.PosValues, &f.FreqHistHeights, &f.FreqHistValues, &f.LogitsHistHeights, &f.LogitsHistValues,
		&f.DecoderWeightsDist} {
		*p = nilIfEmpty(*p)
	}
	for _, p := range []*[]int{&f.TopkCosSimIndices, &f.NeuronAlignmentIndices, &f.CorrelatedNeuronsIndices, &f.CorrelatedFeaturesIndices} {
		*p = nilIfEmpty(*p)
	}
	return nil
}

func stringList(bs [][]byte) []string {
	if len(bs) == 0 {
		return nil
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

const activationCols = `idx, id, max_value_token_index, creator, max_value, min_value, bin_min, bin_max,
	  bin_contains, created_at, tokens, vals, qualifying_token_index, dfa_values, dfa_target_index, dfa_max_value,
	  loss_values, logit_contributions, data_index, data_source`

// activationOrder puts the top group first, then larger examples.
const activationOrder = `(bin_min IS NULL OR bin_min = -1) DESC, max_value DESC, id`

// GetFeature returns a feature with its examples (top group first, then by
// maxValue descending) and explanations (best score first) in one round
// trip of three queries; ENOTFOUND when it does not exist.
func (db *DB) GetFeature(ctx context.Context, key features.FeatureKey, opts features.FeatureOptions) (*features.Feature, error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	fs, err := db.sourceFeatures(ctx, key.ModelID, key.SourceID, []int{key.Index}, opts)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, features.Errorf(features.ENOTFOUND, "feature %s not found", key)
	}
	return fs[0], nil
}

// GetFeatures returns the features that exist, in the order asked. It reads
// each source's features in one round trip, not one per feature (search-all
// and notebooks ask for dozens at once).
func (db *DB) GetFeatures(ctx context.Context, keys []features.FeatureKey, opts features.FeatureOptions) ([]*features.Feature, error) {
	type source struct{ model, id string }
	indexes := map[source][]int{}
	var sources []source
	for _, k := range keys {
		if err := k.Validate(); err != nil {
			return nil, err
		}
		s := source{k.ModelID, k.SourceID}
		if _, seen := indexes[s]; !seen {
			sources = append(sources, s)
		}
		indexes[s] = append(indexes[s], k.Index)
	}
	found := make(map[features.FeatureKey]*features.Feature, len(keys))
	for _, s := range sources {
		fs, err := db.sourceFeatures(ctx, s.model, s.id, indexes[s], opts)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			found[f.Key()] = f
		}
	}
	out := make([]*features.Feature, 0, len(keys))
	for _, k := range keys {
		if f := found[k]; f != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// rawActivation is an example row before its tokens and creator are resolved.
type rawActivation struct {
	a       *features.Activation
	tokens  []int32
	vals    []byte
	creator *int32
}

// sourceFeatures reads the listed features of one source (missing ones and
// a missing source are skipped) with one batch of three queries: features,
// examples and explanations.
func (db *DB) sourceFeatures(ctx context.Context, modelID, sourceID string, idx []int, opts features.FeatureOptions) ([]*features.Feature, error) {
	if opts.MaxActivations < 0 {
		return nil, features.Errorf(features.EINVALID, "negative MaxActivations")
	}
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if features.ErrorCode(err) == features.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("%s/%s", modelID, sourceID)
	b := &pgx.Batch{}
	b.Queue(`SELECT idx, `+featureCols+` FROM features WHERE sid = $1 AND idx = ANY($2) ORDER BY idx`, sid, idx)
	if !opts.NoActivations {
		if opts.MaxActivations > 0 {
			b.Queue(`SELECT `+activationCols+` FROM (SELECT *, row_number() OVER (PARTITION BY idx ORDER BY `+activationOrder+`) AS rank
				FROM activations WHERE sid = $1 AND idx = ANY($2)) a WHERE rank <= $3 ORDER BY idx, `+activationOrder,
				sid, idx, opts.MaxActivations)
		} else {
			b.Queue(`SELECT `+activationCols+` FROM activations WHERE sid = $1 AND idx = ANY($2) ORDER BY idx, `+activationOrder, sid, idx)
		}
	}
	if !opts.NoExplanations {
		b.Queue(explanationSelect+` WHERE e.sid = $1 AND e.idx = ANY($2)`+explanationOrder, sid, idx)
	}
	br := db.Pool.SendBatch(ctx, b)
	defer br.Close()

	rows, err := br.Query()
	if err != nil {
		return nil, dbErr(err, "get features of %s", where)
	}
	var out []*features.Feature
	byIndex := map[int]*features.Feature{}
	for rows.Next() {
		f := &features.Feature{ModelID: modelID, SourceID: sourceID}
		if err := scanFeature(rows, f); err != nil {
			rows.Close()
			return nil, dbErr(err, "get features of %s", where)
		}
		out = append(out, f)
		byIndex[f.Index] = f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "get features of %s", where)
	}

	var raws []rawActivation
	if !opts.NoActivations {
		if raws, err = scanActivations(br, modelID, sourceID); err != nil {
			return nil, err
		}
	}
	if !opts.NoExplanations {
		rows, err := br.Query()
		if err != nil {
			return nil, dbErr(err, "get explanations of %s", where)
		}
		exps, err := loadExplanations(rows, modelID, sourceID)
		if err != nil {
			return nil, dbErr(err, "get explanations of %s", where)
		}
		for _, e := range exps {
			if f := byIndex[e.Index]; f != nil {
				f.Explanations = append(f.Explanations, e)
			}
		}
	}
	if err := br.Close(); err != nil {
		return nil, dbErr(err, "get features of %s", where)
	}
	// Names and tokens are resolved only now that the batch's connection is
	// back in the pool: taking a second connection while holding the first
	// deadlocks once every connection is held by a request doing the same.
	if err := db.resolveActivations(ctx, modelID, raws); err != nil {
		return nil, err
	}
	for _, r := range raws {
		if f := byIndex[r.a.Index]; f != nil {
			f.Activations = append(f.Activations, r.a)
		}
	}
	return out, nil
}

// scanActivations reads the batch's example rows, tokens still as ids.
func scanActivations(br pgx.BatchResults, modelID, sourceID string) ([]rawActivation, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, dbErr(err, "get activations of %s/%s", modelID, sourceID)
	}
	defer rows.Close()
	var raws []rawActivation
	for rows.Next() {
		a := &features.Activation{ModelID: modelID, SourceID: sourceID}
		var idx int32
		var creator *int32
		var tok, vals []byte
		if err := rows.Scan(&idx, &a.ID, &a.MaxValueTokenIndex, &creator, &a.MaxValue, &a.MinValue, &a.BinMin, &a.BinMax,
			&a.BinContains, &a.CreatedAt, &tok, &vals, &a.QualifyingTokenIndex, &a.DFAValues, &a.DFATargetIndex,
			&a.DFAMaxValue, &a.LossValues, &a.LogitContributions, &a.DataIndex, &a.DataSource); err != nil {
			return nil, dbErr(err, "get activations of %s/%s", modelID, sourceID)
		}
		a.Index = int(idx)
		a.CreatedAt = a.CreatedAt.UTC()
		a.DFAValues, a.LossValues = nilIfEmpty(a.DFAValues), nilIfEmpty(a.LossValues)
		ids, err := decodeTokens(tok, make([]int32, 0, len(tok)))
		if err != nil {
			return nil, features.Wrap(features.EINTERNAL, err, "activation %q of %s/%s:%d", a.ID, modelID, sourceID, idx)
		}
		raws = append(raws, rawActivation{a: a, tokens: ids, vals: vals, creator: creator})
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "get activations of %s/%s", modelID, sourceID)
	}
	return raws, nil
}

// resolveActivations fills in creator names, token strings and values.
func (db *DB) resolveActivations(ctx context.Context, modelID string, raws []rawActivation) error {
	if len(raws) == 0 {
		return nil
	}
	var err error
	var all []int32
	for _, r := range raws {
		if r.creator != nil {
			// names are few and cached; a miss reads the table once
			if r.a.CreatorID, err = db.nameOf(ctx, db.Pool, *r.creator); err != nil {
				return err
			}
		}
		all = append(all, r.tokens...)
	}
	d, err := db.tokenTable(ctx, db.Pool, modelID, all)
	if err != nil {
		return err
	}
	d.mu.RLock()
	for _, r := range raws {
		r.a.Tokens = make([]string, len(r.tokens))
		for i, id := range r.tokens {
			r.a.Tokens[i] = d.byID[id]
		}
	}
	d.mu.RUnlock()
	for _, r := range raws {
		if r.a.Values, err = decodeValues(r.vals, len(r.tokens)); err != nil {
			return features.Wrap(features.EINTERNAL, err, "activation %q of %s/%s:%d", r.a.ID, modelID, r.a.SourceID, r.a.Index)
		}
	}
	return nil
}

const summarySelect = `SELECT f.idx, f.max_act_approx, f.frac_nonzero, f.pos_str[1:5],
	  (SELECT e.description FROM explanations e WHERE e.sid = f.sid AND e.idx = f.idx
	    ORDER BY e.score_v2 DESC NULLS LAST, e.score_v1 DESC, e.created_at, e.id LIMIT 1)
	FROM features f`

func scanSummaries(rows pgx.Rows, modelID, sourceID string) ([]*features.FeatureSummary, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*features.FeatureSummary, error) {
		s := &features.FeatureSummary{Key: features.FeatureKey{ModelID: modelID, SourceID: sourceID}}
		var idx int32
		var top [][]byte
		var expl *string
		if err := r.Scan(&idx, &s.MaxActApprox, &s.FracNonzero, &top, &expl); err != nil {
			return nil, err
		}
		s.Key.Index = int(idx)
		s.TopTokens = stringList(top)
		if expl != nil {
			s.Explanation = *expl
		}
		return s, nil
	})
}

// ListFeatures returns one page of a source's features and the number of
// matches.
func (db *DB) ListFeatures(ctx context.Context, flt features.FeatureFilter) ([]*features.FeatureSummary, int, error) {
	if flt.Limit <= 0 {
		flt.Limit = 25
	}
	if flt.Limit > 1000 || flt.Offset < 0 {
		return nil, 0, features.Errorf(features.EINVALID, "invalid offset %d or limit %d", flt.Offset, flt.Limit)
	}
	var order string
	switch flt.Sort {
	case features.SortByIndex, "":
		order = "f.idx"
	case features.SortByMaxAct:
		order = "f.max_act_approx"
	case features.SortByDensity:
		order = "f.frac_nonzero"
	default:
		return nil, 0, features.Errorf(features.EINVALID, "unknown sort %q", flt.Sort)
	}
	if flt.Desc {
		order += " DESC"
	}
	sid, err := db.sourceID(ctx, flt.ModelID, flt.SourceID)
	if err != nil {
		return nil, 0, err
	}
	where := ` WHERE f.sid = $1`
	args := []any{sid}
	if flt.HideDead {
		where += ` AND f.max_act_approx > 0`
	}
	if flt.Query != "" {
		if err := checkText("query", flt.Query); err != nil {
			return nil, 0, err
		}
		args = append(args, flt.Query)
		where += ` AND EXISTS (SELECT 1 FROM explanations e WHERE e.sid = f.sid AND e.idx = f.idx
			AND e.tsv @@ websearch_to_tsquery('english', $2))`
	}
	var total int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM features f`+where, args...).Scan(&total); err != nil {
		return nil, 0, dbErr(err, "list features")
	}
	if total == 0 || flt.Offset >= total {
		return nil, total, nil
	}
	args = append(args, flt.Limit, flt.Offset)
	rows, err := db.Pool.Query(ctx, summarySelect+where+fmt.Sprintf(` ORDER BY %s, f.idx LIMIT $%d OFFSET $%d`,
		order, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, dbErr(err, "list features")
	}
	out, err := scanSummaries(rows, flt.ModelID, flt.SourceID)
	return out, total, dbErr(err, "list features")
}

// MaxSummaryIndexes caps one FeatureSummaries call.
const MaxSummaryIndexes = 100_000

// FeatureSummaries returns summaries of the listed features of one source
// that exist, keyed by index.
func (db *DB) FeatureSummaries(ctx context.Context, modelID, sourceID string, indexes []int) (map[int]*features.FeatureSummary, error) {
	if len(indexes) > MaxSummaryIndexes {
		return nil, features.Errorf(features.ETOOLARGE, "%d indexes asked, at most %d", len(indexes), MaxSummaryIndexes)
	}
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if err != nil {
		return nil, err
	}
	idxs := make([]int32, 0, len(indexes))
	for _, i := range indexes {
		if i >= 0 && i <= 1<<31-1 {
			idxs = append(idxs, int32(i))
		}
	}
	rows, err := db.Pool.Query(ctx, summarySelect+` WHERE f.sid = $1 AND f.idx = ANY($2)`, sid, idxs)
	if err != nil {
		return nil, dbErr(err, "feature summaries")
	}
	list, err := scanSummaries(rows, modelID, sourceID)
	if err != nil {
		return nil, dbErr(err, "feature summaries")
	}
	out := make(map[int]*features.FeatureSummary, len(list))
	for _, s := range list {
		out[s.Key.Index] = s
	}
	return out, nil
}
