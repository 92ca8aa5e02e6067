package web

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"saex/internal/features"
)

// Neuronpedia's /api/vector/* routes: custom steering vectors, stored per
// API key with their hook and default strength (steering itself is not
// served yet).

// Bounds of vectors (Neuronpedia's).
const (
	maxVectorLen      = 24576
	minSteerStrength  = -300
	maxSteerStrength  = 300
	maxVectorLabelLen = 256
)

// vectorNewRequest is the body of POST /api/vector/new.
type vectorNewRequest struct {
	ModelID                    string          `json:"modelId"`
	LayerNumber                json.RawMessage `json:"layerNumber"`
	HookType                   string          `json:"hookType"`
	Vector                     []float64       `json:"vector"`
	VectorDefaultSteerStrength *float64        `json:"vectorDefaultSteerStrength"`
	VectorLabel                *string         `json:"vectorLabel"`
}

// apiVectorRow is a stored vector as Neuronpedia's vector/get and
// list-owned return it: the Neuron row's vector fields.
type apiVectorRow struct {
	ModelID                    string    `json:"modelId"`
	Layer                      string    `json:"layer"`
	Index                      string    `json:"index"`
	VectorLabel                string    `json:"vectorLabel"`
	CreatedAt                  time.Time `json:"createdAt"`
	CreatorID                  string    `json:"creatorId"`
	VectorDefaultSteerStrength float64   `json:"vectorDefaultSteerStrength"`
	HookName                   string    `json:"hookName"`
	Vector                     []float64 `json:"vector"`
}

func newAPIVectorRow(f *features.Feature) apiVectorRow {
	v := apiVectorRow{ModelID: f.ModelID, Layer: f.SourceID, Index: itoa(f.Index), CreatedAt: f.CreatedAt,
		CreatorID: f.CreatorID, Vector: orEmpty(f.Vector), VectorDefaultSteerStrength: 10}
	if f.VectorLabel != nil {
		v.VectorLabel = *f.VectorLabel
	}
	if f.VectorDefaultSteerStrength != nil {
		v.VectorDefaultSteerStrength = *f.VectorDefaultSteerStrength
	}
	if f.HookName != nil {
		v.HookName = *f.HookName
	}
	return v
}

// hookTypes lists the valid hookType values, for error messages.
func hookTypes() string {
	var ts []string
	for t := range features.VectorSourceSetSuffix {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return strings.Join(ts, ", ")
}

// handleAPIVectorNew handles "POST /api/vector/new": stores a steering
// vector for the model's layer and hook, owned by the API key.
func (s *Server) handleAPIVectorNew(w http.ResponseWriter, r *http.Request) {
	if s.Vectors == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "vectors are not enabled on this server"))
		return
	}
	var req vectorNewRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	v, err := req.vector(owner(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	m, err := s.Catalog.GetModel(r.Context(), req.ModelID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if v.Layer >= m.Layers {
		s.apiError(w, r, invalidField("layerNumber", "must be below the model's %d layers, got %d", m.Layers, v.Layer))
		return
	}
	if m.Dimension > 0 && len(req.Vector) != m.Dimension {
		s.apiError(w, r, invalidField("vector", "has %d numbers but model %s's dimension is %d", len(req.Vector), m.ID, m.Dimension))
		return
	}
	f, err := s.Vectors.CreateVector(r.Context(), v)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	row := newAPIVectorRow(f)
	writeJSON(w, http.StatusOK, map[string]any{
		"message": "Success",
		"url":     s.BaseURL + "/" + f.ModelID + "/" + f.SourceID + "/" + itoa(f.Index),
		"vector": map[string]any{
			"modelId": row.ModelID, "source": row.Layer, "index": row.Index, "label": row.VectorLabel,
			"createdAt": row.CreatedAt, "defaultSteerStrength": row.VectorDefaultSteerStrength,
			"hookName": row.HookName, "values": row.Vector,
		},
	})
}

// vector checks the body and returns the vector to store, owned by owner
// (the model's layers and dimension are checked against the model later).
func (req *vectorNewRequest) vector(owner string) (*features.NewVector, error) {
	if req.ModelID == "" || !features.ValidID(req.ModelID) {
		return nil, invalidField("modelId", "is required: a model id")
	}
	layer, err := parseInt("layerNumber", req.LayerNumber, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if _, ok := features.VectorSourceSetSuffix[req.HookType]; !ok {
		return nil, invalidField("hookType", "must be one of %s", hookTypes())
	}
	switch {
	case req.Vector == nil:
		return nil, invalidField("vector", "is required: an array of numbers")
	case len(req.Vector) == 0 || len(req.Vector) > maxVectorLen:
		return nil, invalidField("vector", "must hold 1 to %d numbers, got %d", maxVectorLen, len(req.Vector))
	case !finite(req.Vector):
		return nil, invalidField("vector", "must hold finite numbers")
	}
	if req.VectorDefaultSteerStrength == nil {
		return nil, invalidField("vectorDefaultSteerStrength", "is required")
	}
	if st := *req.VectorDefaultSteerStrength; math.IsNaN(st) || st < minSteerStrength || st > maxSteerStrength {
		return nil, invalidField("vectorDefaultSteerStrength", "must be in %d..%d", minSteerStrength, maxSteerStrength)
	}
	if req.VectorLabel == nil {
		return nil, invalidField("vectorLabel", "is required")
	}
	if err := checkLabel("vectorLabel", *req.VectorLabel, 1, maxVectorLabelLen); err != nil {
		return nil, err
	}
	return &features.NewVector{ModelID: req.ModelID, Layer: layer, HookType: req.HookType, Values: req.Vector,
		Label: *req.VectorLabel, DefaultSteerStrength: *req.VectorDefaultSteerStrength, Owner: owner}, nil
}

// vectorKeyRequest is the body of POST /api/vector/get and /delete.
type vectorKeyRequest struct {
	ModelID string          `json:"modelId"`
	Source  string          `json:"source"`
	Layer   string          `json:"layer"` // accepted in place of source
	Index   json.RawMessage `json:"index"`
}

func (s *Server) decodeVectorKey(w http.ResponseWriter, r *http.Request) (features.FeatureKey, bool) {
	var req vectorKeyRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return features.FeatureKey{}, false
	}
	src, err := modelAndSource(req.ModelID, req.Source, req.Layer)
	if err != nil {
		s.apiError(w, r, err)
		return features.FeatureKey{}, false
	}
	idx, err := parseIndex("index", req.Index)
	if err != nil {
		s.apiError(w, r, err)
		return features.FeatureKey{}, false
	}
	return features.FeatureKey{ModelID: req.ModelID, SourceID: src, Index: idx}, true
}

// handleAPIVectorGet handles "POST /api/vector/get": a stored vector. A
// feature without a stored vector is a 404 (Neuronpedia would ask its
// inference server for the SAE's decoder row; saex does not yet).
func (s *Server) handleAPIVectorGet(w http.ResponseWriter, r *http.Request) {
	key, ok := s.decodeVectorKey(w, r)
	if !ok {
		return
	}
	f, err := s.Features.GetFeature(r.Context(), key, features.FeatureOptions{NoActivations: true, NoExplanations: true})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if !f.HasVector || len(f.Vector) == 0 {
		s.apiError(w, r, features.Errorf(features.ENOTFOUND, "feature %s has no stored vector", key))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"vector": newAPIVectorRow(f)})
}

// handleAPIVectorDelete handles "POST /api/vector/delete": deletes a vector
// the API key created.
func (s *Server) handleAPIVectorDelete(w http.ResponseWriter, r *http.Request) {
	if s.Vectors == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "vectors are not enabled on this server"))
		return
	}
	key, ok := s.decodeVectorKey(w, r)
	if !ok {
		return
	}
	if err := s.Vectors.DeleteVector(r.Context(), key, owner(r)); err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Success"})
}

// handleAPIVectorListOwned handles "POST /api/vector/list-owned": the API
// key's vectors, newest first.
func (s *Server) handleAPIVectorListOwned(w http.ResponseWriter, r *http.Request) {
	if s.Vectors == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "vectors are not enabled on this server"))
		return
	}
	fs, err := s.Vectors.VectorsOwned(r.Context(), owner(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]apiVectorRow, len(fs))
	for i, f := range fs {
		out[i] = newAPIVectorRow(f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"vectors": out})
}
