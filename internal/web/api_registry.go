package web

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
)

// Neuronpedia's /api/model/* and /api/source-set/* routes: what its Python
// client's upload_features notebook calls before uploading features.

// owner returns the id of the API key that authenticated the request: the
// owner recorded on rows a request creates ("" when the server runs
// without keys).
func owner(r *http.Request) string {
	if k := APIKeyFrom(r.Context()); k != nil {
		return k.ID
	}
	return ""
}

// ownerName is the key's name, shown where Neuronpedia shows a user name.
func ownerName(r *http.Request) string {
	if k := APIKeyFrom(r.Context()); k != nil {
		return k.Name
	}
	return ""
}

// Neuronpedia's rules for ids created through the API.
var (
	newModelID     = regexp.MustCompile(`^[a-z][a-z0-9.-]*[a-z0-9]$|^[a-z]$`)
	newSourceSetID = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$`)
)

// Bounds of the registry routes (Neuronpedia's).
const (
	maxModelIDLen       = 32
	maxModelLayers      = 127
	maxDisplayNameLen   = 64
	maxSetDescription   = 128
	maxURLLen           = 2048
	defaultVisibilityUp = "UNLISTED" // rows created through the API are not listed on the home page
)

// checkURL accepts an absolute http(s) URL or nothing.
func checkURL(field string, u *string) error {
	if u == nil || *u == "" {
		return nil
	}
	p, err := url.Parse(*u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || len(*u) > maxURLLen || !utf8.ValidString(*u) {
		return invalidField(field, "must be a valid http(s) URL")
	}
	return nil
}

// checkLabel checks a short free text given by a client.
func checkLabel(field, v string, minLen, maxLen int) error {
	n := utf8.RuneCountInString(v)
	switch {
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return invalidField(field, "must be valid UTF-8 text without NUL")
	case n < minLen:
		return invalidField(field, "must be at least %d characters", minLen)
	case n > maxLen:
		return invalidField(field, "must be at most %d characters, got %d", maxLen, n)
	}
	return nil
}

// handleAPIModelList handles "POST /api/model/list": every model.
func (s *Server) handleAPIModelList(w http.ResponseWriter, r *http.Request) {
	s.handleAPIModels(w, r)
}

// modelGetRequest is the body of POST /api/model/get.
type modelGetRequest struct {
	ID string `json:"id"`
}

// apiSourceSet is a source set with its sources, as Neuronpedia returns it.
type apiSourceSet struct {
	*features.SourceSet
	URLs    []string           `json:"urls"`
	Sources []*features.Source `json:"sources"`
}

func newAPISourceSet(set *features.SourceSet, srcs []*features.Source) apiSourceSet {
	return apiSourceSet{SourceSet: set, URLs: orEmpty(set.URLs), Sources: orEmpty(srcs)}
}

// handleAPIModelGet handles "POST /api/model/get": a model with its source
// sets and their sources.
func (s *Server) handleAPIModelGet(w http.ResponseWriter, r *http.Request) {
	var req modelGetRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	if req.ID == "" {
		s.apiError(w, r, invalidField("id", "is required"))
		return
	}
	if !features.ValidID(req.ID) {
		s.apiError(w, r, invalidField("id", "invalid model id %q", req.ID))
		return
	}
	m, err := s.Catalog.GetModel(r.Context(), req.ID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	sets, err := s.Catalog.ListSourceSets(r.Context(), req.ID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	srcs, err := s.Catalog.ListSources(r.Context(), req.ID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := struct {
		*features.Model
		SourceSets []apiSourceSet `json:"sourceSets"`
	}{Model: m, SourceSets: []apiSourceSet{}}
	for _, set := range sets {
		var mine []*features.Source
		for _, src := range srcs {
			if src.SetName == set.Name {
				mine = append(mine, src)
			}
		}
		out.SourceSets = append(out.SourceSets, newAPISourceSet(set, mine))
	}
	writeJSON(w, http.StatusOK, out)
}

// modelNewRequest is the body of POST /api/model/new.
type modelNewRequest struct {
	ID          string          `json:"id"`
	Layers      json.RawMessage `json:"layers"`
	DisplayName *string         `json:"displayName"`
	URL         *string         `json:"url"`
}

// handleAPIModelNew handles "POST /api/model/new": creates an UNLISTED
// model owned by the API key, as Neuronpedia does.
func (s *Server) handleAPIModelNew(w http.ResponseWriter, r *http.Request) {
	if s.Registry == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "creating models is not enabled on this server"))
		return
	}
	var req modelNewRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	m, err := req.model(owner(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.Registry.CreateModel(r.Context(), m); err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// model checks the body and returns the model to create, owned by owner.
func (req *modelNewRequest) model(owner string) (*features.Model, error) {
	switch {
	case req.ID == "":
		return nil, invalidField("id", "is required")
	case len(req.ID) < 2 || len(req.ID) > maxModelIDLen:
		return nil, invalidField("id", "must be 2 to %d characters", maxModelIDLen)
	case !newModelID.MatchString(req.ID) || strings.Contains(req.ID, "--") || strings.Contains(req.ID, ".."):
		return nil, invalidField("id", "must hold only lowercase letters, digits, hyphens and periods, start with a letter, not end with a hyphen or period, and not double them")
	}
	layers, err := parseInt("layers", req.Layers, 1, maxModelLayers)
	if err != nil {
		return nil, err
	}
	name := req.ID
	if req.DisplayName != nil {
		if err := checkLabel("displayName", *req.DisplayName, 1, maxDisplayNameLen); err != nil {
			return nil, err
		}
		name = *req.DisplayName
	}
	if err := checkURL("url", req.URL); err != nil {
		return nil, err
	}
	var website *string
	if req.URL != nil && *req.URL != "" {
		website = req.URL
	}
	return &features.Model{ID: req.ID, DisplayName: name, DisplayNameShort: name, CreatorID: owner, Layers: layers,
		Visibility: defaultVisibilityUp, Owner: "custom", Website: website}, nil
}

// sourceSetNewRequest is the body of POST /api/source-set/new.
type sourceSetNewRequest struct {
	Name        string  `json:"name"`
	ModelID     string  `json:"modelId"`
	Description *string `json:"description"`
	URL         *string `json:"url"`
}

// handleAPISourceSetNew handles "POST /api/source-set/new": creates a
// source set owned by the API key with one source "{layer}-{name}" per
// layer of the model, and answers the set with its sources.
func (s *Server) handleAPISourceSetNew(w http.ResponseWriter, r *http.Request) {
	if s.Registry == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "creating source sets is not enabled on this server"))
		return
	}
	var req sourceSetNewRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	set, err := req.sourceSet(owner(r), ownerName(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	srcs, err := s.Registry.CreateSourceSet(r.Context(), set)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newAPISourceSet(set, srcs))
}

// sourceSet checks the body and returns the source set to create.
func (req *sourceSetNewRequest) sourceSet(owner, ownerName string) (*features.SourceSet, error) {
	switch {
	case req.Name == "":
		return nil, invalidField("name", "is required")
	case len(req.Name) > 100 || !newSourceSetID.MatchString(req.Name) || strings.Contains(req.Name, "--"):
		return nil, invalidField("name", "must hold only lowercase letters, digits and hyphens (at most 100), start with a letter or digit, not end with a hyphen, and not double them")
	case req.Name == "neurons":
		return nil, invalidField("name", "cannot be \"neurons\"")
	case req.ModelID == "":
		return nil, invalidField("modelId", "is required")
	case !features.ValidID(req.ModelID):
		return nil, invalidField("modelId", "invalid model id %q", req.ModelID)
	}
	desc := req.Name
	if req.Description != nil && *req.Description != "" {
		if err := checkLabel("description", *req.Description, 0, maxSetDescription); err != nil {
			return nil, err
		}
		desc = *req.Description
	}
	if err := checkURL("url", req.URL); err != nil {
		return nil, err
	}
	urls := []string{}
	if req.URL != nil && *req.URL != "" {
		urls = []string{*req.URL}
	}
	return &features.SourceSet{ModelID: req.ModelID, Name: req.Name, Description: desc, Type: "Custom",
		CreatorName: ownerName, CreatorID: owner, OwnerKeyID: owner, HasDashboards: true, Visibility: defaultVisibilityUp,
		URLs: urls, DefaultRange: 1, DefaultShowBreaks: true}, nil
}

// handleAPISourceSetGet handles "GET /api/source-set/{model}/{name}": a
// source set with its sources.
func (s *Server) handleAPISourceSetGet(w http.ResponseWriter, r *http.Request) {
	if s.Registry == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "source sets are not served by this server"))
		return
	}
	modelID, name := chi.URLParam(r, "model"), chi.URLParam(r, "name")
	if !features.ValidID(modelID) {
		s.apiError(w, r, invalidField("modelId", "invalid model id %q", modelID))
		return
	}
	if !features.ValidID(name) {
		s.apiError(w, r, invalidField("name", "invalid source set name %q", name))
		return
	}
	set, srcs, err := s.Registry.GetSourceSet(r.Context(), modelID, name)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newAPISourceSet(set, srcs))
}

// parseInt reads a required integer field in [lo, hi], given as a JSON
// number or a numeric string (as yup's number() accepts).
func parseInt(field string, raw json.RawMessage, lo, hi int) (int, error) {
	if isNull(raw) {
		return 0, invalidField(field, "is required")
	}
	var x float64
	if err := json.Unmarshal(raw, &x); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, invalidField(field, "must be an integer")
		}
		if x, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, invalidField(field, "must be an integer")
		}
	}
	if x != math.Trunc(x) || x < float64(lo) || x > float64(hi) {
		return 0, invalidField(field, "must be an integer in %d..%d", lo, hi)
	}
	return int(x), nil
}
