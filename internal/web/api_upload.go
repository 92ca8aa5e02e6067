package web

import (
	"context"
	"encoding/json"
	"net/http"

	"saex/internal/features"
)

// Limits of the upload routes, Neuronpedia's.
const (
	maxUploadFeatures     = 128
	maxUploadTokens       = 1024
	maxUploadLogits       = 20
	maxExplanationChars   = 512
	maxUploadActivations  = 1024 // examples per feature (ours: bounds one batch)
	uploadCreatorID       = "api-upload"
	uploadDefaultMethod   = "uploaded"
	uploadDefaultExplName = "unknown"
)

// uploadLogit is one entry of topLogits / bottomLogits.
type uploadLogit struct {
	Token string  `json:"token"`
	Value float64 `json:"value"`
}

// uploadExplanation is one explanation of an uploaded feature.
type uploadExplanation struct {
	Text       string `json:"text"`
	MethodName string `json:"methodName"`
	ModelName  string `json:"modelName"`
}

// uploadActivation is one example text of an uploaded feature.
type uploadActivation struct {
	Tokens           []string  `json:"tokens"`
	Values           []float32 `json:"values"`
	QuantileMax      *float64  `json:"quantileMax"`
	QuantileMin      *float64  `json:"quantileMin"`
	QuantileFraction *float64  `json:"quantileFraction"`
}

// uploadFeature is one feature of POST /api/feature/upload-batch.
type uploadFeature struct {
	Index        json.RawMessage     `json:"index"`
	Density      *float64            `json:"density"`
	TopLogits    []uploadLogit       `json:"topLogits"`
	BottomLogits []uploadLogit       `json:"bottomLogits"`
	Explanations []uploadExplanation `json:"explanations"`
	Activations  []uploadActivation  `json:"activations"`
}

// featureUploadRequest is the body of POST /api/feature/upload-batch.
type featureUploadRequest struct {
	ModelID  string          `json:"modelId"`
	Source   string          `json:"source"`
	Features []uploadFeature `json:"features"`
}

// uploadResponse reports what an upload wrote.
type uploadResponse struct {
	Message  string `json:"message"`
	ModelID  string `json:"modelId"`
	Source   string `json:"source"`
	Features int    `json:"features,omitempty"`
	Count    int    `json:"activations"`
}

// checkUploadTarget validates ids, requires the model and creates the source
// (and its source set) when missing, so notebooks can push new dashboards.
func (s *Server) checkUploadTarget(ctx context.Context, modelID, sourceID string) error {
	if !features.ValidID(modelID) {
		return invalidField("modelId", "invalid model id %q", modelID)
	}
	if err := sourceField("source", sourceID); err != nil {
		return err
	}
	if _, err := s.Catalog.GetModel(ctx, modelID); err != nil {
		return err
	}
	_, err := s.Catalog.GetSource(ctx, modelID, sourceID)
	if features.ErrorCode(err) != features.ENOTFOUND {
		return err
	}
	_, setName := features.SourceLayer(sourceID)
	if setName == "" {
		return invalidField("source", "source id %q is not of the form {layer}-{set}", sourceID)
	}
	sets, err := s.Catalog.ListSourceSets(ctx, modelID)
	if err != nil {
		return err
	}
	found := false
	for _, set := range sets {
		found = found || set.Name == setName
	}
	if !found {
		if err := s.Catalog.UpsertSourceSet(ctx, &features.SourceSet{
			ModelID: modelID, Name: setName, Description: "uploaded through the API", Type: "sae",
			CreatorID: uploadCreatorID, HasDashboards: true, Visibility: "PUBLIC", URLs: []string{},
		}); err != nil {
			return err
		}
	}
	return s.Catalog.UpsertSource(ctx, &features.Source{
		ID: sourceID, ModelID: modelID, SetName: setName, CreatorID: uploadCreatorID,
		HasDashboards: true, Visibility: "PUBLIC", OwnerKeyID: uploadOwner(ctx),
	})
}

// buildActivation validates one uploaded example and turns it into a row.
func buildActivation(field string, key features.FeatureKey, a uploadActivation) (*features.Activation, error) {
	switch {
	case len(a.Tokens) == 0:
		return nil, invalidField(field+".tokens", "must not be empty")
	case len(a.Tokens) > maxUploadTokens:
		return nil, features.Errorf(features.ETOOLARGE, "field %q: at most %d tokens, got %d", field+".tokens", maxUploadTokens, len(a.Tokens))
	case len(a.Values) != len(a.Tokens):
		return nil, invalidField(field+".values", "has %d values for %d tokens", len(a.Values), len(a.Tokens))
	case !finite(a.Values):
		return nil, invalidField(field+".values", "must be finite numbers")
	}
	for name, q := range map[string]*float64{"quantileMax": a.QuantileMax, "quantileMin": a.QuantileMin} {
		if q != nil && !finite([]float64{*q}) {
			return nil, invalidField(field+"."+name, "must be a finite number")
		}
	}
	if q := a.QuantileFraction; q != nil && (!finite([]float64{*q}) || *q < 0 || *q > 1) {
		return nil, invalidField(field+".quantileFraction", "must be in [0, 1]")
	}
	act := &features.Activation{
		ModelID: key.ModelID, SourceID: key.SourceID, Index: key.Index,
		Tokens: a.Tokens, Values: a.Values,
		BinMin: a.QuantileMin, BinMax: a.QuantileMax, BinContains: a.QuantileFraction,
		CreatorID: uploadCreatorID,
	}
	for i, v := range a.Values {
		if i == 0 || float64(v) > act.MaxValue {
			act.MaxValue, act.MaxValueTokenIndex = float64(v), i
		}
		if i == 0 || float64(v) < act.MinValue {
			act.MinValue = float64(v)
		}
	}
	return act, nil
}

// logits validates a logit table and splits it into strings and values.
func logits(field string, ls []uploadLogit) ([]string, []float64, error) {
	if len(ls) > maxUploadLogits {
		return nil, nil, features.Errorf(features.ETOOLARGE, "field %q: at most %d entries, got %d", field, maxUploadLogits, len(ls))
	}
	strs, vals := make([]string, len(ls)), make([]float64, len(ls))
	for i, l := range ls {
		if !finite([]float64{l.Value}) {
			return nil, nil, invalidField(field+fieldAt("value", i), "must be a finite number")
		}
		strs[i], vals[i] = l.Token, l.Value
	}
	return strs, vals, nil
}

// buildFeature validates one uploaded feature and turns it into a row.
func buildFeature(i int, modelID, sourceID string, u uploadFeature) (*features.Feature, error) {
	field := "features" + fieldAt("", i)
	idx, err := parseIndex(field+".index", u.Index)
	if err != nil {
		return nil, err
	}
	key := features.FeatureKey{ModelID: modelID, SourceID: sourceID, Index: idx}
	_, setName := features.SourceLayer(sourceID)
	f := &features.Feature{
		ModelID: modelID, SourceID: sourceID, Index: idx, SourceSetName: setName, CreatorID: uploadCreatorID,
	}
	if u.Density != nil {
		if d := *u.Density; !finite([]float64{d}) || d < 0 || d > 1 {
			return nil, invalidField(field+".density", "must be in [0, 1]")
		}
		f.FracNonzero = *u.Density
	}
	if f.PosStr, f.PosValues, err = logits(field+".topLogits", u.TopLogits); err != nil {
		return nil, err
	}
	if f.NegStr, f.NegValues, err = logits(field+".bottomLogits", u.BottomLogits); err != nil {
		return nil, err
	}
	if len(u.Activations) == 0 {
		return nil, invalidField(field+".activations", "must hold at least one example")
	}
	if len(u.Activations) > maxUploadActivations {
		return nil, features.Errorf(features.ETOOLARGE, "field %q: at most %d examples, got %d", field+".activations", maxUploadActivations, len(u.Activations))
	}
	for j, a := range u.Activations {
		act, err := buildActivation(field+".activations"+fieldAt("", j), key, a)
		if err != nil {
			return nil, err
		}
		f.MaxActApprox = max(f.MaxActApprox, act.MaxValue)
		f.Activations = append(f.Activations, act)
	}
	for j, e := range u.Explanations {
		if err := checkExplanationText(field+".explanations"+fieldAt("", j)+".text", e.Text); err != nil {
			return nil, err
		}
		exp := &features.Explanation{
			ModelID: modelID, SourceID: sourceID, Index: idx, Description: e.Text,
			TypeName: e.MethodName, ExplanationModelName: e.ModelName, AuthorID: uploadCreatorID,
			Scores: []*features.ExplanationScore{},
		}
		if exp.TypeName == "" {
			exp.TypeName = uploadDefaultMethod
		}
		if exp.ExplanationModelName == "" {
			exp.ExplanationModelName = uploadDefaultExplName
		}
		f.Explanations = append(f.Explanations, exp)
	}
	return f, nil
}

// handleAPIFeatureUploadBatch handles "POST /api/feature/upload-batch":
// 1 to 128 features of one source with their examples and explanations,
// written all-or-nothing; a feature uploaded again is replaced.
func (s *Server) handleAPIFeatureUploadBatch(w http.ResponseWriter, r *http.Request) {
	if s.Writer == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "uploads are not enabled on this server"))
		return
	}
	var req featureUploadRequest
	if err := decodeJSON(w, r, s.MaxUploadBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	if !features.ValidID(req.ModelID) {
		s.apiError(w, r, invalidField("modelId", "invalid model id %q", req.ModelID))
		return
	}
	if err := sourceField("source", req.Source); err != nil {
		s.apiError(w, r, err)
		return
	}
	switch n := len(req.Features); {
	case n == 0:
		s.apiError(w, r, invalidField("features", "must hold at least one feature"))
		return
	case n > maxUploadFeatures:
		s.apiError(w, r, features.Errorf(features.ETOOLARGE, "field %q: at most %d features a batch, got %d", "features", maxUploadFeatures, n))
		return
	}
	batch := &features.FeatureBatch{ModelID: req.ModelID, SourceID: req.Source, ReplaceExamples: true}
	seen := make(map[int]bool, len(req.Features))
	acts := 0
	for i, u := range req.Features {
		f, err := buildFeature(i, req.ModelID, req.Source, u)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		if seen[f.Index] {
			s.apiError(w, r, invalidField("features"+fieldAt("index", i), "feature %d appears twice in the batch", f.Index))
			return
		}
		seen[f.Index] = true
		acts += len(f.Activations)
		batch.Features = append(batch.Features, f)
	}
	// A read-only key is refused before a new source is created; an upload
	// key creates the source as its own, or must own the existing one.
	if err := AuthorizeWrite(r.Context()); err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.checkUploadTarget(r.Context(), req.ModelID, req.Source); err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.AuthorizeSourceWrite(r.Context(), req.ModelID, req.Source); err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.Writer.WriteFeatures(r.Context(), batch); err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, uploadResponse{Message: "success", ModelID: req.ModelID, Source: req.Source, Features: len(batch.Features), Count: acts})
}

// activationUploadRequest is the body of POST /api/activation/upload-batch.
type activationUploadRequest struct {
	ModelID     string             `json:"modelId"`
	Source      string             `json:"source"`
	Index       json.RawMessage    `json:"index"`
	Activations []uploadActivation `json:"activations"`
}

// handleAPIActivationUploadBatch handles "POST /api/activation/upload-batch":
// adds example texts to an existing feature.
func (s *Server) handleAPIActivationUploadBatch(w http.ResponseWriter, r *http.Request) {
	if s.Writer == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "uploads are not enabled on this server"))
		return
	}
	var req activationUploadRequest
	if err := decodeJSON(w, r, s.MaxUploadBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	idx, err := parseIndex("index", req.Index)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	key := features.FeatureKey{ModelID: req.ModelID, SourceID: req.Source, Index: idx}
	if err := key.Validate(); err != nil {
		s.apiError(w, r, err)
		return
	}
	switch n := len(req.Activations); {
	case n == 0:
		s.apiError(w, r, invalidField("activations", "must hold at least one example"))
		return
	case n > maxUploadActivations:
		s.apiError(w, r, features.Errorf(features.ETOOLARGE, "field %q: at most %d examples, got %d", "activations", maxUploadActivations, n))
		return
	}
	acts := make([]*features.Activation, len(req.Activations))
	for i, a := range req.Activations {
		if acts[i], err = buildActivation("activations"+fieldAt("", i), key, a); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	if err := s.AuthorizeSourceWrite(r.Context(), req.ModelID, req.Source); err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.Writer.WriteActivations(r.Context(), acts); err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, uploadResponse{Message: "success", ModelID: req.ModelID, Source: req.Source, Count: len(acts)})
}
