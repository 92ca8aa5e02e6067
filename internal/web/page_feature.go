package web

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/errgroup"

	"saex/internal/features"
	"saex/templates"
)

// Feature-page layout constants.
const (
	contextWindow  = 8  // tokens each side of the max in the short context view
	maxNeighbours  = 10 // decoder-cosine neighbours listed
	maxLogitTokens = 10 // rows of each logit table
)

// handleFeaturePage handles "GET /{model}/{source}/{index}": the feature
// dashboard; ?ctx=full shows the examples' full contexts.
func (s *Server) handleFeaturePage(w http.ResponseWriter, r *http.Request) {
	if canonicalIndex(w, r) {
		return
	}
	var t *cacheTicket
	if key, err := pathKey(r); err == nil {
		kind := respFeaturePage
		if r.URL.Query().Get("ctx") == "full" {
			kind = respFeaturePageFull
		}
		var done bool
		if t, done = s.cached(w, r, respKey{kind: kind, model: key.ModelID, source: key.SourceID, index: key.Index}); done {
			return
		}
	}
	v, err := s.featureView(r.Context(), r, t)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if t == nil {
		s.render(w, r, http.StatusOK, templates.FeaturePage(*v))
		return
	}
	buf := gzipBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuf {
			gzipBufs.Put(buf)
		}
	}()
	if err := templates.FeaturePage(*v).Render(r.Context(), buf); err != nil {
		s.reqLogger(r).Warn("render failed", "path", r.URL.Path, "error", err)
		s.pageError(w, r, features.Wrap(features.EINTERNAL, err, "render %s", r.URL.Path))
		return
	}
	s.writeCached(w, t, buf.Bytes())
}

// handleFeatureActivations handles "GET /{model}/{source}/{index}/activations":
// the examples section alone (an htmx fragment), short or ?ctx=full.
func (s *Server) handleFeatureActivations(w http.ResponseWriter, r *http.Request) {
	key, err := pathKey(r)
	if err != nil {
		s.pageError(w, r, noFeatureAt(r, err))
		return
	}
	f, err := s.Features.GetFeature(r.Context(), key, features.FeatureOptions{NoExplanations: true})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, templates.Activations(activationsView(f, r.URL.Query().Get("ctx") == "full")))
}

// featureView loads a feature and its source and lays out the dashboard.
// With a cache ticket, the source is one read at the ticket's version (the
// page may be kept as long as that version lasts).
func (s *Server) featureView(ctx context.Context, r *http.Request, t *cacheTicket) (*templates.FeatureView, error) {
	key, err := pathKey(r)
	if err != nil {
		return nil, noFeatureAt(r, err)
	}
	var (
		f      *features.Feature
		src    *features.Source
		labels map[int]string // neighbours' explanations, when read with the feature
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if nr, ok := s.Features.(features.NeighbourReader); ok {
			// The self entry (first) is skipped: one more than shown.
			f, labels, err = nr.GetFeatureWithNeighbours(gctx, key, features.FeatureOptions{}, maxNeighbours+1)
			return err
		}
		f, err = s.Features.GetFeature(gctx, key, features.FeatureOptions{})
		return err
	})
	g.Go(func() (err error) {
		var ver *features.DataVersion
		if t != nil {
			ver = &t.ver
		}
		src, err = s.sources.get(gctx, s.Catalog, key.ModelID, key.SourceID, ver)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, s.featureNotFound(ctx, key, err)
	}
	v := &templates.FeatureView{
		Meta:      s.meta(key.SourceID+" #"+itoa(key.Index)+" · "+key.ModelID, "home", key.ModelID),
		F:         f,
		Density:   templates.Percent(f.FracNonzero),
		ActHist:   templates.NewHistogram("Activations (non-zero) histogram", f.FreqHistHeights, f.FreqHistValues, false),
		LogitHist: templates.NewHistogram("Logit effects histogram", f.LogitsHistHeights, f.LogitsHistValues, true),
		JSONURL:   templates.FeatureJSONURL(key.ModelID, key.SourceID, key.Index),
		SourceURL: templates.SourceURL(key.ModelID, key.SourceID),
		TestURL:   templates.FeatureURL(key.ModelID, key.SourceID, key.Index) + "/test",
		CanTest:   s.Inference != nil && s.Inference.CanRun(key.ModelID, key.SourceID),
		Build:     buildBanner(src),
	}
	v.Meta.Script = "feature.js" // adds explanations through the API
	if v.CanTest {
		v.SteerURL = steerLink(key, f.MaxActApprox)
	}
	if key.Index > 0 {
		v.PrevURL = templates.FeatureURL(key.ModelID, key.SourceID, key.Index-1)
	}
	if src.NumFeatures == 0 || key.Index+1 < src.NumFeatures {
		v.NextURL = templates.FeatureURL(key.ModelID, key.SourceID, key.Index+1)
	}
	v.Neg = logitRows(f.NegStr, f.NegValues)
	v.Pos = logitRows(f.PosStr, f.PosValues)
	v.Acts = activationsView(f, r.URL.Query().Get("ctx") == "full")
	if v.Neighbours, err = s.neighbours(ctx, f, labels); err != nil {
		return nil, err
	}
	return v, nil
}

// canonicalIndex redirects a feature URL whose index is not written as
// the page writes it ("+5", "007") to the canonical URL, and reports
// whether it did.
func canonicalIndex(w http.ResponseWriter, r *http.Request) bool {
	raw := chi.URLParam(r, "index")
	idx, err := features.ParseIndex(raw)
	if err != nil || raw == strconv.Itoa(idx) {
		return false
	}
	key := features.FeatureKey{ModelID: chi.URLParam(r, "model"), SourceID: chi.URLParam(r, "source"), Index: idx}
	if key.Validate() != nil {
		return false
	}
	u := templates.FeatureURL(key.ModelID, key.SourceID, idx)
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, u, http.StatusMovedPermanently)
	return true
}

// featureNotFound rewrites a missing feature's error for a reader: the
// source's valid range and a link back to it, in place of the store's
// internal key syntax.
func (s *Server) featureNotFound(ctx context.Context, key features.FeatureKey, err error) error {
	if features.ErrorCode(err) != features.ENOTFOUND {
		return err
	}
	src, serr := s.sources.get(ctx, s.Catalog, key.ModelID, key.SourceID, nil)
	if serr != nil {
		return features.Errorf(features.ENOTFOUND, "There is no source %s of model %s.", clipText(key.SourceID, maxEchoed), clipText(key.ModelID, maxEchoed))
	}
	back := &backLinkError{url: templates.SourceURL(key.ModelID, key.SourceID), text: "Browse the features of " + key.SourceID, build: buildBanner(src)}
	switch {
	case back.build != nil && (src.NumFeatures == 0 || key.Index < src.NumFeatures):
		back.error = features.Errorf(features.ENOTFOUND, "Feature %d of %s has no dashboard yet: its source's dashboards are being built.", key.Index, key.SourceID)
	case src.NumFeatures > 0 && key.Index >= src.NumFeatures:
		back.error = features.Errorf(features.ENOTFOUND, "Source %s of %s has features 0 to %d; there is no feature %d.", key.SourceID, key.ModelID, src.NumFeatures-1, key.Index)
	default:
		back.error = features.Errorf(features.ENOTFOUND, "Feature %d of %s (%s) has no dashboard yet.", key.Index, key.SourceID, key.ModelID)
	}
	return back
}

// logitRows pairs logit tokens with values for a table.
func logitRows(strs []string, vals []float64) []templates.LogitRow {
	n := min(len(strs), len(vals), maxLogitTokens)
	out := make([]templates.LogitRow, n)
	for i := range n {
		out[i] = templates.LogitRow{Token: templates.DisplayToken(strs[i]), Value: templates.Num(vals[i])}
	}
	return out
}

// highlightScale is the value that maps to full highlight: the feature's
// max, or the largest example value when that is larger (imported data
// may disagree).
func highlightScale(f *features.Feature) float64 {
	scale := f.MaxActApprox
	for _, a := range f.Activations {
		scale = max(scale, a.MaxValue)
	}
	return scale
}

// activationsView lays out the examples section in the short or full view.
func activationsView(f *features.Feature, full bool) templates.ActivationsView {
	page := templates.FeatureURL(f.ModelID, f.SourceID, f.Index)
	v := templates.ActivationsView{Groups: activationGroups(f, full), Full: full}
	if full {
		v.ToggleURL, v.ToggleFragment = page+"#activations", page+"/activations"
	} else {
		v.ToggleURL, v.ToggleFragment = page+"?ctx=full#activations", page+"/activations?ctx=full"
	}
	return v
}

// activationGroups splits the examples into the top group and the
// quantile intervals (highest first). Each row is centred on its
// qualifying token (the one that put it in its group; the max when the
// example does not say) and labelled with that token's value; unless full,
// it is cut to a window of contextWindow tokens each side: a page then
// renders about a seventh of the tokens.
func activationGroups(f *features.Feature, full bool) []templates.ActGroup {
	type groupKey struct{ lo, hi float64 }
	type keyedRow struct {
		v   float64
		row templates.ActRow
	}
	scale := highlightScale(f)
	var top []keyedRow
	intervals := map[groupKey][]keyedRow{}
	titles := map[groupKey]string{}
	var keys []groupKey
	for _, a := range f.Activations {
		q := qualifyingToken(a)
		lo, hi := 0, len(a.Tokens)
		if !full {
			lo, hi = max(0, q-contextWindow), min(len(a.Tokens), q+contextWindow+1)
		}
		vals := a.Values[min(lo, len(a.Values)):min(hi, len(a.Values))]
		qv := a.MaxValue
		if q < len(a.Values) {
			qv = float64(a.Values[q])
		}
		row := templates.ActRow{
			Tokens:   templates.TokensMarked(a.Tokens[lo:hi], vals, scale, q-lo),
			MaxValue: templates.Num(qv),
			CutLeft:  lo > 0, CutRight: hi < len(a.Tokens),
		}
		if a.MaxValue != qv {
			row.Note = "bold token " + templates.Num(qv) + " · context max " + templates.Num(a.MaxValue)
		}
		if a.InTopGroup() {
			top = append(top, keyedRow{qv, row})
			continue
		}
		k := groupKey{lo: *a.BinMin}
		if a.BinMax != nil {
			k.hi = *a.BinMax
		}
		if _, ok := intervals[k]; !ok {
			title := "Interval " + templates.Num(k.lo) + " – " + templates.Num(k.hi)
			if a.BinContains != nil && *a.BinContains >= 0 {
				title += " (contains " + templates.Percent(*a.BinContains) + ")"
			}
			titles[k] = title
			keys = append(keys, k)
		}
		intervals[k] = append(intervals[k], keyedRow{qv, row})
	}
	rows := func(kr []keyedRow) []templates.ActRow {
		slices.SortStableFunc(kr, func(a, b keyedRow) int { return cmp.Compare(b.v, a.v) })
		out := make([]templates.ActRow, len(kr))
		for i, r := range kr {
			out[i] = r.row
		}
		return out
	}
	var out []templates.ActGroup
	if len(top) > 0 {
		out = append(out, templates.ActGroup{Title: "Top activations", Rows: rows(top)})
	}
	slices.SortFunc(keys, func(a, b groupKey) int { return cmp.Compare(b.hi, a.hi) })
	for _, k := range keys {
		out = append(out, templates.ActGroup{Title: titles[k], Rows: rows(intervals[k]), Interval: true})
	}
	return out
}

// qualifyingToken is the position an example is centred on: its
// qualifyingTokenIndex when valid, else its max.
func qualifyingToken(a *features.Activation) int {
	if q := a.QualifyingTokenIndex; q != nil && *q >= 0 && *q < len(a.Tokens) {
		return *q
	}
	return min(max(a.MaxValueTokenIndex, 0), max(len(a.Tokens)-1, 0))
}

// neighbours lists the decoder-cosine neighbours with their explanations:
// from labels when the store read them with the feature, else from
// FeatureSummaries.
func (s *Server) neighbours(ctx context.Context, f *features.Feature, labels map[int]string) ([]templates.Neighbour, error) {
	n := min(len(f.TopkCosSimIndices), len(f.TopkCosSimValues))
	var out []templates.Neighbour
	var idx []int
	last := -1 // the last entry of TopkCosSimIndices listed
	for i := 0; i < n && len(out) < maxNeighbours; i++ {
		j := f.TopkCosSimIndices[i]
		if j == f.Index || j < 0 { // element 0 is the feature itself
			continue
		}
		out = append(out, templates.Neighbour{
			Index: j, URL: templates.FeatureURL(f.ModelID, f.SourceID, j), Cos: templates.Num(f.TopkCosSimValues[i]),
		})
		idx = append(idx, j)
		last = i
	}
	if len(idx) == 0 {
		return nil, nil
	}
	// labels cover the first maxNeighbours+1 entries (see featureView).
	if labels != nil && last <= maxNeighbours {
		for i := range out {
			out[i].Explanation = labels[out[i].Index]
		}
		return out, nil
	}
	sums, err := s.Features.FeatureSummaries(ctx, f.ModelID, f.SourceID, idx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if sm := sums[out[i].Index]; sm != nil {
			out[i].Explanation = sm.Explanation
		}
	}
	return out, nil
}

// handleFeatureTest handles "POST /{model}/{source}/{index}/test": runs the
// form's text through the model and this feature. htmx gets the highlighted
// tokens as a fragment; a plain form post gets the whole page with them.
func (s *Server) handleFeatureTest(w http.ResponseWriter, r *http.Request) {
	key, err := pathKey(r)
	if err != nil {
		s.pageError(w, r, noFeatureAt(r, err))
		return
	}
	if err := s.parseForm(w, r); err != nil {
		s.testError(w, r, err)
		return
	}
	text := r.PostForm.Get("text")
	if strings.TrimSpace(text) == "" {
		s.testError(w, r, invalidField("text", "type some text to test"))
		return
	}
	f, err := s.Features.GetFeature(r.Context(), key, features.FeatureOptions{NoActivations: true, NoExplanations: true})
	if err != nil {
		s.testError(w, r, err)
		return
	}
	var tv templates.TestView
	status := http.StatusOK
	act, err := s.featureActivation(r.Context(), key, text, true)
	if err != nil {
		status, tv.Error = s.userError(r, err)
	} else {
		scale := max(f.MaxActApprox, float64(act.MaxValue))
		tv.Tokens = templates.Tokens(act.pieces, act.Values, scale)
		tv.MaxValue = templates.Num(float64(act.MaxValue))
		if act.MaxValue > 0 {
			tv.MaxToken = templates.PieceAt(act.pieces, act.MaxValueTokenIndex)
		}
	}
	if isHTMX(r) {
		s.render(w, r, status, templates.TestResult(tv))
		return
	}
	v, verr := s.featureView(r.Context(), r, nil)
	if verr != nil {
		s.pageError(w, r, verr)
		return
	}
	v.Test, v.TestText = &tv, text
	s.render(w, r, status, templates.FeaturePage(*v))
}

// testError answers a failed test: a fragment for htmx, an error page otherwise.
func (s *Server) testError(w http.ResponseWriter, r *http.Request, err error) {
	if !isHTMX(r) {
		s.pageError(w, r, err)
		return
	}
	status, msg := s.userError(r, err)
	s.render(w, r, status, templates.TestResult(templates.TestView{Error: msg}))
}
