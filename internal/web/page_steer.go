package web

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	"saex/templates"
)

// The steer page (GET /{model}/steer) is a form whose query string holds
// every setting, seed included, so its URL is the shareable link of a run;
// static/steer.js runs it through POST /api/steer (the compute group's
// limits apply there) and streams both completions in. With run=1 the page
// runs the form on load.

// steerForm is the steer page's query, validated.
type steerForm struct {
	Prompt      string
	Features    []templates.SteerFeatureView
	NTokens     int
	Temperature float64
	Seed        int64
	FreqPenalty float64
	Multiplier  float64
	Method      string
	Run         bool
}

// readSteerForm validates the steer page's query; errors name the field.
func readSteerForm(modelID string, q url.Values) (*steerForm, error) {
	f := &steerForm{
		Prompt: q.Get("prompt"), NTokens: defaultSteerTokens, Temperature: defaultSteerTemp,
		Seed: defaultSteerSeed, FreqPenalty: defaultSteerFreqPen, Multiplier: defaultSteerMultiply,
		Method: "SIMPLE_ADDITIVE", Run: q.Get("run") == "1",
	}
	if !utf8.ValidString(f.Prompt) {
		return f, invalidField("prompt", "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(f.Prompt); n > maxSteerPromptChars {
		return f, invalidField("prompt", "must be at most %d characters, got %d", maxSteerPromptChars, n)
	}
	num := func(field string, def, lo, hi float64) (float64, error) {
		s := strings.TrimSpace(q.Get(field))
		if s == "" {
			return def, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || v < lo || v > hi {
			return def, invalidField(field, "must be a number between %g and %g", lo, hi)
		}
		return v, nil
	}
	var err error
	nt, err := num("n_tokens", defaultSteerTokens, 1, maxSteerTokens)
	if err != nil {
		return f, err
	}
	if nt != math.Trunc(nt) {
		return f, invalidField("n_tokens", "must be a whole number")
	}
	f.NTokens = int(nt)
	if f.Temperature, err = num("temperature", defaultSteerTemp, 0, maxSteerTemperature); err != nil {
		return f, err
	}
	seed, err := num("seed", defaultSteerSeed, -maxSteerSeed, maxSteerSeed)
	if err != nil {
		return f, err
	}
	if seed != math.Trunc(seed) {
		return f, invalidField("seed", "must be a whole number")
	}
	f.Seed = int64(seed)
	if f.FreqPenalty, err = num("freq_penalty", defaultSteerFreqPen, minSteerFreqPenalty, maxSteerFreqPenalty); err != nil {
		return f, err
	}
	if f.Multiplier, err = num("strength_multiplier", defaultSteerMultiply, 0, maxSteerMultiplier); err != nil {
		return f, err
	}
	switch m := q.Get("steer_method"); m {
	case "", "SIMPLE_ADDITIVE":
	case "ORTHOGONAL_DECOMP":
		f.Method = m
	default:
		return f, invalidField("steer_method", "must be SIMPLE_ADDITIVE or ORTHOGONAL_DECOMP")
	}
	names, strengths := q["feature"], q["strength"]
	if len(names) > maxSteerFeatures {
		return f, invalidField("feature", "at most %d features", maxSteerFeatures)
	}
	if len(strengths) != len(names) {
		return f, invalidField("strength", "one strength for each feature: %d features, %d strengths", len(names), len(strengths))
	}
	for i, name := range names {
		src, idx, err := parseSteerFeature(name)
		if err != nil {
			return f, err
		}
		st, err := strconv.ParseFloat(strings.TrimSpace(strengths[i]), 64)
		if err != nil || math.IsNaN(st) || math.Abs(st) > maxSteerAbsStrength {
			return f, invalidField("strength", "feature %s: the strength must be a number between %g and %g", name, -float64(maxSteerAbsStrength), float64(maxSteerAbsStrength))
		}
		f.Features = append(f.Features, templates.SteerFeatureView{
			SourceID: src, Index: idx, Strength: strconv.FormatFloat(st, 'g', -1, 64),
			URL: templates.FeatureURL(modelID, src, idx),
		})
	}
	return f, nil
}

// parseSteerFeature reads a "source:index" feature name.
func parseSteerFeature(name string) (string, int, error) {
	i := strings.LastIndexByte(name, ':')
	if i <= 0 {
		return "", 0, invalidField("feature", "%q is not source:index", clipText(name, maxEchoed))
	}
	src := name[:i]
	// The feature pages' rules: a source whose layer fits, an index the
	// store's int4 can hold (a larger one names no feature: 400, not a form).
	if !features.ValidSourceID(src) {
		return "", 0, invalidField("feature", "%q: invalid source id (letters, digits, '.', '_' or '-'; a layer of at most %d)", clipText(name, maxEchoed), features.MaxLayer)
	}
	idx, err := strconv.Atoi(name[i+1:])
	if err != nil || !features.ValidIndex(idx) {
		return "", 0, invalidField("feature", "%q: the index must be a whole number from 0 to %d", clipText(name, maxEchoed), features.MaxIndex)
	}
	return src, idx, nil
}

// defaultSteerStrength is the strength a feature page's "steer with this
// feature" link starts at: a strength is in units of the feature's own
// activation, so a few times its largest seen activation pushes the model
// clearly past what text makes it do; 10 (Neuronpedia's default vector
// strength) for a feature with no activations.
func defaultSteerStrength(maxAct float64) float64 {
	if !(maxAct > 0) {
		return 10
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(min(4*maxAct, 300), 'g', 2, 64), 64)
	return v
}

// steerLink is a feature's "steer with this feature" URL.
func steerLink(key features.FeatureKey, maxAct float64) string {
	q := url.Values{
		"feature":  {key.SourceID + ":" + strconv.Itoa(key.Index)},
		"strength": {strconv.FormatFloat(defaultSteerStrength(maxAct), 'g', -1, 64)},
	}
	return templates.SteerURL(key.ModelID) + "?" + q.Encode()
}

// handleSteerPage handles "GET /{model}/steer": the steer form, filled
// from the query; a bad query answers 400 with the form and the field.
func (s *Server) handleSteerPage(w http.ResponseWriter, r *http.Request) {
	modelID := chi.URLParam(r, "model")
	if !features.ValidID(modelID) {
		s.pageError(w, r, features.Errorf(features.ENOTFOUND, "There is no model %s.", clipText(modelID, maxEchoed)))
		return
	}
	if _, err := s.Catalog.GetModel(r.Context(), modelID); err != nil {
		s.pageError(w, r, err)
		return
	}
	form, ferr := readSteerForm(modelID, r.URL.Query())
	v := templates.SteerView{
		Meta: s.meta("Steer · "+modelID, "steer", modelID), ModelID: modelID,
		Prompt: form.Prompt, Features: form.Features, Method: form.Method,
		NTokens:     strconv.Itoa(form.NTokens),
		Temperature: strconv.FormatFloat(form.Temperature, 'g', -1, 64),
		Seed:        strconv.FormatInt(form.Seed, 10),
		FreqPenalty: strconv.FormatFloat(form.FreqPenalty, 'g', -1, 64),
		Multiplier:  strconv.FormatFloat(form.Multiplier, 'g', -1, 64),
		Available:   s.Inference != nil && s.Inference.CanRun(modelID, ""),
	}
	if _, ok := s.Inference.(features.Steerer); !ok {
		v.Available = false
	}
	status := http.StatusOK
	if ferr != nil {
		status, v.Error = s.userError(r, ferr)
	}
	if v.Available {
		v.Meta.Script = "steer.js"
		v.MaxTokens = s.Inference.MaxTokens(modelID)
		sources, err := s.Catalog.ListSources(r.Context(), modelID)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		for _, src := range sources {
			if s.Inference.CanRun(modelID, src.ID) {
				v.Sources = append(v.Sources, src.ID)
			}
		}
		v.AutoRun = ferr == nil && form.Run && strings.TrimSpace(form.Prompt) != "" && len(form.Features) > 0
	}
	s.render(w, r, status, templates.SteerPage(v))
}
