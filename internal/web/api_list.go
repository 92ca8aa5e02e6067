package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"saex/internal/features"
)

// Neuronpedia's /api/list/* routes: named lists of features kept per API
// key, shown at /list/{id}.

// Bounds of lists.
const (
	maxListAdd         = 100 // features added a request (Neuronpedia's)
	maxListNameLen     = 200
	maxListDescLen     = 2000
	maxListTestTextLen = 4000
	maxMemberDescLen   = 1000
)

// listNewRequest is the body of POST /api/list/new.
type listNewRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	TestText    *string `json:"testText"`
}

// apiList is a list as Neuronpedia returns it: the row and its page's URL.
type apiList struct {
	*features.List
	URL string `json:"url"`
}

func (s *Server) newAPIList(l *features.List) apiList {
	return apiList{List: l, URL: s.BaseURL + "/list/" + l.ID}
}

// handleAPIListNew handles "POST /api/list/new": creates a list owned by
// the API key.
func (s *Server) handleAPIListNew(w http.ResponseWriter, r *http.Request) {
	if s.Lists == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "lists are not enabled on this server"))
		return
	}
	var req listNewRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	l, err := req.list(owner(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.Lists.CreateList(r.Context(), l); err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.newAPIList(l))
}

// list checks the body and returns the list to create, owned by owner.
func (req *listNewRequest) list(owner string) (*features.List, error) {
	if req.Name == nil {
		return nil, invalidField("name", "is required")
	}
	l := &features.List{Name: strings.TrimSpace(*req.Name), UserID: owner}
	if err := checkLabel("name", l.Name, 1, maxListNameLen); err != nil {
		return nil, err
	}
	if req.Description != nil {
		if err := checkLabel("description", *req.Description, 0, maxListDescLen); err != nil {
			return nil, err
		}
		l.Description = *req.Description
	}
	if req.TestText != nil {
		if err := checkLabel("testText", *req.TestText, 1, maxListTestTextLen); err != nil {
			return nil, err
		}
		l.DefaultTestText = req.TestText
	}
	return l, nil
}

// listIDRequest is the body of POST /api/list/get.
type listIDRequest struct {
	ListID string `json:"listId"`
}

// apiListMember is a member of a list with its feature row (explanations,
// no examples), as Neuronpedia's list/get returns them.
type apiListMember struct {
	*features.ListFeature
	Neuron *apiFeature `json:"neuron"`
}

// listWithMembers reads a list and its members' feature rows.
func (s *Server) listWithMembers(r *http.Request, id string) (*features.List, []apiListMember, error) {
	if id == "" {
		return nil, nil, invalidField("listId", "is required")
	}
	if len(id) > 64 || !features.ValidID(id) {
		return nil, nil, invalidField("listId", "invalid list id %q", id)
	}
	l, members, err := s.Lists.GetList(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]features.FeatureKey, len(members))
	for i, m := range members {
		keys[i] = m.Key()
	}
	rows := map[features.FeatureKey]*apiFeature{}
	if len(keys) > 0 {
		fs, err := s.Features.GetFeatures(r.Context(), keys, features.FeatureOptions{NoActivations: true})
		if err != nil {
			return nil, nil, err
		}
		for _, f := range fs {
			af := newAPIFeature(f)
			rows[f.Key()] = &af
		}
	}
	out := make([]apiListMember, len(members))
	for i, m := range members {
		out[i] = apiListMember{ListFeature: m, Neuron: rows[m.Key()]}
	}
	return l, out, nil
}

// handleAPIListGet handles "POST /api/list/get": a list with its members.
func (s *Server) handleAPIListGet(w http.ResponseWriter, r *http.Request) {
	if s.Lists == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "lists are not enabled on this server"))
		return
	}
	var req listIDRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	l, members, err := s.listWithMembers(r, req.ListID)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		apiList
		Neurons []apiListMember `json:"neurons"`
	}{s.newAPIList(l), members})
}

// listAddRequest is the body of POST /api/list/add-features.
type listAddRequest struct {
	ListID        string             `json:"listId"`
	FeaturesToAdd []listFeatureInput `json:"featuresToAdd"`
}

// listFeatureInput names a feature to add to or remove from a list.
type listFeatureInput struct {
	ModelID     string          `json:"modelId"`
	Layer       string          `json:"layer"`
	Source      string          `json:"source"` // accepted in place of layer
	Index       json.RawMessage `json:"index"`
	Description *string         `json:"description"`
}

// key checks the feature named by in; field prefixes error field names.
func (in *listFeatureInput) key(field string) (features.FeatureKey, error) {
	if in.ModelID == "" {
		return features.FeatureKey{}, invalidField(field+"modelId", "is required")
	}
	if !features.ValidID(in.ModelID) {
		return features.FeatureKey{}, invalidField(field+"modelId", "invalid model id %q", in.ModelID)
	}
	src := in.Layer
	if src == "" {
		src = in.Source
	}
	if !features.ValidID(src) {
		return features.FeatureKey{}, invalidField(field+"layer", "is required: a source id, got %q", src)
	}
	idx, err := parseIndex(field+"index", in.Index)
	if err != nil {
		return features.FeatureKey{}, err
	}
	return features.FeatureKey{ModelID: in.ModelID, SourceID: src, Index: idx}, nil
}

// handleAPIListAddFeatures handles "POST /api/list/add-features": adds at
// most 100 features, all or none, and answers the rows added.
func (s *Server) handleAPIListAddFeatures(w http.ResponseWriter, r *http.Request) {
	if s.Lists == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "lists are not enabled on this server"))
		return
	}
	var req listAddRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	members, err := req.members()
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	added, err := s.Lists.AddListFeatures(r.Context(), req.ListID, owner(r), members)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orEmpty(added))
}

// members checks the body and returns the memberships to add.
func (req *listAddRequest) members() ([]*features.ListFeature, error) {
	if req.ListID == "" {
		return nil, invalidField("listId", "is required")
	}
	switch {
	case req.FeaturesToAdd == nil:
		return nil, invalidField("featuresToAdd", "is required: an array of {modelId, layer, index, description}")
	case len(req.FeaturesToAdd) == 0:
		return nil, invalidField("featuresToAdd", "must not be empty")
	case len(req.FeaturesToAdd) > maxListAdd:
		return nil, invalidField("featuresToAdd", "too many features to add: at most %d a request, got %d", maxListAdd, len(req.FeaturesToAdd))
	}
	members := make([]*features.ListFeature, len(req.FeaturesToAdd))
	for i, in := range req.FeaturesToAdd {
		field := "featuresToAdd" + fieldAt("", i) + "."
		key, err := in.key(field)
		if err != nil {
			return nil, err
		}
		m := &features.ListFeature{ModelID: key.ModelID, SourceID: key.SourceID, Index: key.Index}
		if in.Description != nil {
			if err := checkLabel(field+"description", *in.Description, 0, maxMemberDescLen); err != nil {
				return nil, err
			}
			m.Description = *in.Description
		}
		members[i] = m
	}
	return members, nil
}

// listRemoveRequest is the body of POST /api/list/remove.
type listRemoveRequest struct {
	ListID string `json:"listId"`
	listFeatureInput
}

// handleAPIListRemoveFeature handles "POST /api/list/remove" (and its
// alias remove-feature): removes one member and answers it.
func (s *Server) handleAPIListRemoveFeature(w http.ResponseWriter, r *http.Request) {
	if s.Lists == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "lists are not enabled on this server"))
		return
	}
	var req listRemoveRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	if req.ListID == "" {
		s.apiError(w, r, invalidField("listId", "is required"))
		return
	}
	key, err := req.key("")
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := s.Lists.RemoveListFeature(r.Context(), req.ListID, owner(r), key); err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &features.ListFeature{ListID: req.ListID, ModelID: key.ModelID, SourceID: key.SourceID, Index: key.Index})
}

// handleAPIListOwned handles "POST /api/list/list" (the client's) and
// "/api/list/list-owned": the API key's lists, newest first.
func (s *Server) handleAPIListOwned(w http.ResponseWriter, r *http.Request) {
	if s.Lists == nil {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "lists are not enabled on this server"))
		return
	}
	ls, err := s.Lists.ListsOwned(r.Context(), owner(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	out := make([]apiList, len(ls))
	for i, l := range ls {
		out[i] = s.newAPIList(l)
	}
	writeJSON(w, http.StatusOK, out)
}
