package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"saex/internal/features"
)

// explanationPageSize is Neuronpedia's page size for explanation search.
const explanationPageSize = 20

// maxQueryLen caps search queries (characters).
const maxQueryLen = 500

// explanationSearchRequest is the body of POST /api/explanation/search.
type explanationSearchRequest struct {
	ModelID string   `json:"modelId"`
	Layers  []string `json:"layers"`
	Query   string   `json:"query"`
	Offset  int      `json:"offset"`
}

// explanationSearchResult is one hit, in Neuronpedia's shape (with a
// full-text rank where Neuronpedia has cosine_similarity).
type explanationSearchResult struct {
	ModelID              string      `json:"modelId"`
	Layer                string      `json:"layer"`
	Index                string      `json:"index"`
	Description          string      `json:"description"`
	ExplanationModelName string      `json:"explanationModelName"`
	TypeName             string      `json:"typeName"`
	Rank                 float64     `json:"rank"`
	Neuron               *apiFeature `json:"neuron"`
}

// explanationSearchResponse is Neuronpedia's explanation-search response.
type explanationSearchResponse struct {
	Request      explanationSearchRequest  `json:"request"`
	Results      []explanationSearchResult `json:"results"`
	ResultsCount int                       `json:"resultsCount"`
	HasMore      bool                      `json:"hasMore"`
	NextOffset   int                       `json:"nextOffset"`
}

// validateQuery checks a free-text search query.
func validateQuery(field, q string) (string, error) {
	q = strings.TrimSpace(q)
	switch n := utf8.RuneCountInString(q); {
	case !utf8.ValidString(q) || strings.ContainsRune(q, 0):
		return "", invalidField(field, "must be valid UTF-8 text without NUL")
	case n < 3:
		return "", invalidField(field, "must be at least 3 characters")
	case n > maxQueryLen:
		return "", invalidField(field, "must be at most %d characters", maxQueryLen)
	}
	return q, nil
}

// handleAPIExplanationSearch handles "POST /api/explanation/search": full-text
// search over explanations, optionally within a model and some of its
// sources, 20 a page from offset.
func (s *Server) handleAPIExplanationSearch(w http.ResponseWriter, r *http.Request) {
	var req explanationSearchRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	q, err := validateQuery("query", req.Query)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if req.Offset < 0 {
		s.apiError(w, r, invalidField("offset", "must be >= 0"))
		return
	}
	if req.ModelID != "" && !features.ValidID(req.ModelID) {
		s.apiError(w, r, invalidField("modelId", "invalid model id %q", req.ModelID))
		return
	}
	for i, l := range req.Layers {
		if err := sourceField("layers"+fieldAt("", i), l); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	if len(req.Layers) > 0 && req.ModelID == "" {
		s.apiError(w, r, invalidField("modelId", "is required with layers"))
		return
	}
	hits, total, err := s.Explanations.SearchExplanations(r.Context(), features.ExplanationQuery{
		Query: q, ModelID: req.ModelID, SourceIDs: req.Layers, Offset: req.Offset, Limit: explanationPageSize,
	})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	neurons, err := s.hitFeatures(r, hits, 3)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	resp := explanationSearchResponse{Request: req, Results: []explanationSearchResult{}, ResultsCount: total}
	if resp.Request.Layers == nil {
		resp.Request.Layers = []string{}
	}
	for _, h := range hits {
		e := h.Explanation
		res := explanationSearchResult{
			ModelID: e.ModelID, Layer: e.SourceID, Index: itoa(e.Index),
			Description: e.Description, ExplanationModelName: e.ExplanationModelName, TypeName: e.TypeName,
			Rank: h.Rank,
		}
		if f, ok := neurons[features.FeatureKey{ModelID: e.ModelID, SourceID: e.SourceID, Index: e.Index}]; ok {
			af := newAPIFeature(f)
			res.Neuron = &af
		}
		resp.Results = append(resp.Results, res)
	}
	resp.NextOffset = req.Offset + len(hits)
	resp.HasMore = resp.NextOffset < total
	writeJSON(w, http.StatusOK, resp)
}

// hitFeatures loads the features of search hits with a few examples each.
func (s *Server) hitFeatures(r *http.Request, hits []*features.ExplanationHit, acts int) (map[features.FeatureKey]*features.Feature, error) {
	keys := make([]features.FeatureKey, 0, len(hits))
	for _, h := range hits {
		e := h.Explanation
		keys = append(keys, features.FeatureKey{ModelID: e.ModelID, SourceID: e.SourceID, Index: e.Index})
	}
	out := make(map[features.FeatureKey]*features.Feature, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	fs, err := s.Features.GetFeatures(r.Context(), keys, features.FeatureOptions{MaxActivations: acts, NoActivations: acts == 0})
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		out[f.Key()] = f
	}
	return out, nil
}
