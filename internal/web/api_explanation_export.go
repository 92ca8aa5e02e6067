package web

import (
	"net/http"
	"strconv"

	"saex/internal/features"
)

// Pages of POST /api/explanation/export.
const (
	defaultExportLimit = 10000
	maxExportLimit     = 10000
)

// explanationExportRequest is the body of POST /api/explanation/export.
type explanationExportRequest struct {
	ModelID string `json:"modelId"`
	Source  string `json:"source"`
	Layer   string `json:"layer"` // accepted in place of source
	Offset  *int   `json:"offset"`
	Limit   *int   `json:"limit"`
}

// apiExportedExplanation is an explanation in Neuronpedia's export columns
// (its datasets' explanations/batch-N.jsonl rows), with its scores.
type apiExportedExplanation struct {
	*features.Explanation
	Scores []*features.ExplanationScore `json:"scores"`
}

// handleAPIExplanationExport handles "POST /api/explanation/export" and
// "GET /api/explanation/export?modelId=&source=": a source's explanations
// as a JSON array of Neuronpedia export rows, ordered by feature index,
// at most 10000 a page (offset and limit page through larger sources).
// Neuronpedia has retired this route for its S3 datasets; saex serves it.
func (s *Server) handleAPIExplanationExport(w http.ResponseWriter, r *http.Request) {
	exp, ok := s.Explanations.(features.ExplanationExporter)
	if !ok {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "explanation export is not available on this server"))
		return
	}
	var req explanationExportRequest
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		req.ModelID, req.Source, req.Layer = q.Get("modelId"), q.Get("source"), q.Get("layer")
		for name, p := range map[string]**int{"offset": &req.Offset, "limit": &req.Limit} {
			if v := q.Get(name); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					s.apiError(w, r, invalidField(name, "must be an integer"))
					return
				}
				*p = &n
			}
		}
	} else if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	if req.ModelID == "" {
		s.apiError(w, r, invalidField("modelId", "is required"))
		return
	}
	src, err := modelAndSource(req.ModelID, req.Source, req.Layer)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	offset, limit := 0, defaultExportLimit
	if req.Offset != nil {
		if offset = *req.Offset; offset < 0 {
			s.apiError(w, r, invalidField("offset", "must be >= 0"))
			return
		}
	}
	if req.Limit != nil {
		if limit = *req.Limit; limit < 1 || limit > maxExportLimit {
			s.apiError(w, r, invalidField("limit", "must be in 1..%d", maxExportLimit))
			return
		}
	}
	exps, err := exp.ExportExplanations(r.Context(), req.ModelID, src, offset, limit)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]apiExportedExplanation, len(exps))
	for i, e := range exps {
		out[i] = apiExportedExplanation{Explanation: e, Scores: orEmpty(e.Scores)}
	}
	writeJSON(w, http.StatusOK, out)
}
