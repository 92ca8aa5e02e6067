package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"saex/internal/features"
	"saex/templates"
)

// handleSearchPage handles "GET /search?q=...&model=...&source=...&page=N":
// explanation search (semantic with an embeddings endpoint, else full
// text; the page says which), 20 a page.
func (s *Server) handleSearchPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := templates.SearchView{
		Meta:     s.meta("Search explanations", "search", ""),
		Query:    strings.TrimSpace(q.Get("q")),
		ModelID:  strings.TrimSpace(q.Get("model")),
		SourceID: strings.TrimSpace(q.Get("source")),
		Semantic: s.Explanations.SearchRanking() == features.RankSemantic,
	}
	models, err := s.Catalog.ListModels(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, m := range models {
		v.Models = append(v.Models, m.ID)
	}
	if v.Query == "" {
		s.render(w, r, http.StatusOK, templates.SearchPage(v))
		return
	}
	v.Searched = true
	page, err := pageNumber(q)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	eq := features.ExplanationQuery{ModelID: v.ModelID, Offset: (page - 1) * explanationPageSize, Limit: explanationPageSize}
	if v.SourceID != "" {
		eq.SourceIDs = []string{v.SourceID}
	}
	status := http.StatusOK
	switch query, err := validatePageQuery("q", v.Query); {
	case err != nil:
		status, v.Error = s.userError(r, err)
	case v.ModelID != "" && !features.ValidID(v.ModelID):
		status, v.Error = s.userError(r, invalidField("model", "invalid model id %q", v.ModelID))
	case v.SourceID != "" && !features.ValidSourceID(v.SourceID):
		status, v.Error = s.userError(r, sourceField("source", v.SourceID))
	default:
		eq.Query = query
		hits, total, err := s.Explanations.SearchExplanations(r.Context(), eq)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		v.Total = total
		if total > features.MatchCap {
			// A very common word: its best among the first MatchCap matches.
			v.Total, v.More, total = features.MatchCap, true, features.MatchCap
		}
		for _, h := range hits {
			e := h.Explanation
			hit := templates.SearchHit{
				ModelID: e.ModelID, SourceID: e.SourceID, Index: e.Index,
				URL:         templates.FeatureURL(e.ModelID, e.SourceID, e.Index),
				Description: e.Description, TypeName: e.TypeName, ExplModel: e.ExplanationModelName,
			}
			if h.CosineSimilarity != nil {
				hit.Similarity = strconv.FormatFloat(*h.CosineSimilarity, 'f', 3, 64)
			}
			v.Hits = append(v.Hits, hit)
		}
		link := func(p int) string {
			vals := url.Values{"q": {v.Query}}
			if v.ModelID != "" {
				vals.Set("model", v.ModelID)
			}
			if v.SourceID != "" {
				vals.Set("source", v.SourceID)
			}
			if p > 1 {
				vals.Set("page", strconv.Itoa(p))
			}
			return "/search?" + vals.Encode()
		}
		if page > 1 {
			v.PrevURL = link(page - 1)
		}
		if eq.Offset+len(hits) < total {
			v.NextURL = link(page + 1)
		}
	}
	s.render(w, r, status, templates.SearchPage(v))
}

// validatePageQuery accepts any query of 1 to maxQueryLen characters: the
// search page finds tokens such as "if", ":=" or "(" in labels.
func validatePageQuery(field, q string) (string, error) {
	q = strings.TrimSpace(q)
	if utf8.RuneCountInString(q) > maxQueryLen {
		return "", invalidField(field, "must be at most %d characters", maxQueryLen)
	}
	if q == "" {
		return "", invalidField(field, "type something to search for")
	}
	return q, nil
}
