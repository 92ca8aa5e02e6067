package web

import (
	"context"

	"saex/internal/features"
)

// pick is a ranked feature with its browser summary (nil when the store has
// no dashboard for it).
type pick struct {
	features.RankedFeature
	Summary *features.FeatureSummary
}

// pickTop takes the n best of ranked, dropping features denser than the
// threshold. Summaries are loaded only for the candidates looked at: in
// chunks when the density filter is on, just the top n otherwise.
func (s *Server) pickTop(ctx context.Context, modelID string, ranked []features.RankedFeature, n int, density float64, withSummaries bool) ([]pick, error) {
	filter := features.DensityFilterActive(density)
	if !filter {
		top := ranked[:min(n, len(ranked))]
		out := make([]pick, len(top))
		for i, f := range top {
			out[i].RankedFeature = f
		}
		if withSummaries {
			if err := s.attachSummaries(ctx, modelID, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	out := make([]pick, 0, n)
	chunk := max(2*n, 32)
	for start := 0; start < len(ranked) && len(out) < n; start += chunk {
		part := ranked[start:min(start+chunk, len(ranked))]
		cand := make([]pick, len(part))
		for i, f := range part {
			cand[i].RankedFeature = f
		}
		if err := s.attachSummaries(ctx, modelID, cand); err != nil {
			return nil, err
		}
		for _, c := range cand {
			if c.Summary != nil && features.TooDense(c.Summary.FracNonzero, density) {
				continue
			}
			out = append(out, c)
			if len(out) == n {
				break
			}
		}
		chunk *= 2
	}
	return out, nil
}

// attachSummaries loads the summaries of picks, one query per source.
func (s *Server) attachSummaries(ctx context.Context, modelID string, picks []pick) error {
	bySource := make(map[string][]int)
	var order []string
	for _, p := range picks {
		if _, ok := bySource[p.SourceID]; !ok {
			order = append(order, p.SourceID)
		}
		bySource[p.SourceID] = append(bySource[p.SourceID], p.Index)
	}
	sums := make(map[string]map[int]*features.FeatureSummary, len(order))
	for _, src := range order {
		m, err := s.Features.FeatureSummaries(ctx, modelID, src, bySource[src])
		if err != nil {
			return err
		}
		sums[src] = m
	}
	for i := range picks {
		picks[i].Summary = sums[picks[i].SourceID][picks[i].Index]
	}
	return nil
}

// runnableSources returns the sources a prompt request runs: the selected
// ones, else those of the source set, else every source of the model that
// can run prompts, in catalog order.
func (s *Server) runnableSources(ctx context.Context, modelID, sourceSet string, selected []string) ([]string, error) {
	if !features.ValidID(modelID) {
		return nil, invalidField("modelId", "invalid model id %q", modelID)
	}
	if len(selected) > 0 {
		seen := make(map[string]bool, len(selected))
		out := make([]string, 0, len(selected))
		for i, src := range selected {
			if err := sourceField("selectedLayers"+fieldAt("", i), src); err != nil {
				return nil, err
			}
			if !seen[src] {
				seen[src] = true
				out = append(out, src)
			}
		}
		return out, nil
	}
	sources, err := s.Catalog.ListSources(ctx, modelID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, src := range sources {
		if sourceSet != "" && src.SetName != sourceSet {
			continue
		}
		if s.Inference != nil && s.Inference.CanRun(modelID, src.ID) {
			out = append(out, src.ID)
		}
	}
	if len(out) == 0 {
		if _, err := s.Catalog.GetModel(ctx, modelID); err != nil {
			return nil, err
		}
		if sourceSet != "" {
			return nil, features.Errorf(features.ENOTFOUND, "model %q has no source set %q that can run prompts", modelID, sourceSet)
		}
		return nil, features.Errorf(features.EUNAVAILABLE, "model %q has no sources that can run prompts", modelID)
	}
	return out, nil
}
