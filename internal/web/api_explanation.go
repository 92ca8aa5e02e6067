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

// explanationSearchRequest is the body of the POST /api/explanation/search
// routes: search (modelId and layers optional), search-model (modelId),
// search-release (releaseName) and search-all (query alone).
type explanationSearchRequest struct {
	ModelID     string   `json:"modelId"`
	Layers      []string `json:"layers"`
	ReleaseName string   `json:"releaseName,omitempty"`
	Query       string   `json:"query"`
	Offset      int      `json:"offset"`
}

// explanationSearchResult is one hit in Neuronpedia's shape. Neuronpedia
// ranks by the cosine similarity of OpenAI embeddings; so does saex when an
// embeddings endpoint is configured (cosine_similarity filled, textRank
// the same score). Without one it ranks by PostgreSQL full-text search and
// says so: cosine_similarity is null and textRank holds the full-text
// score. textRank is always the score the hits are ordered by.
type explanationSearchResult struct {
	ModelID              string      `json:"modelId"`
	Layer                string      `json:"layer"`
	Index                string      `json:"index"`
	Description          string      `json:"description"`
	ExplanationModelName string      `json:"explanationModelName"`
	TypeName             string      `json:"typeName"`
	CosineSimilarity     *float64    `json:"cosine_similarity"`
	TextRank             float64     `json:"textRank"`
	Neuron               *apiFeature `json:"neuron"`
}

// explanationSearchResponse is Neuronpedia's explanation-search response:
// resultsCount is the length of this page, nextOffset is present only when
// hasMore. totalCount (saex's) counts every match.
type explanationSearchResponse struct {
	Request      explanationSearchRequest  `json:"request"`
	Results      []explanationSearchResult `json:"results"`
	ResultsCount int                       `json:"resultsCount"`
	HasMore      bool                      `json:"hasMore"`
	NextOffset   *int                      `json:"nextOffset,omitempty"`
	TotalCount   int                       `json:"totalCount"`
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

// Scopes of the explanation-search routes.
const (
	searchScopeAny     = iota // /explanation/search: modelId and layers optional
	searchScopeModel          // /explanation/search-model: modelId required
	searchScopeRelease        // /explanation/search-release: releaseName required
	searchScopeAll            // /explanation/search-all: the query alone
)

// handleAPIExplanationSearch handles "POST /api/explanation/search":
// semantic or full-text search over explanations, optionally within a model and some
// of its sources, 20 a page from offset.
func (s *Server) handleAPIExplanationSearch(w http.ResponseWriter, r *http.Request) {
	s.explanationSearch(w, r, searchScopeAny)
}

// handleAPIExplanationSearchModel handles "POST /api/explanation/search-model".
func (s *Server) handleAPIExplanationSearchModel(w http.ResponseWriter, r *http.Request) {
	s.explanationSearch(w, r, searchScopeModel)
}

// handleAPIExplanationSearchRelease handles "POST /api/explanation/search-release".
func (s *Server) handleAPIExplanationSearchRelease(w http.ResponseWriter, r *http.Request) {
	s.explanationSearch(w, r, searchScopeRelease)
}

// handleAPIExplanationSearchAll handles "POST /api/explanation/search-all".
func (s *Server) handleAPIExplanationSearchAll(w http.ResponseWriter, r *http.Request) {
	s.explanationSearch(w, r, searchScopeAll)
}

func (s *Server) explanationSearch(w http.ResponseWriter, r *http.Request, scope int) {
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
	switch scope {
	case searchScopeModel:
		if req.ModelID == "" {
			s.apiError(w, r, invalidField("modelId", "is required"))
			return
		}
		req.Layers, req.ReleaseName = nil, ""
	case searchScopeRelease:
		if req.ReleaseName == "" {
			s.apiError(w, r, invalidField("releaseName", "is required"))
			return
		}
		if !features.ValidID(req.ReleaseName) {
			s.apiError(w, r, invalidField("releaseName", "invalid release name %q", req.ReleaseName))
			return
		}
		req.ModelID, req.Layers = "", nil
	case searchScopeAll:
		req.ModelID, req.Layers, req.ReleaseName = "", nil, ""
	default:
		req.ReleaseName = ""
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
	if scope == searchScopeModel {
		if _, err := s.Catalog.GetModel(r.Context(), req.ModelID); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	hits, total, err := s.Explanations.SearchExplanations(r.Context(), features.ExplanationQuery{
		Query: q, ModelID: req.ModelID, SourceIDs: req.Layers, ReleaseName: req.ReleaseName,
		Offset: req.Offset, Limit: explanationPageSize,
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
	resp := explanationSearchResponse{Request: req, Results: []explanationSearchResult{}, ResultsCount: len(hits), TotalCount: total}
	if resp.Request.Layers == nil {
		resp.Request.Layers = []string{}
	}
	for _, h := range hits {
		e := h.Explanation
		res := explanationSearchResult{
			ModelID: e.ModelID, Layer: e.SourceID, Index: itoa(e.Index),
			Description: e.Description, ExplanationModelName: e.ExplanationModelName, TypeName: e.TypeName,
			TextRank: h.Rank, CosineSimilarity: h.CosineSimilarity,
		}
		if f, ok := neurons[features.FeatureKey{ModelID: e.ModelID, SourceID: e.SourceID, Index: e.Index}]; ok {
			af := newAPIFeature(f)
			res.Neuron = &af
		}
		resp.Results = append(resp.Results, res)
	}
	if next := req.Offset + len(hits); next < total {
		resp.HasMore, resp.NextOffset = true, &next
	}
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
		f.Activations = byMaxValue(f.Activations)
		out[f.Key()] = f
	}
	return out, nil
}
