package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"saex/internal/features"
)

// Defaults of explanations added through the API: written by a person
// unless the caller names a method and an explainer.
const (
	humanExplanationType  = "human"
	humanExplanationModel = "human"
	apiExplanationAuthor  = "api"
)

// explanationNewRequest is the body of POST /api/explanation/new. The text
// may come as "description" (the stored field) or "text" (as in uploads),
// the source as "source" or "layer".
type explanationNewRequest struct {
	ModelID              string          `json:"modelId"`
	Source               string          `json:"source"`
	Layer                string          `json:"layer"`
	Index                json.RawMessage `json:"index"`
	Description          string          `json:"description"`
	Text                 string          `json:"text"`
	TypeName             string          `json:"typeName"`
	ExplanationModelName string          `json:"explanationModelName"`
}

// handleAPIExplanationNew handles "POST /api/explanation/new": adds an
// explanation to an existing feature. It is a write (the hardening puts an
// API key in front of it); the key's name becomes the author.
func (s *Server) handleAPIExplanationNew(w http.ResponseWriter, r *http.Request) {
	if s.Explanations == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "adding explanations is not enabled on this server"))
		return
	}
	var req explanationNewRequest
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
	text := strings.TrimSpace(req.Description)
	if text == "" {
		text = strings.TrimSpace(req.Text)
	}
	if err := checkExplanationText("description", text); err != nil {
		s.apiError(w, r, err)
		return
	}
	e := &features.Explanation{ModelID: req.ModelID, SourceID: src, Index: idx, Description: text,
		TypeName: or(req.TypeName, humanExplanationType), ExplanationModelName: or(req.ExplanationModelName, humanExplanationModel),
		AuthorID: apiExplanationAuthor}
	if k := APIKeyFrom(r.Context()); k != nil && k.Name != "" {
		e.AuthorID = k.Name
	}
	for field, v := range map[string]string{"typeName": e.TypeName, "explanationModelName": e.ExplanationModelName} {
		if len(v) > 128 || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			s.apiError(w, r, invalidField(field, "must be valid UTF-8 text of at most 128 bytes"))
			return
		}
	}
	// Explanations are added, never replaced: any key that may write may
	// add one to any feature, as on Neuronpedia.
	if err := AuthorizeWrite(r.Context()); err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.Explanations.CreateExplanation(r.Context(), e); err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiExplanation{Explanation: e, Source: e.SourceID})
}

// checkExplanationText checks the text of an explanation given by a client
// (added or uploaded): not empty, valid UTF-8 without NUL (PostgreSQL's
// text cannot hold it), at most maxExplanationChars characters.
func checkExplanationText(field, text string) error {
	n := utf8.RuneCountInString(text)
	switch {
	case n == 0:
		return invalidField(field, "must not be empty")
	case !utf8.ValidString(text) || strings.ContainsRune(text, 0):
		return invalidField(field, "must be valid UTF-8 text without NUL")
	case n > maxExplanationChars:
		return invalidField(field, "must be at most %d characters, got %d", maxExplanationChars, n)
	}
	return nil
}

// or returns v, or def when v is empty.
func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
