package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"saex/internal/features"
)

// Limits of the compute API.
const (
	maxTextsPerRequest   = 16  // customText / text arrays
	maxSourceTexts       = 4   // /api/activation/source arrays (Neuronpedia's limit)
	maxSearchResults     = 100 // search-all numResults
	defaultSearchResults = 50
	maxTopkPerToken      = 20 // search-topk-by-token numResults
	defaultTopkPerToken  = 10
	defaultTopkDensity   = 0.01
)

// parseTexts parses a text-or-list field and checks its count and contents.
func parseTexts(field string, raw json.RawMessage, maxN int) ([]string, bool, error) {
	texts, list, err := parseTextOrList(field, raw)
	if err != nil {
		return nil, false, err
	}
	if len(texts) == 0 {
		return nil, list, invalidField(field, "must hold at least one text")
	}
	if len(texts) > maxN {
		return nil, list, features.Errorf(features.ETOOLARGE, "field %q: at most %d texts a request, got %d", field, maxN, len(texts))
	}
	for i, t := range texts {
		if t == "" {
			name := field
			if list {
				name = field + fieldAt("", i)
			}
			return nil, list, invalidField(name, "must not be empty")
		}
	}
	return texts, list, nil
}

// checkDensity validates a Neuronpedia densityThreshold.
func checkDensity(field string, v float64) error {
	if v < -1 || v > 1 {
		return invalidField(field, "must be -1 (off) or in (0, 1), got %g", v)
	}
	return nil
}

// featureRef is how compute requests name a feature.
type featureRef struct {
	ModelID string          `json:"modelId"`
	Source  string          `json:"source"`
	Layer   string          `json:"layer"`
	Index   json.RawMessage `json:"index"`
}

// activationNewRequest is the body of POST /api/activation/new.
type activationNewRequest struct {
	Feature    *featureRef     `json:"feature"`
	Neuron     *featureRef     `json:"neuron"` // accepted in place of feature
	CustomText json.RawMessage `json:"customText"`
	IgnoreBOS  bool            `json:"ignoreBos"`
}

// activationResult is an unsaved Activation row: one text through one feature.
type activationResult struct {
	Tokens             []string  `json:"tokens"`
	Values             []float32 `json:"values"`
	MaxValue           float32   `json:"maxValue"`
	MinValue           float32   `json:"minValue"`
	MaxValueTokenIndex int       `json:"maxValueTokenIndex"`
	ModelID            string    `json:"modelId"`
	Layer              string    `json:"layer"`
	Index              string    `json:"index"`
	CreatorID          string    `json:"creatorId"`
	DataIndex          *string   `json:"dataIndex"`
	DataSource         string    `json:"dataSource"`
	CreatedAt          time.Time `json:"createdAt"`
	// pieces are the tokens' exact bytes, for pages to merge split characters.
	pieces []string
}

// checkFeatureIndex returns ENOTFOUND unless the source exists and is wide
// enough to have the feature.
func (s *Server) checkFeatureIndex(ctx context.Context, key features.FeatureKey) error {
	src, err := s.sources.get(ctx, s.Catalog, key.ModelID, key.SourceID, nil)
	if err != nil {
		return err
	}
	if src.NumFeatures > 0 && key.Index >= src.NumFeatures {
		return features.Errorf(features.ENOTFOUND, "feature %d does not exist: source %q has %d features", key.Index, key.SourceID, src.NumFeatures)
	}
	return nil
}

// featureActivation runs one text through one feature.
func (s *Server) featureActivation(ctx context.Context, key features.FeatureKey, text string, ignoreBOS bool) (*activationResult, error) {
	res, err := s.runPrompt(ctx, key.ModelID, []string{key.SourceID}, text)
	if err != nil {
		return nil, err
	}
	tokens := res.Tokens
	vals := res.FeatureValues(key.SourceID, key.Index, false)
	if ignoreBOS && res.HasBOS && len(tokens) > 0 {
		tokens, vals = tokens[1:], vals[1:]
	}
	out := &activationResult{
		Tokens: features.TokenTexts(tokens), Values: vals, pieces: tokens,
		ModelID: key.ModelID, Layer: key.SourceID, Index: itoa(key.Index),
		DataSource: "saex", CreatedAt: time.Now().UTC(),
	}
	for i, v := range vals {
		if i == 0 || v > out.MaxValue {
			out.MaxValue, out.MaxValueTokenIndex = v, i
		}
		if i == 0 || v < out.MinValue {
			out.MinValue = v
		}
	}
	return out, nil
}

// handleAPIActivationNew handles "POST /api/activation/new": the activations
// of one feature over custom text (an array of texts gives an array).
func (s *Server) handleAPIActivationNew(w http.ResponseWriter, r *http.Request) {
	var req activationNewRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	ref, field := req.Feature, "feature"
	if ref == nil {
		ref, field = req.Neuron, "neuron"
	}
	if ref == nil {
		s.apiError(w, r, invalidField("feature", "is required: {modelId, source, index}"))
		return
	}
	src := ref.Source
	if src == "" {
		src = ref.Layer
	}
	idx, err := parseIndex(field+".index", ref.Index)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	key := features.FeatureKey{ModelID: ref.ModelID, SourceID: src, Index: idx}
	if err := key.Validate(); err != nil {
		s.apiError(w, r, invalidField(field, "%s", features.ErrorMessage(err)))
		return
	}
	texts, list, err := parseTexts("customText", req.CustomText, maxTextsPerRequest)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.checkRunnable(r.Context(), key.ModelID, []string{key.SourceID}); err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.checkFeatureIndex(r.Context(), key); err != nil {
		s.apiError(w, r, err)
		return
	}
	results := make([]*activationResult, len(texts))
	for i, t := range texts {
		if results[i], err = s.featureActivation(r.Context(), key, t, req.IgnoreBOS); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	if list {
		writeJSON(w, http.StatusOK, results)
		return
	}
	writeJSON(w, http.StatusOK, results[0])
}

// activationSourceRequest is the body of POST /api/activation/source.
type activationSourceRequest struct {
	ModelID    string          `json:"modelId"`
	Source     string          `json:"source"`
	Layer      string          `json:"layer"` // accepted in place of source
	CustomText json.RawMessage `json:"customText"`
}

// sourceActivations is one text's result: its tokens and the sparse
// activations of every feature that fired, {"index": [[token, value], ...]}.
type sourceActivations struct {
	Tokens         []string             `json:"tokens"`
	ActiveFeatures map[int][][2]float64 `json:"activeFeatures"`
}

// handleAPIActivationSource handles "POST /api/activation/source": every
// active feature of one source over 1 to 4 texts.
func (s *Server) handleAPIActivationSource(w http.ResponseWriter, r *http.Request) {
	var req activationSourceRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	src, err := modelAndSource(req.ModelID, req.Source, req.Layer)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	texts, _, err := parseTexts("customText", req.CustomText, maxSourceTexts)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := struct {
		Results []sourceActivations `json:"results"`
	}{Results: make([]sourceActivations, 0, len(texts))}
	for _, t := range texts {
		res, err := s.runPrompt(r.Context(), req.ModelID, []string{src}, t)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		out.Results = append(out.Results, sourceActivations{Tokens: features.TokenTexts(res.Tokens), ActiveFeatures: res.ActiveFeatures(src)})
	}
	writeJSON(w, http.StatusOK, out)
}
