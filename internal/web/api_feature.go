package web

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
)

// apiFeature is a feature as the JSON API returns it: Neuronpedia's Neuron
// row with its activations and explanations, both always present (the
// Python client indexes them unconditionally).
type apiFeature struct {
	*features.Feature
	Activations  []apiActivation  `json:"activations"`
	Explanations []apiExplanation `json:"explanations"`
}

// apiActivation adds "source" next to "layer": Neuronpedia's Python client
// reads the source id of examples under that name.
type apiActivation struct {
	*features.Activation
	Source string `json:"source"`
}

// apiExplanation adds "source" next to "layer", as apiActivation does.
type apiExplanation struct {
	*features.Explanation
	Source string `json:"source"`
}

func newAPIFeature(f *features.Feature) apiFeature {
	out := apiFeature{
		Feature:      f,
		Activations:  make([]apiActivation, len(f.Activations)),
		Explanations: make([]apiExplanation, len(f.Explanations)),
	}
	for i, a := range f.Activations {
		out.Activations[i] = apiActivation{Activation: a, Source: a.SourceID}
	}
	for i, e := range f.Explanations {
		out.Explanations[i] = apiExplanation{Explanation: e, Source: e.SourceID}
	}
	return out
}

// pathKey reads {model}, {source} and {index} from the route.
// Errors are EINVALID naming the path segment.
func pathKey(r *http.Request) (features.FeatureKey, error) {
	modelID, sourceID := chi.URLParam(r, "model"), chi.URLParam(r, "source")
	if !features.ValidID(modelID) {
		return features.FeatureKey{}, invalidField("model", "invalid model id %q", clip(modelID))
	}
	if err := sourceField("source", sourceID); err != nil {
		return features.FeatureKey{}, err
	}
	idx, err := features.ParseIndex(chi.URLParam(r, "index"))
	if err != nil {
		return features.FeatureKey{}, invalidField("index", "%s", features.ErrorMessage(err))
	}
	return features.FeatureKey{ModelID: modelID, SourceID: sourceID, Index: idx}, nil
}

// handleAPIFeature handles "GET /api/feature/{model}/{source}/{index}": the
// feature with all its examples and explanations.
func (s *Server) handleAPIFeature(w http.ResponseWriter, r *http.Request) {
	key, err := pathKey(r)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	t, done := s.cached(w, r, respKey{kind: respAPIFeature, model: key.ModelID, source: key.SourceID, index: key.Index})
	if done {
		return
	}
	f, err := s.Features.GetFeature(r.Context(), key, features.FeatureOptions{})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if t == nil {
		s.writeFeatures(w, r, []*features.Feature{f}, true)
		return
	}
	s.withFeatureJSON(w, r, []*features.Feature{f}, true, func(b []byte) { s.writeCached(w, t, b) })
}

// maxBatchFeatures caps POST /api/features.
const maxBatchFeatures = 256

// batchFeatureRequest is one element of POST /api/features.
type batchFeatureRequest struct {
	ModelID         string          `json:"modelId"`
	Layer           string          `json:"layer"`
	Source          string          `json:"source"` // accepted in place of layer
	Index           json.RawMessage `json:"index"`
	MaxActsToReturn *int            `json:"maxActsToReturn"`
}

// handleAPIFeatures handles "POST /api/features": a batch of features, body
// [{modelId, layer, index, maxActsToReturn?}], answered in the order asked;
// missing features are skipped.
func (s *Server) handleAPIFeatures(w http.ResponseWriter, r *http.Request) {
	var req []batchFeatureRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	if len(req) == 0 {
		s.apiError(w, r, features.Errorf(features.EINVALID, "request body must be a non-empty array of {modelId, layer, index}"))
		return
	}
	if len(req) > maxBatchFeatures {
		s.apiError(w, r, features.Errorf(features.ETOOLARGE, "at most %d features a request, got %d", maxBatchFeatures, len(req)))
		return
	}
	keys := make([]features.FeatureKey, len(req))
	limits := make(map[features.FeatureKey]int, len(req))
	maxActs := 0 // 0 = all
	limited := true
	for i, q := range req {
		src := q.Layer
		if src == "" {
			src = q.Source
		}
		idx, err := parseIndex(fieldAt("index", i), q.Index)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		keys[i] = features.FeatureKey{ModelID: q.ModelID, SourceID: src, Index: idx}
		if err := keys[i].Validate(); err != nil {
			s.apiError(w, r, invalidField(fieldAt("", i), "%s", features.ErrorMessage(err)))
			return
		}
		if q.MaxActsToReturn == nil {
			limited = false
			continue
		}
		if *q.MaxActsToReturn < 0 {
			s.apiError(w, r, invalidField(fieldAt("maxActsToReturn", i), "must be >= 0"))
			return
		}
		limits[keys[i]] = *q.MaxActsToReturn
		maxActs = max(maxActs, *q.MaxActsToReturn)
	}
	opts := features.FeatureOptions{}
	if limited {
		opts.MaxActivations = maxActs
		opts.NoActivations = maxActs == 0
	}
	fs, err := s.Features.GetFeatures(r.Context(), keys, opts)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	for _, f := range fs {
		if n, ok := limits[f.Key()]; ok && len(f.Activations) > n {
			f.Activations = f.Activations[:n]
		}
	}
	s.writeFeatures(w, r, fs, false)
}

// fieldAt names a field of the i-th element of an array body.
func fieldAt(field string, i int) string {
	if field == "" {
		return "[" + itoa(i) + "]"
	}
	return "[" + itoa(i) + "]." + field
}
