package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	"saex/templates"
)

// maxListTestFeatures bounds how many of a list's features a test text
// runs through (each source is one forward pass, cached per text).
const maxListTestFeatures = 100

// listView builds the page of list {id}.
func (s *Server) listView(r *http.Request) (*templates.ListView, []apiListMember, error) {
	if s.Lists == nil {
		return nil, nil, features.Errorf(features.ENOTFOUND, "lists are not served by this server")
	}
	id := chi.URLParam(r, "id")
	l, members, err := s.listWithMembers(r, id)
	if err != nil {
		if features.ErrorCode(err) == features.EINVALID {
			err = features.Errorf(features.ENOTFOUND, "there is no list %q", id)
		}
		return nil, nil, err
	}
	v := &templates.ListView{Meta: s.meta(l.Name, "", ""), ID: l.ID, Name: l.Name, Description: l.Description,
		TestURL:  "/list/" + l.ID + "/test",
		JSONNote: `JSON: POST /api/list/get {"listId": "` + l.ID + `"}`}
	if l.DefaultTestText != nil {
		v.TestText = *l.DefaultTestText
	}
	for _, m := range members {
		lm := templates.ListMember{Key: m.Key().String(), URL: templates.FeatureURL(m.ModelID, m.SourceID, m.Index), Description: m.Description}
		if m.Neuron != nil && len(m.Neuron.Explanations) > 0 {
			lm.Explanation = m.Neuron.Explanations[0].Description
		}
		v.Members = append(v.Members, lm)
	}
	return v, members, nil
}

// handleListPage handles "GET /list/{id}": a list's features and a test
// text box that runs across them.
func (s *Server) handleListPage(w http.ResponseWriter, r *http.Request) {
	v, _, err := s.listView(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, templates.ListPage(*v))
}

// handleListTest handles "POST /list/{id}/test": runs the form's text
// through every feature of the list (the first 100) and shows each one's
// activations; htmx gets the fragment, a plain post the whole page.
func (s *Server) handleListTest(w http.ResponseWriter, r *http.Request) {
	v, members, err := s.listView(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	status := http.StatusOK
	var tv templates.ListTestView
	if err := s.parseForm(w, r); err != nil {
		status, tv.Error = s.userError(r, err)
	} else if text := r.PostForm.Get("text"); strings.TrimSpace(text) == "" {
		status, tv.Error = s.userError(r, invalidField("text", "type some text to test"))
	} else {
		v.TestText = text
		for i, m := range members {
			if i == maxListTestFeatures {
				break
			}
			row := templates.ListTestRow{Key: m.Key().String(), URL: templates.FeatureURL(m.ModelID, m.SourceID, m.Index)}
			act, err := s.featureActivation(r.Context(), m.Key(), text, true)
			switch {
			case err == nil:
				scale := float64(act.MaxValue)
				if m.Neuron != nil {
					scale = max(scale, float64(m.Neuron.MaxActApprox))
				}
				row.Tokens = templates.Tokens(act.pieces, act.Values, scale)
				row.MaxValue = templates.Num(float64(act.MaxValue))
			case features.ErrorCode(err) == features.EUNPROCESSABLE:
				// The text is too long for the model: say so once for the whole list.
				status, tv.Error = s.userError(r, err)
			default:
				// Members of models or sources without inference say why
				// and the others still run.
				_, row.Error = s.userError(r, err)
			}
			if tv.Error != "" {
				break
			}
			tv.Rows = append(tv.Rows, row)
		}
	}
	if isHTMX(r) {
		s.render(w, r, status, templates.ListTestResult(tv))
		return
	}
	v.Test = &tv
	s.render(w, r, status, templates.ListPage(*v))
}
