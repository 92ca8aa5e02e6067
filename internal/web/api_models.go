package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
)

// handleAPIModels handles "GET /api/models": every model (Neuronpedia's Model rows).
func (s *Server) handleAPIModels(w http.ResponseWriter, r *http.Request) {
	models, err := s.Catalog.ListModels(r.Context())
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if models == nil {
		models = []*features.Model{}
	}
	writeJSON(w, http.StatusOK, models)
}

// handleAPISources handles "GET /api/models/{model}/sources": the model's
// SAE sources, ordered by layer.
func (s *Server) handleAPISources(w http.ResponseWriter, r *http.Request) {
	modelID := chi.URLParam(r, "model")
	if !features.ValidID(modelID) {
		s.apiError(w, r, features.Errorf(features.EINVALID, "invalid model id %q", modelID))
		return
	}
	if _, err := s.Catalog.GetModel(r.Context(), modelID); err != nil {
		s.apiError(w, r, err)
		return
	}
	sources, err := s.Catalog.ListSources(r.Context(), modelID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if sources == nil {
		sources = []*features.Source{}
	}
	writeJSON(w, http.StatusOK, sources)
}

func itoa(i int) string { return strconv.Itoa(i) }
