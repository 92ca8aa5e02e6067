package web

import (
	"encoding/json"
	"net/http"

	"saex/internal/features"
)

// activationGetRequest is the body of POST /api/activation/get.
type activationGetRequest struct {
	ModelID string          `json:"modelId"`
	Source  string          `json:"source"`
	Layer   string          `json:"layer"` // accepted in place of source
	Index   json.RawMessage `json:"index"`
}

// handleAPIActivationGet handles "POST /api/activation/get": a feature's
// stored examples, largest maxValue first, as a JSON array (404 when it
// has none, as Neuronpedia answers).
func (s *Server) handleAPIActivationGet(w http.ResponseWriter, r *http.Request) {
	var req activationGetRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
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
	idx, err := parseIndex("index", req.Index)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	key := features.FeatureKey{ModelID: req.ModelID, SourceID: src, Index: idx}
	f, err := s.Features.GetFeature(r.Context(), key, features.FeatureOptions{NoExplanations: true})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if len(f.Activations) == 0 {
		s.apiError(w, r, features.Errorf(features.ENOTFOUND, "feature %s has no activations", key))
		return
	}
	b := []byte{'['}
	for i, a := range byMaxValue(f.Activations) {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendActivation(b, a); err != nil {
			s.apiError(w, r, features.Wrap(features.EINTERNAL, err, "encode activations of %s", key))
			return
		}
	}
	b = append(b, "]\n"...)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
