package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"saex/internal/features"
)

// autoInterpUnconfigured is what the auto-interp routes answer when the
// server has no LLM endpoint: what to set, never a crash.
const autoInterpUnconfigured = "auto-interp is not configured on this server: set SAEX_LLM_BASE_URL (an OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 or http://localhost:11434/v1) and SAEX_LLM_MODEL, plus SAEX_LLM_API_KEY if the endpoint needs a key, then restart saex (docs/autointerp.md)"

// explanationGenerateRequest is Neuronpedia's POST /api/explanation/generate
// body. useOpenRouter is accepted and ignored: the server's endpoint is used.
type explanationGenerateRequest struct {
	ModelID              string          `json:"modelId"`
	Layer                string          `json:"layer"`
	Source               string          `json:"source"`
	Index                json.RawMessage `json:"index"`
	ExplanationType      string          `json:"explanationType"`
	ExplanationModelName string          `json:"explanationModelName"`
	UseOpenRouter        bool            `json:"useOpenRouter"`
}

// handleAPIExplanationGenerate explains one feature with the configured
// LLM and stores the explanation (a write: the hardening requires a key).
func (s *Server) handleAPIExplanationGenerate(w http.ResponseWriter, r *http.Request) {
	// A read-only key may not spend the server's LLM budget.
	if err := AuthorizeWrite(r.Context()); err != nil {
		s.apiError(w, r, err)
		return
	}
	var req explanationGenerateRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
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
	if err := checkName("explanationModelName", req.ExplanationModelName); err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := checkName("explanationType", req.ExplanationType); err != nil {
		s.apiError(w, r, err)
		return
	}
	// Bad ids are the client's mistake whatever the server's setup: 400 first.
	if s.AutoInterp == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, autoInterpUnconfigured))
		return
	}
	author := apiExplanationAuthor
	if k := APIKeyFrom(r.Context()); k != nil && k.Name != "" {
		author = k.Name
	}
	e, err := s.AutoInterp.Generate(r.Context(), features.GenerateRequest{
		Key:             features.FeatureKey{ModelID: req.ModelID, SourceID: src, Index: idx},
		ExplanationType: req.ExplanationType, ExplanationModel: req.ExplanationModelName, AuthorID: author})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiExplanation{Explanation: e, Scores: nonNilScores(e.Scores), Source: e.SourceID})
}

// explanationScoreRequest is Neuronpedia's POST /api/explanation/score body.
type explanationScoreRequest struct {
	ExplanationID string `json:"explanationId"`
	ScorerModel   string `json:"scorerModel"`
	ScorerType    string `json:"scorerType"`
}

// handleAPIExplanationScore scores a stored explanation and answers
// {"score": {...}} as Neuronpedia does.
func (s *Server) handleAPIExplanationScore(w http.ResponseWriter, r *http.Request) {
	// A read-only key may not spend the server's LLM budget.
	if err := AuthorizeWrite(r.Context()); err != nil {
		s.apiError(w, r, err)
		return
	}
	var req explanationScoreRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	if strings.TrimSpace(req.ExplanationID) == "" {
		s.apiError(w, r, invalidField("explanationId", "is required"))
		return
	}
	if strings.TrimSpace(req.ScorerType) == "" {
		s.apiError(w, r, invalidField("scorerType", "is required (eleuther_recall, eleuther_fuzz or eleuther_embedding)"))
		return
	}
	for field, v := range map[string]string{"explanationId": req.ExplanationID, "scorerType": req.ScorerType, "scorerModel": req.ScorerModel} {
		if err := checkName(field, v); err != nil {
			s.apiError(w, r, err)
			return
		}
	}
	// Bad ids are the client's mistake whatever the server's setup: 400 first.
	if s.AutoInterp == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, autoInterpUnconfigured))
		return
	}
	by := apiExplanationAuthor
	if k := APIKeyFrom(r.Context()); k != nil && k.Name != "" {
		by = k.Name
	}
	sc, err := s.AutoInterp.Score(r.Context(), features.ScoreRequest{ExplanationID: req.ExplanationID,
		ScorerType: req.ScorerType, ScorerModel: req.ScorerModel, InitiatedBy: by})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"score": sc})
}

// checkName checks a short name field: at most 128 bytes of UTF-8 without
// control characters.
func checkName(field, v string) error {
	if len(v) > 128 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }) {
		return invalidField(field, "must be at most 128 bytes of text without control characters")
	}
	return nil
}

func nonNilScores(s []*features.ExplanationScore) []*features.ExplanationScore {
	if s == nil {
		return []*features.ExplanationScore{}
	}
	return s
}
