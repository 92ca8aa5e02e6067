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

// explanationNewRequest is the body of POST /api/explanation/new. It is
// either Neuronpedia's (what SAELens sends), {"feature": {modelId, layer,
// index, explanation, explanationModel?}}, answered {message, url} as
// Neuronpedia does, or saex's flat form, answered with the explanation
// row: the text as "description" (the stored field) or "text" (as in
// uploads), the source as "source" or "layer".
type explanationNewRequest struct {
	Feature *explanationNewFeature `json:"feature"`

	ModelID              string          `json:"modelId"`
	Source               string          `json:"source"`
	Layer                string          `json:"layer"`
	Index                json.RawMessage `json:"index"`
	Description          string          `json:"description"`
	Text                 string          `json:"text"`
	TypeName             string          `json:"typeName"`
	ExplanationModelName string          `json:"explanationModelName"`
}

// explanationNewFeature is the "feature" of Neuronpedia's body.
type explanationNewFeature struct {
	ModelID          string          `json:"modelId"`
	Layer            string          `json:"layer"`
	Source           string          `json:"source"`
	Index            json.RawMessage `json:"index"`
	Explanation      string          `json:"explanation"`
	ExplanationModel string          `json:"explanationModel"`
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
	prefix := "" // field names of Neuronpedia's body are under "feature."
	if f := req.Feature; f != nil {
		prefix = "feature."
		req.ModelID, req.Source, req.Layer, req.Index = f.ModelID, f.Source, f.Layer, f.Index
		req.Description, req.ExplanationModelName = f.Explanation, f.ExplanationModel
	}
	src, err := modelAndSource(req.ModelID, req.Source, req.Layer)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	idx, err := parseIndex(prefix+"index", req.Index)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	text := strings.TrimSpace(req.Description)
	if text == "" {
		text = strings.TrimSpace(req.Text)
	}
	textField := "description"
	if prefix != "" {
		textField = prefix + "explanation"
	}
	if err := checkExplanationText(textField, text); err != nil {
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
	if prefix != "" {
		writeJSON(w, http.StatusOK, struct {
			Message string `json:"message"`
			URL     string `json:"url"`
		}{"Explanation created. Open url to see it.", s.BaseURL + "/" + e.ModelID + "/" + e.SourceID + "/" + itoa(e.Index)})
		return
	}
	writeJSON(w, http.StatusOK, newAPIExplanation(e))
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
