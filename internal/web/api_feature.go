package web

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
)

// apiFeature is a feature as the JSON API returns it: Neuronpedia's Neuron
// row with its activations and explanations, both always present (the
// Python client indexes them unconditionally). Every array field is an
// array, never null (Python's len() and zip() raise on None), and
// maxActApprox is printed as the float32 it was computed from, like the
// examples' values.
type apiFeature struct {
	*features.Feature
	MaxActApprox float32          `json:"maxActApprox"`
	Activations  []apiActivation  `json:"activations"`
	Explanations []apiExplanation `json:"explanations"`
	// Model is the model row, included where Neuronpedia includes it
	// (search-all's neurons).
	Model *features.Model `json:"model,omitempty"`
}

// apiActivation is an example as the API returns it. "source" repeats
// "layer" (Neuronpedia's Python client reads the source id of examples
// under that name); maxValue and minValue are printed as float32, as the
// values are, so that values[maxValueTokenIndex] == maxValue holds in the
// client; the array fields Neuronpedia always sends are never null.
type apiActivation struct {
	*features.Activation
	MaxValue   float32   `json:"maxValue"`
	MinValue   float32   `json:"minValue"`
	DFAValues  []float32 `json:"dfaValues"`
	LossValues []float32 `json:"lossValues"`
	// Attention-pattern contributions: saex computes none, Neuronpedia
	// sends empty arrays for SAEs without them.
	ZQIndices []int     `json:"zQIndices"`
	ZKIndices []int     `json:"zKIndices"`
	ZValues   []float32 `json:"zValues"`
	Source    string    `json:"source"`
}

// apiExplanation adds what Neuronpedia includes with an explanation:
// "source" next to "layer", the author and triggering user as {id, name}
// objects (saex's users are API keys: their names), votes (saex has no
// voting: always empty) and scores, never null.
type apiExplanation struct {
	*features.Explanation
	Scores          []*features.ExplanationScore `json:"scores"`
	Source          string                       `json:"source"`
	Author          apiUser                      `json:"author"`
	TriggeredByUser *apiUser                     `json:"triggeredByUser"`
	Votes           []struct{}                   `json:"votes"`
}

// apiUser is the {id, name} Neuronpedia includes for a user.
type apiUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func newAPIFeature(f *features.Feature) apiFeature {
	out := apiFeature{
		Feature:      featureRow(f),
		MaxActApprox: float32(f.MaxActApprox),
		Activations:  make([]apiActivation, len(f.Activations)),
		Explanations: make([]apiExplanation, len(f.Explanations)),
	}
	for i, a := range f.Activations {
		out.Activations[i] = newAPIActivation(a)
	}
	for i, e := range f.Explanations {
		out.Explanations[i] = newAPIExplanation(e)
	}
	return out
}

// featureRow returns a copy of f's row (without activations and
// explanations) whose nil arrays are empty ones.
func featureRow(f *features.Feature) *features.Feature {
	row := *f
	row.Activations, row.Explanations = nil, nil
	for _, p := range []*[]float64{&row.Vector, &row.TopkCosSimValues, &row.NeuronAlignmentValues, &row.NeuronAlignmentL1,
		&row.CorrelatedNeuronsPearson, &row.CorrelatedNeuronsL1, &row.CorrelatedFeaturesPearson, &row.CorrelatedFeaturesL1,
		&row.NegValues, &row.PosValues, &row.FreqHistHeights, &row.FreqHistValues, &row.LogitsHistHeights, &row.LogitsHistValues,
		&row.DecoderWeightsDist} {
		if *p == nil {
			*p = []float64{}
		}
	}
	for _, p := range []*[]int{&row.TopkCosSimIndices, &row.NeuronAlignmentIndices, &row.CorrelatedNeuronsIndices, &row.CorrelatedFeaturesIndices} {
		if *p == nil {
			*p = []int{}
		}
	}
	// Logit tokens as Neuronpedia sends them (U+FFFD where a piece is not
	// valid UTF-8 alone).
	row.PosStr, row.NegStr = orEmpty(features.TokenTexts(row.PosStr)), orEmpty(features.TokenTexts(row.NegStr))
	return &row
}

// newAPIActivation is a as the API sends it: token strings as Neuronpedia
// sends them, values in float32, arrays never null.
func newAPIActivation(a *features.Activation) apiActivation {
	if a == nil {
		return apiActivation{}
	}
	if t := features.TokenTexts(a.Tokens); len(t) > 0 && &t[0] != &a.Tokens[0] {
		c := *a
		c.Tokens = t
		a = &c
	}
	return apiActivation{Activation: a, MaxValue: float32(a.MaxValue), MinValue: float32(a.MinValue),
		DFAValues: orEmpty(a.DFAValues), LossValues: orEmpty(a.LossValues),
		ZQIndices: []int{}, ZKIndices: []int{}, ZValues: []float32{}, Source: a.SourceID}
}

func newAPIExplanation(e *features.Explanation) apiExplanation {
	out := apiExplanation{Explanation: e, Scores: e.Scores, Source: e.SourceID,
		Author: apiUser{ID: e.AuthorID, Name: e.AuthorID}, Votes: []struct{}{}}
	if out.Scores == nil {
		out.Scores = []*features.ExplanationScore{}
	}
	if e.TriggeredByID != nil {
		out.TriggeredByUser = &apiUser{ID: *e.TriggeredByID, Name: *e.TriggeredByID}
	}
	return out
}

// orEmpty returns s, or an empty slice for nil.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
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
// feature with all its examples (largest maxValue first, as Neuronpedia
// orders them) and explanations, and the relations Neuronpedia includes:
// model, source, sourceSet, lists, creator and comments.
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
	f, rel, err := s.Features.GetFeatureWithRelations(r.Context(), key, features.FeatureOptions{})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	f.Activations = byMaxValue(f.Activations)
	var ver *features.DataVersion // a cached body holds rows of its own version
	if t != nil {
		ver = &t.ver
	}
	extra, err := s.featureRelations(r.Context(), f, rel, ver)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if t == nil {
		s.writeFeatures(w, r, []*features.Feature{f}, true, extra)
		return
	}
	s.withFeatureJSON(w, r, []*features.Feature{f}, true, extra, func(b []byte) { s.writeCached(w, t, b) })
}

// featureRelations returns the JSON members of the rows Neuronpedia
// includes with GET /api/feature: the model, source sets and lists as read
// with the feature, the source from the cache. saex has no
// comments (always empty) and no users apart from API keys: creator names
// the feature's creator id.
func (s *Server) featureRelations(ctx context.Context, f *features.Feature, read *features.FeatureRelations, ver *features.DataVersion) ([]byte, error) {
	rel := struct {
		Model     *features.Model     `json:"model"`
		Source    *features.Source    `json:"source"`
		SourceSet *features.SourceSet `json:"sourceSet"`
		Lists     []apiListMembership `json:"lists"`
		Creator   *apiUser            `json:"creator"`
		Comments  []struct{}          `json:"comments"`
	}{Lists: []apiListMembership{}, Comments: []struct{}{}}
	rel.Model = read.Model
	var err error
	// The source through the short-lived cache the feature page uses.
	if rel.Source, err = s.sources.get(ctx, s.Catalog, f.ModelID, f.SourceID, ver); err != nil && features.ErrorCode(err) != features.ENOTFOUND {
		return nil, err
	}
	if rel.Source != nil {
		for _, set := range read.SourceSets {
			if set.Name == rel.Source.SetName {
				cp := *set
				cp.URLs = orEmpty(cp.URLs)
				rel.SourceSet = &cp
			}
		}
	}
	if s.Lists != nil {
		for i, m := range read.Members {
			rel.Lists = append(rel.Lists, apiListMembership{ListFeature: m, List: read.Lists[i]})
		}
	}
	if f.CreatorID != "" {
		rel.Creator = &apiUser{ID: f.CreatorID, Name: f.CreatorID}
	}
	b, err := json.Marshal(rel)
	if err != nil {
		return nil, err
	}
	return b[1 : len(b)-1], nil // the members, without braces
}

// apiListMembership is one of a feature's lists: the membership row with
// its list, as Neuronpedia includes them.
type apiListMembership struct {
	*features.ListFeature
	List *features.List `json:"list"`
}

// byMaxValue returns the examples ordered by maxValue, largest first (ties
// keep their stored order), as Neuronpedia returns them; the groups stay
// apart by their bin fields.
func byMaxValue(acts []*features.Activation) []*features.Activation {
	out := slices.Clone(acts)
	slices.SortStableFunc(out, func(a, b *features.Activation) int { return cmp.Compare(b.MaxValue, a.MaxValue) })
	return out
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
// missing features are skipped. As in Neuronpedia, the first item's
// maxActsToReturn applies to every feature (the examples with the largest
// maxValue); without it every example is returned.
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
		if q.MaxActsToReturn != nil && *q.MaxActsToReturn < 0 {
			s.apiError(w, r, invalidField(fieldAt("maxActsToReturn", i), "must be >= 0"))
			return
		}
	}
	limit := -1 // all
	if m := req[0].MaxActsToReturn; m != nil {
		limit = *m
	}
	// The store keeps the top group first, then larger examples: the top
	// group holds the largest activations, so its first examples are those
	// with the largest maxValue but for ties with an interval example.
	opts := features.FeatureOptions{NoActivations: limit == 0, MaxActivations: max(limit, 0)}
	fs, err := s.Features.GetFeatures(r.Context(), keys, opts)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	for _, f := range fs {
		f.Activations = byMaxValue(f.Activations)
		if limit >= 0 && len(f.Activations) > limit {
			f.Activations = f.Activations[:limit]
		}
	}
	s.writeFeatures(w, r, fs, false, nil)
}

// fieldAt names a field of the i-th element of an array body.
func fieldAt(field string, i int) string {
	if field == "" {
		return "[" + itoa(i) + "]"
	}
	return "[" + itoa(i) + "]." + field
}
