package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"unicode/utf8"

	"saex/internal/features"
)

// Neuronpedia's POST /api/steer: a prompt completed with and without
// steering by SAE features (or stored vectors, which Neuronpedia keeps as
// features), in its request and response shapes.

// Bounds of /api/steer (Neuronpedia's lib/utils/steer.ts), and saex's own
// bound on a strength: Neuronpedia's API does not bound it; far past its
// UI's ±300, a strength only makes activations overflow.
const (
	maxSteerPromptChars  = 2048
	maxSteerTokens       = 256
	maxSteerTemperature  = 2
	maxSteerMultiplier   = 10
	maxSteerSeed         = 1e8
	minSteerFreqPenalty  = -2
	maxSteerFreqPenalty  = 2
	maxSteerAbsStrength  = 1e4
	maxSteerFeatures     = 32
	defaultSteerTemp     = 0.5
	defaultSteerTokens   = 48
	defaultSteerFreqPen  = 1.0
	defaultSteerSeed     = 16
	defaultSteerMultiply = 1.0
)

// steerFeatureIn is one feature of a steer request.
type steerFeatureIn struct {
	ModelID  string          `json:"modelId"`
	Layer    string          `json:"layer"`
	Source   string          `json:"source"` // accepted in place of layer
	Index    json.RawMessage `json:"index"`
	Strength *float64        `json:"strength"`
}

// steerVectorIn is a vector given in the request itself (saex's addition,
// the form of Neuronpedia inference server's NPSteerVector).
type steerVectorIn struct {
	Vector   []float64 `json:"vector"`
	Strength *float64  `json:"strength"`
	Hook     string    `json:"hook"`
}

// steerRequest is the body of POST /api/steer.
type steerRequest struct {
	Prompt             *string          `json:"prompt"`
	ModelID            string           `json:"modelId"`
	Features           []steerFeatureIn `json:"features"`
	Vectors            []steerVectorIn  `json:"vectors"`
	Temperature        *float64         `json:"temperature"`
	NTokens            *float64         `json:"n_tokens"`
	FreqPenalty        *float64         `json:"freq_penalty"`
	Seed               *float64         `json:"seed"`
	StrengthMultiplier *float64         `json:"strength_multiplier"`
	SteerMethod        string           `json:"steer_method"`
	NormalizeSteering  bool             `json:"normalize_steering"`
	SteerSpecialTokens *bool            `json:"steer_special_tokens"`
	Stream             bool             `json:"stream"`
}

// steerResponse is Neuronpedia's reply: both completions (generated text
// only), no logprobs, nothing saved (no id or share URL).
type steerResponse struct {
	Steered         *string `json:"STEERED"`
	Default         *string `json:"DEFAULT"`
	SteeredLogProbs any     `json:"steeredLogProbs"`
	DefaultLogProbs any     `json:"defaultLogProbs"`
	ID              *string `json:"id"`
	ShareURL        *string `json:"shareUrl"`
	Limit           *string `json:"limit"`
}

// number reads an optional number field with a default and a range.
func number(field string, v *float64, def, lo, hi float64) (float64, error) {
	if v == nil {
		return def, nil
	}
	if math.IsNaN(*v) || *v < lo || *v > hi {
		return 0, invalidField(field, "must be between %g and %g, got %g", lo, hi, *v)
	}
	return *v, nil
}

// parseSteerRequest validates the body into a features.SteerRequest.
// Stored vectors named as features are resolved by the handler.
func parseSteerRequest(req *steerRequest) (features.SteerRequest, error) {
	var out features.SteerRequest
	switch {
	case req.Prompt == nil || *req.Prompt == "":
		return out, invalidField("prompt", "is required")
	case !utf8.ValidString(*req.Prompt):
		return out, invalidField("prompt", "must be valid UTF-8")
	case utf8.RuneCountInString(*req.Prompt) > maxSteerPromptChars:
		return out, invalidField("prompt", "must be at most %d characters, got %d", maxSteerPromptChars, utf8.RuneCountInString(*req.Prompt))
	case req.ModelID == "":
		return out, invalidField("modelId", "is required")
	case !features.ValidID(req.ModelID):
		return out, invalidField("modelId", "invalid model id %q", req.ModelID)
	case len(req.Features) == 0 && len(req.Vectors) == 0:
		return out, invalidField("features", "is required: [{modelId, layer, index, strength}]")
	case len(req.Features)+len(req.Vectors) > maxSteerFeatures:
		return out, invalidField("features", "at most %d features and vectors a request", maxSteerFeatures)
	}
	out.ModelID, out.Prompt = req.ModelID, *req.Prompt
	var err error
	if out.Temperature, err = number("temperature", req.Temperature, defaultSteerTemp, 0, maxSteerTemperature); err != nil {
		return out, err
	}
	nt, err := number("n_tokens", req.NTokens, defaultSteerTokens, 1, maxSteerTokens)
	if err != nil {
		return out, err
	}
	if nt != math.Trunc(nt) {
		return out, invalidField("n_tokens", "must be an integer, got %g", nt)
	}
	out.NTokens = int(nt)
	if out.FreqPenalty, err = number("freq_penalty", req.FreqPenalty, defaultSteerFreqPen, minSteerFreqPenalty, maxSteerFreqPenalty); err != nil {
		return out, err
	}
	seed, err := number("seed", req.Seed, defaultSteerSeed, -maxSteerSeed, maxSteerSeed)
	if err != nil {
		return out, err
	}
	out.Seed = int64(seed)
	if out.StrengthMultiplier, err = number("strength_multiplier", req.StrengthMultiplier, defaultSteerMultiply, 0, maxSteerMultiplier); err != nil {
		return out, err
	}
	switch req.SteerMethod {
	case "", "SIMPLE_ADDITIVE", "ORTHOGONAL_DECOMP":
		out.Method = req.SteerMethod
	case "PROJECTION_CAP":
		return out, invalidField("steer_method", "PROJECTION_CAP is not supported by saex (SIMPLE_ADDITIVE or ORTHOGONAL_DECOMP)")
	default:
		return out, invalidField("steer_method", "must be SIMPLE_ADDITIVE or ORTHOGONAL_DECOMP, got %q", req.SteerMethod)
	}
	out.NormalizeSteering = req.NormalizeSteering
	out.SteerSpecialTokens = req.SteerSpecialTokens == nil || *req.SteerSpecialTokens // Neuronpedia steers every position of a completion
	out.Types = []string{features.SteerSteered, features.SteerDefault}
	strength := func(field string, v *float64) (float64, error) {
		if v == nil {
			return 0, invalidField(field, "is required")
		}
		return number(field, v, 0, -maxSteerAbsStrength, maxSteerAbsStrength)
	}
	for i, f := range req.Features {
		field := fmt.Sprintf("features[%d]", i)
		if f.ModelID != "" && f.ModelID != req.ModelID {
			return out, invalidField(field+".modelId", "must be the request's modelId %q, got %q", req.ModelID, f.ModelID)
		}
		src := f.Layer
		if src == "" {
			src = f.Source
		}
		if src == "" {
			return out, invalidField(field+".layer", "is required")
		}
		if !features.ValidID(src) {
			return out, invalidField(field+".layer", "invalid source id %q", src)
		}
		idx, err := parseIndex(field+".index", f.Index)
		if err != nil {
			return out, err
		}
		s, err := strength(field+".strength", f.Strength)
		if err != nil {
			return out, err
		}
		out.Features = append(out.Features, features.SteerFeature{SourceID: src, Index: idx, Strength: s})
	}
	for i, v := range req.Vectors {
		field := fmt.Sprintf("vectors[%d]", i)
		if v.Hook == "" {
			return out, invalidField(field+".hook", "is required")
		}
		if len(v.Vector) == 0 || len(v.Vector) > maxVectorLen {
			return out, invalidField(field+".vector", "must hold 1 to %d numbers", maxVectorLen)
		}
		s, err := strength(field+".strength", v.Strength)
		if err != nil {
			return out, err
		}
		vec, err := float32Vector(field+".vector", v.Vector)
		if err != nil {
			return out, err
		}
		out.Vectors = append(out.Vectors, features.SteerVector{Hook: v.Hook, Vector: vec, Strength: s})
	}
	return out, nil
}

func float32Vector(field string, v []float64) ([]float32, error) {
	out := make([]float32, len(v))
	for i, x := range v {
		if math.IsNaN(x) || math.Abs(x) > math.MaxFloat32 {
			return nil, invalidField(fmt.Sprintf("%s[%d]", field, i), "must be a finite float32")
		}
		out[i] = float32(x)
	}
	return out, nil
}

// handleAPISteer handles "POST /api/steer".
func (s *Server) handleAPISteer(w http.ResponseWriter, r *http.Request) {
	var body steerRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &body); err != nil {
		s.apiError(w, r, err)
		return
	}
	req, err := s.steerSetup(r, &body)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	steerer, ok := s.Inference.(features.Steerer)
	if !ok {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "steering is not available for model %q", req.ModelID))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.ComputeTimeout)
	defer cancel()
	if !body.Stream {
		out, err := steerer.Steer(ctx, req, nil)
		if err != nil {
			s.apiError(w, r, contextualize(err, s.Inference.MaxTokens(req.ModelID)))
			return
		}
		writeJSON(w, http.StatusOK, newSteerResponse(out))
		return
	}
	// Neuronpedia's stream: each event's data is the whole response so far,
	// the completion being generated growing by a token each time.
	ev := newEventStream(w)
	sofar := map[string]string{}
	out, err := steerer.Steer(ctx, req, func(typ, text string) {
		sofar[typ] = text
		ev.send(newSteerResponse(sofar))
	})
	s.endStream(w, r, ev, req.ModelID, err, func() any { return newSteerResponse(out) })
}

// steerSetup is what /api/steer and /api/steer-chat do before steering:
// validate the request, check its model can run here, and resolve the
// stored vectors it names.
func (s *Server) steerSetup(r *http.Request, body *steerRequest) (features.SteerRequest, error) {
	req, err := parseSteerRequest(body)
	if err != nil {
		return req, err
	}
	if err := s.checkRunnable(r.Context(), req.ModelID, nil); err != nil {
		return req, err
	}
	return req, s.resolveStoredVectors(r, &req)
}

func newSteerResponse(out map[string]string) steerResponse {
	var resp steerResponse
	if t, ok := out[features.SteerSteered]; ok {
		resp.Steered = &t
	}
	if t, ok := out[features.SteerDefault]; ok {
		resp.Default = &t
	}
	return resp
}

// resolveStoredVectors replaces features that are stored vectors
// (Neuronpedia's hasVector neurons, made by /api/vector/new) with their
// vector at their hook. Neuronpedia refuses a mix of the two kinds.
func (s *Server) resolveStoredVectors(r *http.Request, req *features.SteerRequest) error {
	if s.Features == nil || len(req.Features) == 0 {
		return nil
	}
	var keep []features.SteerFeature
	nVec := 0
	for i, f := range req.Features {
		if s.Inference.CanRun(req.ModelID, f.SourceID) {
			keep = append(keep, f)
			continue
		}
		field := fmt.Sprintf("features[%d]", i)
		key := features.FeatureKey{ModelID: req.ModelID, SourceID: f.SourceID, Index: f.Index}
		ft, err := s.Features.GetFeature(r.Context(), key, features.FeatureOptions{NoActivations: true, NoExplanations: true})
		if features.ErrorCode(err) == features.ENOTFOUND {
			return invalidField(field+".layer", "model %s has no feature %s/%d to steer with", req.ModelID, f.SourceID, f.Index)
		}
		if err != nil {
			return err
		}
		if !ft.HasVector || len(ft.Vector) == 0 || ft.HookName == nil {
			return invalidField(field+".layer", "source %q cannot be steered: it is not loaded for inference and %d is not a stored vector", f.SourceID, f.Index)
		}
		vec, err := float32Vector(field+".vector", ft.Vector)
		if err != nil {
			return err
		}
		req.Vectors = append(req.Vectors, features.SteerVector{Hook: *ft.HookName, Vector: vec, Strength: f.Strength})
		nVec++
	}
	if nVec > 0 && len(keep) > 0 {
		return invalidField("features", "cannot steer with both vectors and SAE features at once")
	}
	req.Features = keep
	return nil
}

// eventStream answers with server-sent events (Neuronpedia's stream: true),
// writing the headers with the first event.
type eventStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func newEventStream(w http.ResponseWriter) *eventStream {
	return &eventStream{w: w, rc: http.NewResponseController(w)}
}

func (e *eventStream) send(v any) {
	if !e.started {
		h := e.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		e.w.WriteHeader(http.StatusOK)
		e.started = true
	}
	b, _ := json.Marshal(v)
	fmt.Fprintf(e.w, "data: %s\n\n", b)
	_ = e.rc.Flush()
}

// endStream ends a streamed computation: an error before the first event
// is an ordinary API error, one after it an {"error": ...} event (the
// status is sent already); success sends final's body as the last event.
func (s *Server) endStream(w http.ResponseWriter, r *http.Request, ev *eventStream, modelID string, err error, final func() any) {
	switch {
	case err != nil && !ev.started:
		s.apiError(w, r, contextualize(err, s.Inference.MaxTokens(modelID)))
	case err != nil:
		ev.send(errorBody{Error: features.ErrorMessage(contextualize(err, s.Inference.MaxTokens(modelID)))})
	default:
		ev.send(final())
	}
}
