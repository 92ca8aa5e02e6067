package web

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	"saex/templates"
)

// browserPageSize is the number of features a source page shows.
const browserPageSize = 25

// handleSourcePage handles "GET /{model}/{source}": the paged feature
// browser (?sort=index|maxact|density|score:<scorer>&desc=1&hidedead=1&q=...&page=N), and
// jump-to (?jump=N redirects to the feature).
func (s *Server) handleSourcePage(w http.ResponseWriter, r *http.Request) {
	modelID, sourceID := chi.URLParam(r, "model"), chi.URLParam(r, "source")
	if !features.ValidID(modelID) || !features.ValidSourceID(sourceID) {
		s.pageError(w, r, features.Errorf(features.ENOTFOUND, "There is no source %s of model %s.", clipText(sourceID, maxEchoed), clipText(modelID, maxEchoed)))
		return
	}
	src, err := s.Catalog.GetSource(r.Context(), modelID, sourceID)
	if err != nil {
		if features.ErrorCode(err) == features.ENOTFOUND {
			err = features.Errorf(features.ENOTFOUND, "There is no source %s of model %s.", clipText(sourceID, maxEchoed), clipText(modelID, maxEchoed))
		}
		s.pageError(w, r, err)
		return
	}
	q := r.URL.Query()
	v := templates.SourceView{Meta: s.meta(modelID+" · "+sourceID, "home", modelID), Source: src, Build: buildBanner(src)}
	// The page still renders with a bad jump, under a 4xx naming the field.
	status := http.StatusOK
	if j := strings.TrimSpace(q.Get("jump")); j != "" {
		idx, err := features.ParseIndex(j)
		switch {
		case err != nil:
			status = http.StatusBadRequest
			v.JumpError = "not a feature index (jump): " + clip(j)
		case src.NumFeatures > 0 && idx >= src.NumFeatures:
			status = http.StatusNotFound
			v.JumpError = "this source has features 0 to " + strconv.Itoa(src.NumFeatures-1)
		default:
			http.Redirect(w, r, templates.FeatureURL(modelID, sourceID, idx), http.StatusSeeOther)
			return
		}
	}
	f := features.FeatureFilter{ModelID: modelID, SourceID: sourceID, Limit: browserPageSize}
	sortParam := q.Get("sort")
	switch {
	case sortParam == "maxact":
		f.Sort = features.SortByMaxAct
	case sortParam == "density":
		f.Sort = features.SortByDensity
	case strings.HasPrefix(sortParam, "score:"):
		// The store refuses a scorer name that cannot be one (400, naming the sort).
		f.Sort = features.FeatureSort(sortParam)
	default:
		f.Sort = features.SortByIndex
	}
	scoreType, byScore := f.Sort.ScoreType()
	f.Desc = q.Get("desc") == "1"
	f.HideDead = q.Get("hidedead") == "1"
	query, err := filterText("q", q.Get("q"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f.Query = query
	page, err := pageNumber(q)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f.Offset = (page - 1) * browserPageSize
	rows, total, err := s.Features.ListFeatures(r.Context(), f)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if total > features.MatchCap {
		// A filter on a very common word: its first MatchCap matches.
		total, v.More = features.MatchCap, true
	}
	v.Total, v.Page, v.Sort, v.Desc, v.HideDead, v.Query = total, page, string(f.Sort), f.Desc, f.HideDead, f.Query
	v.Pages = max(1, (total+browserPageSize-1)/browserPageSize)
	if page > v.Pages {
		// Past the end (an old link, a typed number): go to the last page.
		q.Set("page", strconv.Itoa(v.Pages))
		http.Redirect(w, r, templates.SourceURL(modelID, sourceID)+"?"+q.Encode(), http.StatusSeeOther)
		return
	}
	for _, fs := range rows {
		row := templates.SourceRow{
			Index:       fs.Key.Index,
			URL:         templates.FeatureURL(modelID, sourceID, fs.Key.Index),
			MaxAct:      templates.Num(fs.MaxActApprox),
			Density:     templates.Percent(fs.FracNonzero),
			Explanation: fs.Explanation,
			Dead:        fs.MaxActApprox <= 0,
		}
		if byScore {
			row.Score = "–"
			if fs.Score != nil {
				row.Score = strconv.FormatFloat(*fs.Score, 'f', 3, 64)
			}
		}
		toks := make([]string, 0, len(fs.TopTokens))
		for _, t := range fs.TopTokens {
			toks = append(toks, templates.DisplayToken(t))
		}
		row.TopTokens = strings.Join(toks, " · ")
		v.Rows = append(v.Rows, row)
	}
	base := templates.SourceURL(modelID, sourceID)
	link := func(sort string, desc bool, page int) string {
		vals := url.Values{}
		if sort != string(features.SortByIndex) {
			vals.Set("sort", sort)
		}
		if desc {
			vals.Set("desc", "1")
		}
		if f.HideDead {
			vals.Set("hidedead", "1")
		}
		if f.Query != "" {
			vals.Set("q", f.Query)
		}
		if page > 1 {
			vals.Set("page", strconv.Itoa(page))
		}
		if len(vals) == 0 {
			return base
		}
		return base + "?" + vals.Encode()
	}
	if page > 1 {
		v.PrevURL = link(v.Sort, v.Desc, page-1)
		v.FirstURL = link(v.Sort, v.Desc, 1)
	}
	if page < v.Pages {
		v.NextURL = link(v.Sort, v.Desc, page+1)
		v.LastURL = link(v.Sort, v.Desc, v.Pages)
	}
	if v.Pages > 1 {
		for _, n := range pageNumbers(page, v.Pages) {
			if n == 0 {
				v.PageLinks = append(v.PageLinks, templates.PageLink{Gap: true})
				continue
			}
			v.PageLinks = append(v.PageLinks, templates.PageLink{Num: n, URL: link(v.Sort, v.Desc, n), Current: n == page})
		}
	}
	if dh, ok := s.Features.(features.DensityHistogrammer); ok && f.Query == "" {
		h, err := dh.SourceDensityHistogram(r.Context(), modelID, sourceID)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		v.DensityHist, v.DeadCount = densityChart(h), h.Dead
	}
	cols := []string{"index", "maxact", "density"}
	if tl, ok := s.Features.(features.ScoreTypeLister); ok {
		types, err := tl.SourceScoreTypes(r.Context(), modelID, sourceID)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		for _, typ := range types {
			v.ScoreSorts = append(v.ScoreSorts, templates.SortOption{Value: string(features.SortByScore(typ)), Label: scoreLabel(typ)})
		}
	}
	if byScore {
		v.ScoreLabel = scoreLabel(scoreType)
		cols = append(cols, v.Sort)
		// A scorer the source has no scores of (an old link) stays selected.
		if !slices.ContainsFunc(v.ScoreSorts, func(o templates.SortOption) bool { return o.Value == v.Sort }) {
			v.ScoreSorts = append(v.ScoreSorts, templates.SortOption{Value: v.Sort, Label: v.ScoreLabel})
		}
	}
	v.SortLinks = make(map[string]string, len(cols))
	for _, col := range cols {
		// Clicking the current column flips the order; a new column starts
		// descending, except index which reads naturally ascending.
		desc := col != "index"
		if col == v.Sort {
			desc = !v.Desc
		}
		v.SortLinks[col] = link(col, desc, 1)
	}
	if v.AutoInterp, err = s.autoInterpPanel(r, src); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, status, templates.SourcePage(v))
}

// pageNumbers lists the pages a pager shows around page cur of n: the
// first, the last and two each side of cur, 0 marking a gap.
func pageNumbers(cur, n int) []int {
	var out []int
	last := 0
	for p := 1; p <= n; p++ {
		if p == 1 || p == n || (p >= cur-2 && p <= cur+2) {
			if last != 0 && p > last+1 {
				out = append(out, 0)
			}
			out = append(out, p)
			last = p
		}
	}
	return out
}

// densityChart draws a source's density histogram on a log axis labelled
// in percent.
func densityChart(h *features.DensityHistogram) *templates.Histogram {
	heights := make([]float64, len(h.Counts))
	centres := make([]float64, len(h.Counts))
	for i, c := range h.Counts {
		heights[i] = float64(c)
		centres[i] = h.MinLog10 + (float64(i)+0.5)*h.Step
	}
	c := templates.NewHistogram("Density of live features (share of tokens, log scale)", heights, centres, false)
	if c == nil {
		return nil
	}
	pct := func(log10 float64) string { return templates.Percent(math.Pow(10, log10)) }
	for i := range c.Bars {
		lo := h.MinLog10 + float64(i)*h.Step
		c.Bars[i].Title = pct(lo) + " to " + pct(lo+h.Step) + ": " + strconv.Itoa(h.Counts[i]) + " features"
	}
	c.MinLabel, c.MaxLabel = pct(h.MinLog10), pct(h.MinLog10+float64(len(h.Counts))*h.Step)
	return c
}
