package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

// activationOrder puts the top group first, then larger examples. Only the
// MaxActivations window needs it in SQL; otherwise sortActivations applies
// the same order in Go (PostgreSQL's sort of ~70 wide rows cost more than
// the index scan that found them).
const activationOrder = `(bin_min IS NULL OR bin_min = -1) DESC, max_value DESC, id`

// GetFeature returns a feature with its examples (top group first, then by
// maxValue descending) and explanations (best score first) in one round
// trip of three queries; ENOTFOUND when it does not exist.
func (db *DB) GetFeature(ctx context.Context, key features.FeatureKey, opts features.FeatureOptions) (*features.Feature, error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	fs, _, err := db.sourceFeatures(ctx, key.ModelID, key.SourceID, []int{key.Index}, opts, 0, nil)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, features.Errorf(features.ENOTFOUND, "feature %s not found", key)
	}
	return fs[0], nil
}

var _ features.NeighbourReader = (*DB)(nil)

// GetFeatureWithNeighbours is GetFeature plus the best explanation of each
// of the first n decoder-cosine neighbours that has one, read in the same
// batch.
func (db *DB) GetFeatureWithNeighbours(ctx context.Context, key features.FeatureKey, opts features.FeatureOptions, n int) (*features.Feature, map[int]string, error) {
	if err := key.Validate(); err != nil {
		return nil, nil, err
	}
	fs, labels, err := db.sourceFeatures(ctx, key.ModelID, key.SourceID, []int{key.Index}, opts, max(n, 0), nil)
	if err != nil {
		return nil, nil, err
	}
	if len(fs) == 0 {
		return nil, nil, features.Errorf(features.ENOTFOUND, "feature %s not found", key)
	}
	return fs[0], labels, nil
}

// GetFeatureWithRelations is GetFeature plus the feature's model, the
// model's source sets and the feature's list memberships, read in the same
// batch.
func (db *DB) GetFeatureWithRelations(ctx context.Context, key features.FeatureKey, opts features.FeatureOptions) (*features.Feature, *features.FeatureRelations, error) {
	if err := key.Validate(); err != nil {
		return nil, nil, err
	}
	rel := &features.FeatureRelations{}
	fs, _, err := db.sourceFeatures(ctx, key.ModelID, key.SourceID, []int{key.Index}, opts, 0, rel)
	if err != nil {
		return nil, nil, err
	}
	if len(fs) == 0 {
		return nil, nil, features.Errorf(features.ENOTFOUND, "feature %s not found", key)
	}
	return fs[0], rel, nil
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
		fs, _, err := db.sourceFeatures(ctx, s.model, s.id, indexes[s], opts, 0, nil)
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

// rawActivation is an example row before its creator, token strings and
// values are resolved.
type rawActivation struct {
	a            *features.Activation
	creator      *int32
	start, end   int // its token ids in rawActivations.ids
	vstart, vend int // its encoded values in rawActivations.enc
}

// rawActivations are the example rows of one read. Token ids and encoded
// values of all rows share two pooled arrays, and resolve gives the rows
// one array of strings and one of values, each of the exact size: a
// feature has ~70 examples of 128 tokens, and slices per row were most of
// a read's allocations.
type rawActivations struct {
	rows []rawActivation
	ids  []int32
	enc  []byte
}

// scratch holds the pooled arrays of a rawActivations between reads.
type scratch struct {
	ids []int32
	enc []byte
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// maxPooledIDs bounds the token ids kept for the next read (4 MB).
const maxPooledIDs = 1 << 20

// release returns the pooled arrays; raws must not be used afterwards.
func (raws *rawActivations) release(sc *scratch) {
	if cap(raws.ids) <= maxPooledIDs {
		sc.ids, sc.enc = raws.ids[:0], raws.enc[:0]
		scratches.Put(sc)
	}
	*raws = rawActivations{}
}

// neighbourLabels reads the best explanation (FeatureSummary's) of the
// first $3 decoder-cosine neighbours of feature $2.
const neighbourLabels = `SELECT DISTINCT ON (e.idx) e.idx, e.description FROM explanations e
	WHERE e.sid = $1 AND e.idx = ANY((SELECT f.topk_cos_sim_indices[1:$3] FROM features f WHERE f.sid = $1 AND f.idx = $2)::int[])
	ORDER BY e.idx, e.score_v2 DESC NULLS LAST, e.score_v1 DESC, e.created_at, e.id`

// sourceFeatures reads the listed features of one source (missing ones and
// a missing source are skipped) with one batch of three queries: features,
// examples and explanations. With neighbours > 0 (and one index) a fourth
// query labels that many of the feature's decoder-cosine neighbours. With
// rel (and one index) three more fill it in: the model, its source sets
// and the feature's list memberships.
func (db *DB) sourceFeatures(ctx context.Context, modelID, sourceID string, idx []int, opts features.FeatureOptions, neighbours int,
	rel *features.FeatureRelations) (out []*features.Feature, labels map[int]string, err error) {
	if opts.MaxActivations < 0 {
		return nil, nil, features.Errorf(features.EINVALID, "negative MaxActivations")
	}
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if features.ErrorCode(err) == features.ENOTFOUND {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if len(idx) != 1 {
		neighbours, rel = 0, nil
	}
	where := fmt.Sprintf("%s/%s", modelID, sourceID)
	b := &pgx.Batch{}
	b.Queue(`SELECT idx, `+featureCols+` FROM features WHERE sid = $1 AND idx = ANY($2) ORDER BY idx`, sid, idx)
	if !opts.NoActivations {
		if opts.MaxActivations > 0 {
			b.Queue(`SELECT `+activationCols+` FROM (SELECT *, row_number() OVER (PARTITION BY idx ORDER BY `+activationOrder+`) AS rank
				FROM activations WHERE sid = $1 AND idx = ANY($2)) a WHERE rank <= $3`,
				sid, idx, opts.MaxActivations)
		} else {
			b.Queue(`SELECT `+activationCols+` FROM activations WHERE sid = $1 AND idx = ANY($2)`, sid, idx)
		}
	}
	if !opts.NoExplanations {
		b.Queue(explanationSelect+` WHERE e.sid = $1 AND e.idx = ANY($2)`+explanationOrder, sid, idx)
	}
	if neighbours > 0 {
		b.Queue(neighbourLabels, sid, idx[0], neighbours)
	}
	if rel != nil {
		b.Queue(`SELECT `+modelCols+` FROM models WHERE id = $1`, modelID)
		b.Queue(sourceSetsOfModel, modelID)
		b.Queue(listsOfFeature, sid, idx[0])
	}
	br := db.Pool.SendBatch(ctx, b)
	defer br.Close()

	rows, err := br.Query()
	if err != nil {
		return nil, nil, dbErr(err, "get features of %s", where)
	}
	byIndex := make(map[int]*features.Feature, len(idx))
	for rows.Next() {
		f := &features.Feature{ModelID: modelID, SourceID: sourceID}
		if err := scanFeature(rows, f); err != nil {
			rows.Close()
			return nil, nil, dbErr(err, "get features of %s", where)
		}
		out = append(out, f)
		byIndex[f.Index] = f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, dbErr(err, "get features of %s", where)
	}

	sc := scratches.Get().(*scratch)
	raws := rawActivations{ids: sc.ids, enc: sc.enc}
	defer raws.release(sc)
	if !opts.NoActivations {
		if err = scanActivations(br, modelID, sourceID, &raws); err != nil {
			return nil, nil, err
		}
	}
	if !opts.NoExplanations {
		rows, err := br.Query()
		if err != nil {
			return nil, nil, dbErr(err, "get explanations of %s", where)
		}
		exps, err := loadExplanations(rows, modelID, sourceID)
		if err != nil {
			return nil, nil, dbErr(err, "get explanations of %s", where)
		}
		for _, e := range exps {
			if f := byIndex[e.Index]; f != nil {
				f.Explanations = append(f.Explanations, e)
			}
		}
	}
	if neighbours > 0 {
		if labels, err = scanLabels(br); err != nil {
			return nil, nil, dbErr(err, "get neighbours of %s:%d", where, idx[0])
		}
	}
	if rel != nil {
		if err := scanRelations(br, features.FeatureKey{ModelID: modelID, SourceID: sourceID, Index: idx[0]}, rel); err != nil {
			return nil, nil, dbErr(err, "get relations of %s:%d", where, idx[0])
		}
	}
	if err := br.Close(); err != nil {
		return nil, nil, dbErr(err, "get features of %s", where)
	}
	// Names and tokens are resolved only now that the batch's connection is
	// back in the pool: taking a second connection while holding the first
	// deadlocks once every connection is held by a request doing the same.
	if err := db.resolveActivations(ctx, modelID, &raws); err != nil {
		return nil, nil, err
	}
	sortActivations(raws.rows)
	for _, r := range raws.rows {
		if f := byIndex[r.a.Index]; f != nil {
			if f.Activations == nil {
				f.Activations = make([]*features.Activation, 0, countIndex(raws.rows, r.a.Index))
			}
			f.Activations = append(f.Activations, r.a)
		}
	}
	return out, labels, nil
}

// scanLabels reads the neighbourLabels rows of a batch.
func scanLabels(br pgx.BatchResults) (map[int]string, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	labels := map[int]string{}
	for rows.Next() {
		var i int32
		var d string
		if err := rows.Scan(&i, &d); err != nil {
			return nil, err
		}
		labels[int(i)] = d
	}
	return labels, rows.Err()
}

// scanRelations reads the model, source-set and membership rows of a batch
// into rel.
func scanRelations(br pgx.BatchResults, key features.FeatureKey, rel *features.FeatureRelations) error {
	m, err := scanModel(br.QueryRow())
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return err
	default:
		rel.Model = m
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	if rel.SourceSets, err = scanSourceSets(rows); err != nil {
		return err
	}
	if rows, err = br.Query(); err != nil {
		return err
	}
	rel.Members, rel.Lists, err = scanMemberships(rows, key)
	return err
}

// countIndex counts the sorted rows of feature idx from the first one.
func countIndex(rows []rawActivation, idx int) int {
	i := sort.Search(len(rows), func(i int) bool { return rows[i].a.Index >= idx })
	n := 0
	for ; i+n < len(rows) && rows[i+n].a.Index == idx; n++ {
	}
	return n
}

// sortActivations orders examples as activationOrder does, by feature:
// the top group first, then maxValue descending (NaN first, as PostgreSQL
// sorts NaN above every number), then id in byte order.
func sortActivations(rows []rawActivation) {
	slices.SortFunc(rows, func(x, y rawActivation) int {
		a, b := x.a, y.a
		if a.Index != b.Index {
			return cmp.Compare(a.Index, b.Index)
		}
		if at, bt := a.InTopGroup(), b.InTopGroup(); at != bt {
			if at {
				return -1
			}
			return 1
		}
		if c := compareDesc(a.MaxValue, b.MaxValue); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// compareDesc orders float64s descending with NaN before every number.
func compareDesc(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	return cmp.Compare(b, a)
}

// scanActivations reads the batch's example rows into raws, straight from
// the driver's buffers: token ids decoded, values still encoded.
func scanActivations(br pgx.BatchResults, modelID, sourceID string, raws *rawActivations) error {
	rows, err := br.Query()
	if err != nil {
		return dbErr(err, "get activations of %s/%s", modelID, sourceID)
	}
	defer rows.Close()
	for rows.Next() {
		a := &features.Activation{ModelID: modelID, SourceID: sourceID}
		var idx int32
		var creator *int32
		var tok, vals pgtype.DriverBytes // valid until the next row
		if err := rows.Scan(&idx, &a.ID, &a.MaxValueTokenIndex, &creator, &a.MaxValue, &a.MinValue, &a.BinMin, &a.BinMax,
			&a.BinContains, &a.CreatedAt, &tok, &vals, &a.QualifyingTokenIndex, &a.DFAValues, &a.DFATargetIndex,
			&a.DFAMaxValue, &a.LossValues, &a.LogitContributions, &a.DataIndex, &a.DataSource); err != nil {
			return dbErr(err, "get activations of %s/%s", modelID, sourceID)
		}
		a.Index = int(idx)
		a.CreatedAt = a.CreatedAt.UTC()
		a.DFAValues, a.LossValues = nilIfEmpty(a.DFAValues), nilIfEmpty(a.LossValues)
		start, vstart := len(raws.ids), len(raws.enc)
		if raws.ids, err = decodeTokens(tok, raws.ids); err != nil {
			return features.Wrap(features.EINTERNAL, err, "activation %q of %s/%s:%d", a.ID, modelID, sourceID, idx)
		}
		raws.enc = append(raws.enc, vals...)
		raws.rows = append(raws.rows, rawActivation{a: a, creator: creator, start: start, end: len(raws.ids),
			vstart: vstart, vend: len(raws.enc)})
	}
	if err := rows.Err(); err != nil {
		return dbErr(err, "get activations of %s/%s", modelID, sourceID)
	}
	return nil
}

// resolveActivations fills in creator names, token strings and values.
func (db *DB) resolveActivations(ctx context.Context, modelID string, raws *rawActivations) error {
	if len(raws.rows) == 0 {
		return nil
	}
	var err error
	for _, r := range raws.rows {
		if r.creator != nil {
			// names are few and cached; a miss reads the table once
			if r.a.CreatorID, err = db.nameOf(ctx, db.Pool, *r.creator); err != nil {
				return err
			}
		}
	}
	d, err := db.tokenTable(ctx, db.Pool, modelID, raws.ids)
	if err != nil {
		return err
	}
	strs := make([]string, len(raws.ids))
	d.mu.RLock()
	for i, id := range raws.ids {
		strs[i] = d.byID[id]
	}
	d.mu.RUnlock()
	values := make([]float32, len(raws.ids))
	for _, r := range raws.rows {
		// Full slice expressions: appending to one example's slice must not
		// overwrite the next example's.
		r.a.Tokens = strs[r.start:r.end:r.end]
		if r.a.Values, err = decodeValuesInto(raws.enc[r.vstart:r.vend], values[r.start:r.end:r.end]); err != nil {
			return features.Wrap(features.EINTERNAL, err, "activation %q of %s/%s:%d", r.a.ID, modelID, r.a.SourceID, r.a.Index)
		}
	}
	return nil
}

const summaryColumns = `SELECT f.idx, f.max_act_approx, f.frac_nonzero, f.pos_str[1:5],
	  (SELECT e.description FROM explanations e WHERE e.sid = f.sid AND e.idx = f.idx
	    ORDER BY e.score_v2 DESC NULLS LAST, e.score_v1 DESC, e.created_at, e.id LIMIT 1)`

const summarySelect = summaryColumns + ` FROM features f`

// scanSummaries reads summaryColumns, and the score column after them
// when withScore.
func scanSummaries(rows pgx.Rows, modelID, sourceID string, withScore bool) ([]*features.FeatureSummary, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*features.FeatureSummary, error) {
		s := &features.FeatureSummary{Key: features.FeatureKey{ModelID: modelID, SourceID: sourceID}}
		var idx int32
		var top [][]byte
		var expl *string
		dst := []any{&idx, &s.MaxActApprox, &s.FracNonzero, &top, &expl}
		if withScore {
			dst = append(dst, &s.Score)
		}
		if err := r.Scan(dst...); err != nil {
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
// matches. Ties in a sort are broken by index in the sort's direction, so
// each sort is one order of an index ending in idx (migration 00009): a page
// is an index-only scan that skips Offset entries, from the far end when
// that is shorter, and only its rows are read whole. Without a text query
// the number of matches comes from the source's feature tallies, not a
// count.
func (db *DB) ListFeatures(ctx context.Context, flt features.FeatureFilter) ([]*features.FeatureSummary, int, error) {
	if flt.Limit <= 0 {
		flt.Limit = 25
	}
	if flt.Limit > 1000 || flt.Offset < 0 {
		return nil, 0, features.Errorf(features.EINVALID, "invalid offset %d or limit %d", flt.Offset, flt.Limit)
	}
	var col string
	scoreType, byScore := flt.Sort.ScoreType()
	switch {
	case byScore:
		if strings.TrimSpace(scoreType) == "" || len(scoreType) > 128 {
			return nil, 0, features.Errorf(features.EINVALID, "unknown sort %.60q: want score:<scorer>", string(flt.Sort))
		}
		if err := checkText("sort", scoreType); err != nil {
			return nil, 0, err
		}
	case flt.Sort == features.SortByIndex || flt.Sort == "":
		col = ""
	case flt.Sort == features.SortByMaxAct:
		col = "f.max_act_approx"
	case flt.Sort == features.SortByDensity:
		col = "f.frac_nonzero"
	default:
		return nil, 0, features.Errorf(features.EINVALID, "unknown sort %.60q", string(flt.Sort))
	}
	orderBy := func(desc bool) string {
		dir := ""
		if desc {
			dir = " DESC"
		}
		if col == "" {
			return "f.idx" + dir
		}
		return col + dir + ", f.idx" + dir
	}
	sid, err := db.sourceID(ctx, flt.ModelID, flt.SourceID)
	if err != nil {
		return nil, 0, err
	}
	where := ` WHERE f.sid = $1`
	args := []any{sid}
	hide := ""
	if flt.HideDead {
		hide = ` AND f.max_act_approx > 0`
	}
	where += hide
	var total int
	var dead int64 // without a text query: the source's dead features
	if flt.Query == "" {
		t, err := db.tally(ctx, db.Pool, sid)
		if err != nil {
			return nil, 0, dbErr(err, "list features")
		}
		dead = t.bins[tallyDead]
		if flt.HideDead {
			total = int(t.live())
		} else {
			total = int(t.total())
		}
	} else {
		if err := checkText("query", flt.Query); err != nil {
			return nil, 0, err
		}
		// Explanations by full text or substring (short and symbol
		// queries), or a top logit token equal to the query (with or
		// without its leading space).
		// Each arm has an index (migration 00009): explanations_tsv,
		// explanations_description_trgm, features_top_logits.
		mcap := db.matchCapOrDefault()
		args = append(args, flt.Query, mcap+1)
		// Each arm reads at most cap+1 matches (a common word matches
		// 5-7 % of a source's explanations), so the count and the sort
		// run over a bounded candidate set; an arm that fills up makes the
		// total "more than the cap" (features.MatchCap).
		arms := `(SELECT 1 AS arm, e.idx FROM explanations e WHERE e.sid = $1
			  AND (e.tsv @@ websearch_to_tsquery('english', $2) OR lower(e.description) LIKE ` + containsLike("$2") + `) LIMIT $3)
			UNION ALL (SELECT 2, t.idx FROM features t WHERE t.sid = $1
			  AND t.pos_str[1:10] && ARRAY[convert_to($2, 'UTF8'), convert_to(' ' || $2, 'UTF8')] LIMIT $3)`
		where += ` AND f.idx IN (SELECT m.idx FROM (` + arms + `) m)`
		var capped bool
		if err := db.Pool.QueryRow(ctx, `WITH m AS MATERIALIZED (`+arms+`)
			SELECT (SELECT count(*) FROM features f WHERE f.sid = $1 AND f.idx IN (SELECT idx FROM m)`+hide+`),
			  (SELECT count(*) FILTER (WHERE arm = 1) >= $3 OR count(*) FILTER (WHERE arm = 2) >= $3 FROM m)`,
			args...).Scan(&total, &capped); err != nil {
			return nil, 0, dbErr(err, "list features")
		}
		if capped {
			total = mcap + 1
		}
	}
	if total == 0 || flt.Offset >= total {
		return nil, total, nil
	}
	if byScore {
		out, err := db.listByScore(ctx, flt, scoreType, where, args, total, dead)
		return out, total, dbErr(err, "list features")
	}
	offset, limit, inner := flt.Offset, min(flt.Limit, total-flt.Offset), orderBy(flt.Desc)
	if flt.Query == "" && col == "" && !flt.HideDead {
		// A source holding every index from 0 to total-1 (a full SAE):
		// the page in index order is a range of indexes, at any depth.
		var maxIdx *int32
		if err := db.Pool.QueryRow(ctx, `SELECT max(idx) FROM features WHERE sid = $1`, sid).Scan(&maxIdx); err != nil {
			return nil, 0, dbErr(err, "list features")
		}
		if maxIdx != nil && int(*maxIdx) == total-1 {
			lo := offset
			if flt.Desc {
				lo = total - offset - limit
			}
			rows, err := db.Pool.Query(ctx, summarySelect+` WHERE f.sid = $1 AND f.idx >= $2 AND f.idx < $3 ORDER BY `+orderBy(flt.Desc),
				sid, lo, lo+limit)
			if err != nil {
				return nil, 0, dbErr(err, "list features")
			}
			out, err := scanSummaries(rows, flt.ModelID, flt.SourceID, false)
			return out, total, dbErr(err, "list features")
		}
	}
	if flt.Query == "" {
		// Deep in the order: from the source's rank marks when they are
		// fresh (ranks.go), else the skip below, refreshing them meanwhile.
		pos := offset
		if flt.Desc {
			pos = total - offset - limit
		}
		skip, stride := min(offset, total-offset-limit), db.rankStrideOrDefault()
		if o, ok := rankOrderOf(col, flt.HideDead); ok && skip >= stride {
			out, err := db.rankPage(ctx, sid, o, pos, limit, orderBy(flt.Desc), flt.ModelID, flt.SourceID)
			if err != nil {
				return nil, 0, dbErr(err, "list features")
			}
			if len(out) > 0 {
				return out, total, nil
			}
			db.scheduleRankRefresh(sid)
		}
	}
	if flt.Query == "" && offset > total/2 {
		// The same rows counted from the end, in the reverse order.
		offset, inner = total-offset-limit, orderBy(!flt.Desc)
	}
	args = append(args, limit, offset)
	rows, err := db.Pool.Query(ctx, summarySelect+fmt.Sprintf(` WHERE f.sid = $1 AND f.idx IN (SELECT f.idx FROM features f%s
		ORDER BY %s LIMIT $%d OFFSET $%d) ORDER BY %s`, where, inner, len(args)-1, len(args), orderBy(flt.Desc)), args...)
	if err != nil {
		return nil, 0, dbErr(err, "list features")
	}
	out, err := scanSummaries(rows, flt.ModelID, flt.SourceID, false)
	return out, total, dbErr(err, "list features")
}

// listByScore returns a page of the sort by a scorer: the matching
// features with a score of that type by their best one (migration 00010's
// feature_best_scores), ties by ascending index in both directions, then
// the ones without a score by index. where and args (the sid, then the text
// query if any) select the matching features f, total of them; dead is the
// number of dead features of the source when there is no text query.
// Scored pages of a text query or of hide-dead on a source with dead
// features look up each passed feature in features_live (a nested loop);
// pages of the unscored tail pass the scored features on their way
// (an anti-join on features).
//
// With the number of scored matches known, a page is a slice of the scored
// features' index order, or of the unscored features' index order
// (features without a row in feature_best_scores), or of both, each read
// from the nearer end of its order.
func (db *DB) listByScore(ctx context.Context, flt features.FeatureFilter, scoreType, where string, args []any,
	total int, dead int64) ([]*features.FeatureSummary, error) {
	args = append(args, scoreType)
	tp := fmt.Sprintf("$%d", len(args))
	hasScore := `EXISTS (SELECT FROM feature_best_scores b WHERE b.sid = $1 AND b.score_type = ` + tp + ` AND b.idx = f.idx)`
	var scored int
	switch {
	case flt.Query != "":
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM features f`+where+` AND `+hasScore, args...).Scan(&scored); err != nil {
			return nil, err
		}
	default:
		// Rows name only features that exist (explanations reference
		// them); their number is tallied (migration 00010).
		if err := db.Pool.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM feature_best_score_tallies WHERE sid = $1 AND score_type = $2`,
			args[0], scoreType).Scan(&scored); err != nil {
			return nil, err
		}
		if flt.HideDead && dead > 0 {
			var scoredDead int
			if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM features f WHERE f.sid = $1 AND f.max_act_approx <= 0 AND `+
				strings.ReplaceAll(hasScore, tp, "$2"), args[0], scoreType).Scan(&scoredDead); err != nil {
				return nil, err
			}
			scored -= scoredDead
		}
	}
	scored = min(scored, total) // a write between the counts
	start, end := flt.Offset, min(flt.Offset+flt.Limit, total)
	var parts []string
	if n := min(end, scored) - start; n > 0 {
		// Scored positions [start, start+n) of scored.
		offset, reverse := start, false
		if start > scored/2 {
			offset, reverse = scored-start-n, true
		}
		best, idx := "", ""
		if flt.Desc != reverse {
			best = " DESC"
		}
		if reverse {
			idx = " DESC"
		}
		from := ` FROM feature_best_scores b WHERE b.sid = $1 AND b.score_type = ` + tp
		if flt.Query != "" || flt.HideDead && dead > 0 {
			from = ` FROM feature_best_scores b JOIN features f ON f.sid = b.sid AND f.idx = b.idx` + where +
				` AND b.sid = $1 AND b.score_type = ` + tp
		}
		parts = append(parts, fmt.Sprintf(`(SELECT b.idx%s ORDER BY b.best%s, b.idx%s LIMIT %d OFFSET %d)`, from, best, idx, n, offset))
	}
	if from := max(start, scored); end > from {
		// Unscored positions [from, end), of total-scored.
		n, offset, unscored, idx := end-from, from-scored, total-scored, ""
		if offset > unscored/2 {
			offset, idx = unscored-offset-n, " DESC"
		}
		parts = append(parts, fmt.Sprintf(`(SELECT f.idx FROM features f%s AND NOT %s ORDER BY f.idx%s LIMIT %d OFFSET %d)`,
			where, hasScore, idx, n, offset))
	}
	if len(parts) == 0 {
		return nil, nil
	}
	dir := "ASC"
	if flt.Desc {
		dir = "DESC"
	}
	rows, err := db.Pool.Query(ctx, summaryColumns+`, b.best FROM features f
		LEFT JOIN feature_best_scores b ON b.sid = f.sid AND b.score_type = `+tp+` AND b.idx = f.idx
		WHERE f.sid = $1 AND f.idx IN (`+strings.Join(parts, " UNION ALL ")+`)
		ORDER BY b.best `+dir+` NULLS LAST, f.idx`, args...)
	if err != nil {
		return nil, err
	}
	return scanSummaries(rows, flt.ModelID, flt.SourceID, true)
}

// SourceScoreTypes lists the score types stored for the explanations of
// a source, in name order (kept by a trigger: migration 00008).
func (db *DB) SourceScoreTypes(ctx context.Context, modelID, sourceID string) ([]string, error) {
	sid, err := db.sourceID(ctx, modelID, sourceID)
	if err != nil {
		return nil, err
	}
	rows, err := db.Pool.Query(ctx, `SELECT type FROM source_score_types WHERE sid = $1 ORDER BY 1`, sid)
	if err != nil {
		return nil, dbErr(err, "list score types")
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return types, dbErr(err, "list score types")
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
	list, err := scanSummaries(rows, modelID, sourceID, false)
	if err != nil {
		return nil, dbErr(err, "feature summaries")
	}
	out := make(map[int]*features.FeatureSummary, len(list))
	for _, s := range list {
		out[s.Key.Index] = s
	}
	return out, nil
}
