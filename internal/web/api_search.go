package web

import (
	"context"
	"encoding/json"
	"net/http"

	"saex/internal/features"
)

// searchAllRequest is the body of POST /api/search-all.
type searchAllRequest struct {
	ModelID          string          `json:"modelId"`
	SourceSet        string          `json:"sourceSet"`
	Text             json.RawMessage `json:"text"`
	SelectedLayers   []string        `json:"selectedLayers"`
	SortIndexes      []int           `json:"sortIndexes"`
	IgnoreBOS        *bool           `json:"ignoreBos"`
	DensityThreshold *float64        `json:"densityThreshold"`
	NumResults       *int            `json:"numResults"`
}

// searchAllItem is one ranked feature of a prompt.
type searchAllItem struct {
	ModelID       string      `json:"modelId"`
	Layer         string      `json:"layer"`
	Index         string      `json:"index"`
	Values        []float32   `json:"values"`
	MaxValue      float32     `json:"maxValue"`
	MaxValueIndex int         `json:"maxValueIndex"`
	Neuron        *apiFeature `json:"neuron,omitempty"`
}

// searchAllResult is the result for one text.
type searchAllResult struct {
	Tokens      []string        `json:"tokens"`
	Result      []searchAllItem `json:"result"`
	SortIndexes []int           `json:"sortIndexes"`
}

// handleAPISearchAll handles "POST /api/search-all": the top features of a
// prompt across the chosen sources, ranked by max activation or by the sum at
// sortIndexes. An array of texts is batch mode: {results: [...]}, no neurons.
func (s *Server) handleAPISearchAll(w http.ResponseWriter, r *http.Request) {
	var req searchAllRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	texts, batch, err := parseTexts("text", req.Text, maxTextsPerRequest)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	n := defaultSearchResults
	if req.NumResults != nil {
		n = *req.NumResults
		if n < 1 || n > maxSearchResults {
			s.apiError(w, r, invalidField("numResults", "must be in 1..%d, got %d", maxSearchResults, n))
			return
		}
	}
	density := -1.0
	if req.DensityThreshold != nil {
		density = *req.DensityThreshold
		if err := checkDensity("densityThreshold", density); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	ignoreBOS := req.IgnoreBOS == nil || *req.IgnoreBOS
	for i, p := range req.SortIndexes {
		if p < 0 {
			s.apiError(w, r, invalidField("sortIndexes"+fieldAt("", i), "must be >= 0"))
			return
		}
	}
	if req.SortIndexes == nil {
		req.SortIndexes = []int{}
	}
	sources, err := s.runnableSources(r.Context(), req.ModelID, req.SourceSet, req.SelectedLayers)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	results := make([]searchAllResult, len(texts))
	for i, text := range texts {
		res, err := s.searchAll(r.Context(), req.ModelID, sources, text, req.SortIndexes, ignoreBOS, density, n, !batch)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		results[i] = *res
	}
	if batch {
		writeJSON(w, http.StatusOK, struct {
			Results []searchAllResult `json:"results"`
		}{results})
		return
	}
	writeJSON(w, http.StatusOK, results[0])
}

// searchAll ranks one text's features; withNeurons attaches each feature's
// row with its explanations.
func (s *Server) searchAll(ctx context.Context, modelID string, sources []string, text string, sortIndexes []int, ignoreBOS bool, density float64, n int, withNeurons bool) (*searchAllResult, error) {
	res, err := s.runPrompt(ctx, modelID, sources, text)
	if err != nil {
		return nil, err
	}
	for i, p := range sortIndexes {
		if p >= len(res.Tokens) {
			return nil, invalidField("sortIndexes"+fieldAt("", i), "position %d is past the prompt's %d tokens", p, len(res.Tokens))
		}
	}
	ranked := features.RankFeatures(res, features.RankOptions{IgnoreBOS: ignoreBOS, SortIndexes: sortIndexes})
	top, err := s.pickTop(ctx, modelID, ranked, n, density, false)
	if err != nil {
		return nil, err
	}
	out := &searchAllResult{Tokens: features.TokenTexts(res.Tokens), Result: make([]searchAllItem, len(top)), SortIndexes: sortIndexes}
	keys := make([]features.FeatureKey, len(top))
	for i, p := range top {
		out.Result[i] = searchAllItem{
			ModelID: modelID, Layer: p.SourceID, Index: itoa(p.Index),
			Values:   res.FeatureValues(p.SourceID, p.Index, ignoreBOS),
			MaxValue: p.MaxValue, MaxValueIndex: p.MaxValueIndex,
		}
		keys[i] = features.FeatureKey{ModelID: modelID, SourceID: p.SourceID, Index: p.Index}
	}
	if withNeurons && len(keys) > 0 {
		// As in Neuronpedia, the neuron carries the dashboard row, its top
		// example, its explanations and the model row.
		fs, err := s.Features.GetFeatures(ctx, keys, features.FeatureOptions{MaxActivations: 1})
		if err != nil {
			return nil, err
		}
		model, err := s.Catalog.GetModel(ctx, modelID)
		if err != nil {
			return nil, err
		}
		byKey := make(map[features.FeatureKey]*features.Feature, len(fs))
		for _, f := range fs {
			byKey[f.Key()] = f
		}
		for i := range out.Result {
			if f, ok := byKey[keys[i]]; ok {
				af := newAPIFeature(f)
				af.Model = model
				out.Result[i].Neuron = &af
			}
		}
	}
	return out, nil
}

// topkByTokenRequest is the body of POST /api/search-topk-by-token.
type topkByTokenRequest struct {
	ModelID          string          `json:"modelId"`
	Source           string          `json:"source"`
	Layer            string          `json:"layer"` // accepted in place of source
	Text             json.RawMessage `json:"text"`
	NumResults       *int            `json:"numResults"`
	IgnoreBOS        *bool           `json:"ignoreBos"`
	DensityThreshold *float64        `json:"densityThreshold"`
}

// topkFeature is one of a token's top features; Feature is the feature's
// Neuron row with its explanations (no examples), as Neuronpedia sends it.
type topkFeature struct {
	ActivationValue float32     `json:"activationValue"`
	FeatureIndex    int         `json:"featureIndex"`
	Feature         *apiFeature `json:"feature"`
}

// topkToken is one token position with its top features.
type topkToken struct {
	Position    int           `json:"position"`
	Token       string        `json:"token"`
	IsSpecial   bool          `json:"isSpecial"`
	TopFeatures []topkFeature `json:"topFeatures"`
}

// topkResult is the response for one text.
type topkResult struct {
	Source  string      `json:"source"`
	Results []topkToken `json:"results"`
}

// handleAPISearchTopkByToken handles "POST /api/search-topk-by-token": for
// every token of the text, the source's top features at that token.
func (s *Server) handleAPISearchTopkByToken(w http.ResponseWriter, r *http.Request) {
	var req topkByTokenRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	src, err := modelAndSource(req.ModelID, req.Source, req.Layer)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	texts, batch, err := parseTexts("text", req.Text, maxTextsPerRequest)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	k := defaultTopkPerToken
	if req.NumResults != nil {
		k = *req.NumResults
		if k < 1 || k > maxTopkPerToken {
			s.apiError(w, r, invalidField("numResults", "must be in 1..%d, got %d", maxTopkPerToken, k))
			return
		}
	}
	density := defaultTopkDensity
	if req.DensityThreshold != nil {
		density = *req.DensityThreshold
		if err := checkDensity("densityThreshold", density); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	ignoreBOS := req.IgnoreBOS == nil || *req.IgnoreBOS
	results := make([]topkResult, len(texts))
	for i, t := range texts {
		out, err := s.topkByToken(r.Context(), req.ModelID, src, t, k, ignoreBOS, density)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		results[i] = *out
	}
	if batch {
		writeJSON(w, http.StatusOK, struct {
			Results []topkResult `json:"results"`
		}{results})
		return
	}
	writeJSON(w, http.StatusOK, results[0])
}

// topkByToken computes one text's per-token top features.
func (s *Server) topkByToken(ctx context.Context, modelID, src, text string, k int, ignoreBOS bool, density float64) (*topkResult, error) {
	res, err := s.runPrompt(ctx, modelID, []string{src}, text)
	if err != nil {
		return nil, err
	}
	// One summaries query for every feature that fired anywhere.
	active := res.ActiveFeatures(src)
	idx := make([]int, 0, len(active))
	for i := range active {
		idx = append(idx, i)
	}
	sums, err := s.Features.FeatureSummaries(ctx, modelID, src, idx)
	if err != nil {
		return nil, err
	}
	keep := func(i int) bool {
		sm := sums[i]
		return sm == nil || !features.TooDense(sm.FracNonzero, density)
	}
	type pick struct {
		pos int
		top []features.TokenFeature
	}
	var picks []pick
	var keys []features.FeatureKey
	seen := map[int]bool{}
	for pos := range res.Tokens {
		if res.HasBOS && pos == 0 && ignoreBOS {
			continue
		}
		top := res.TopAtToken(src, pos, k, keep)
		for _, f := range top {
			if !seen[f.Index] {
				seen[f.Index] = true
				keys = append(keys, features.FeatureKey{ModelID: modelID, SourceID: src, Index: f.Index})
			}
		}
		picks = append(picks, pick{pos, top})
	}
	rows := map[int]*apiFeature{}
	if len(keys) > 0 {
		fs, err := s.Features.GetFeatures(ctx, keys, features.FeatureOptions{NoActivations: true})
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			af := newAPIFeature(f)
			rows[f.Index] = &af
		}
	}
	out := &topkResult{Source: src, Results: []topkToken{}}
	for _, p := range picks {
		tt := topkToken{Position: p.pos, Token: features.TokenText(res.Tokens[p.pos]), IsSpecial: res.HasBOS && p.pos == 0, TopFeatures: []topkFeature{}}
		for _, f := range p.top {
			row := rows[f.Index]
			if row == nil { // a feature without a stored row: its identity alone
				af := newAPIFeature(&features.Feature{ModelID: modelID, SourceID: src, Index: f.Index})
				row = &af
			}
			tt.TopFeatures = append(tt.TopFeatures, topkFeature{ActivationValue: f.Value, FeatureIndex: f.Index, Feature: row})
		}
		out.Results = append(out.Results, tt)
	}
	return out, nil
}
