package features

import (
	"cmp"
	"slices"
)

// This file ranks the features of a PromptResult: the logic behind the
// prompt tool, POST /api/search-all, /api/search-topk-by-token and
// /api/activation/source. It works on the sparse rows the engine returns, so
// ranking a 64-token prompt over three 4096-wide SAEs touches only the
// (at most) 64*32 active entries per SAE.

// RankOptions says how RankFeatures orders the features of a prompt.
type RankOptions struct {
	// IgnoreBOS skips position 0 when the result has a prepended BOS token.
	IgnoreBOS bool
	// SortIndexes, when not empty, ranks by the sum of activations at these
	// token positions instead of by the maximum over all positions.
	// Positions outside the prompt are ignored.
	SortIndexes []int
}

// RankedFeature is one feature active on a prompt with its ranking key.
type RankedFeature struct {
	SourceID string
	Index    int
	// Score is the ranking key: MaxValue, or the sum at the sort indexes.
	Score float32
	// MaxValue is the largest activation over the counted positions and
	// MaxValueIndex the first position where it occurs.
	MaxValue      float32
	MaxValueIndex int
}

// Source returns the activations of one source, or nil when the result has none.
func (r *PromptResult) Source(sourceID string) *SourceActivations {
	for i := range r.Sources {
		if r.Sources[i].SourceID == sourceID {
			return &r.Sources[i]
		}
	}
	return nil
}

// skipsPosition reports whether position pos is ignored under IgnoreBOS.
func (r *PromptResult) skipsPosition(pos int, ignoreBOS bool) bool {
	return ignoreBOS && r.HasBOS && pos == 0
}

// RankFeatures returns every feature active on the prompt in any of its
// sources, best first: by Score descending, then by source order in the
// result, then by index ascending. In SortIndexes mode only features active
// at one of the sort positions are returned.
func RankFeatures(r *PromptResult, opts RankOptions) []RankedFeature {
	var sortAt map[int]bool
	if len(opts.SortIndexes) > 0 {
		sortAt = make(map[int]bool, len(opts.SortIndexes))
		for _, p := range opts.SortIndexes {
			sortAt[p] = true
		}
	}
	var out []RankedFeature
	order := make(map[string]int, len(r.Sources))
	for si := range r.Sources {
		src := &r.Sources[si]
		order[src.SourceID] = si
		byIndex := make(map[int32]int) // feature index -> position in out
		for pos, row := range src.Rows {
			if r.skipsPosition(pos, opts.IgnoreBOS) {
				continue
			}
			for k, idx := range row.Indices {
				v := row.Values[k]
				if v <= 0 {
					continue
				}
				j, seen := byIndex[idx]
				if !seen {
					j = len(out)
					byIndex[idx] = j
					out = append(out, RankedFeature{SourceID: src.SourceID, Index: int(idx), MaxValue: v, MaxValueIndex: pos})
				} else if v > out[j].MaxValue {
					out[j].MaxValue, out[j].MaxValueIndex = v, pos
				}
				if sortAt != nil {
					if sortAt[pos] {
						out[j].Score += v
					}
				} else {
					out[j].Score = out[j].MaxValue
				}
			}
		}
	}
	if sortAt != nil {
		out = slices.DeleteFunc(out, func(f RankedFeature) bool { return f.Score <= 0 })
	}
	slices.SortFunc(out, func(a, b RankedFeature) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(order[a.SourceID], order[b.SourceID]); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return out
}

// FeatureValues returns one feature's activation at every position of the
// prompt (0 where it is not among the active features). With ignoreBOS the
// BOS position reads 0.
func (r *PromptResult) FeatureValues(sourceID string, index int, ignoreBOS bool) []float32 {
	vals := make([]float32, len(r.Tokens))
	src := r.Source(sourceID)
	if src == nil {
		return vals
	}
	for pos, row := range src.Rows {
		if pos >= len(vals) || r.skipsPosition(pos, ignoreBOS) {
			continue
		}
		for k, idx := range row.Indices {
			if int(idx) == index {
				vals[pos] = row.Values[k]
				break
			}
		}
	}
	return vals
}

// TokenFeature is one active feature at one token position.
type TokenFeature struct {
	Index int
	Value float32
}

// TopAtToken returns up to k features active at position pos of one source,
// largest first, skipping those keep rejects (keep may be nil).
func (r *PromptResult) TopAtToken(sourceID string, pos, k int, keep func(index int) bool) []TokenFeature {
	src := r.Source(sourceID)
	if src == nil || pos < 0 || pos >= len(src.Rows) || k <= 0 {
		return nil
	}
	row := src.Rows[pos]
	// Rows are sorted by value descending already; stay defensive and sort a copy.
	out := make([]TokenFeature, 0, min(k, len(row.Indices)))
	all := make([]TokenFeature, 0, len(row.Indices))
	for i, idx := range row.Indices {
		if row.Values[i] > 0 {
			all = append(all, TokenFeature{Index: int(idx), Value: row.Values[i]})
		}
	}
	slices.SortStableFunc(all, func(a, b TokenFeature) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	for _, f := range all {
		if len(out) == k {
			break
		}
		if keep == nil || keep(f.Index) {
			out = append(out, f)
		}
	}
	return out
}

// ActiveFeatures returns one source's output in Neuronpedia's sparse COO
// form: feature index -> [[tokenIndex, value], ...] in token order.
func (r *PromptResult) ActiveFeatures(sourceID string) map[int][][2]float64 {
	out := make(map[int][][2]float64)
	src := r.Source(sourceID)
	if src == nil {
		return out
	}
	for pos, row := range src.Rows {
		for k, idx := range row.Indices {
			if v := row.Values[k]; v > 0 {
				out[int(idx)] = append(out[int(idx)], [2]float64{float64(pos), float64(v)})
			}
		}
	}
	return out
}

// DensityFilterActive reports whether a Neuronpedia densityThreshold filters
// at all: it does only inside (0, 1); -1 (or anything else) means off.
func DensityFilterActive(threshold float64) bool {
	return threshold > 0 && threshold < 1
}

// TooDense reports whether a feature with the given activation density is
// dropped by a density threshold.
func TooDense(fracNonzero, threshold float64) bool {
	return DensityFilterActive(threshold) && fracNonzero > threshold
}
