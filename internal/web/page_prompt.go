package web

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	"saex/templates"
)

// Prompt-tool defaults.
const (
	promptDefaultResults = 30
	tokenPanelTopK       = 10
)

// promptForm is the prompt tool's form, parsed.
type promptForm struct {
	Text      string
	Sources   []string
	Rank      string
	N         int
	Positions []int
	// Density hides features denser than this percentage (0: show all).
	Density float64
}

// promptDefaultDensity is the density filter's default, in percent: as
// Neuronpedia's, features active on more than 1% of tokens are hidden.
const promptDefaultDensity = 1.0

// shareURL is the GET URL that runs the same prompt with the same settings.
func (f *promptForm) shareURL(modelID string, allSources bool) string {
	q := url.Values{"text": {f.Text}}
	if !allSources {
		for _, src := range f.Sources {
			q.Add("source", src)
		}
	}
	if f.Rank == "sum" {
		q.Set("rank", "sum")
		for _, p := range f.Positions {
			q.Add("pos", strconv.Itoa(p))
		}
	}
	if f.N != promptDefaultResults {
		q.Set("n", strconv.Itoa(f.N))
	}
	if f.Density != promptDefaultDensity {
		q.Set("density", strconv.FormatFloat(f.Density, 'g', -1, 64))
	}
	return templates.PromptURL(modelID) + "?" + q.Encode()
}

// promptBase builds the prompt tool's view without a result: the model's
// runnable sources, checked as the form asks (all by default).
func (s *Server) promptBase(r *http.Request, modelID string, form *promptForm) (*templates.PromptView, error) {
	if !features.ValidID(modelID) {
		return nil, features.Errorf(features.ENOTFOUND, "There is no model %s.", clipText(modelID, maxEchoed))
	}
	if _, err := s.Catalog.GetModel(r.Context(), modelID); err != nil {
		return nil, err
	}
	v := &templates.PromptView{
		Meta: s.meta("Prompt · "+modelID, "prompt", modelID), ModelID: modelID,
		Rank: "max", NumResults: promptDefaultResults,
		Available: s.Inference != nil && s.Inference.CanRun(modelID, ""),
	}
	if !v.Available {
		return v, nil
	}
	v.Meta.Script = "prompt.js"
	v.MaxTokens = s.Inference.MaxTokens(modelID)
	sources, err := s.Catalog.ListSources(r.Context(), modelID)
	if err != nil {
		return nil, err
	}
	for _, src := range sources {
		if !s.Inference.CanRun(modelID, src.ID) {
			continue
		}
		checked := form == nil || len(form.Sources) == 0 || slices.Contains(form.Sources, src.ID)
		v.Sources = append(v.Sources, templates.SourceChoice{ID: src.ID, Checked: checked})
	}
	v.Density = strconv.FormatFloat(promptDefaultDensity, 'g', -1, 64)
	if form != nil {
		v.Text, v.Rank, v.NumResults = form.Text, form.Rank, form.N
		v.Density = strconv.FormatFloat(form.Density, 'g', -1, 64)
	}
	return v, nil
}

// parsePromptForm reads and validates the prompt tool's posted form.
func (s *Server) parsePromptForm(w http.ResponseWriter, r *http.Request) (*promptForm, error) {
	if err := s.parseForm(w, r); err != nil {
		return nil, err
	}
	return readPromptForm(r.PostForm)
}

// readPromptForm validates the prompt tool's fields, posted or in a
// shared GET URL.
func readPromptForm(vals url.Values) (*promptForm, error) {
	f := &promptForm{Text: vals.Get("text"), Rank: vals.Get("rank"), N: promptDefaultResults, Density: promptDefaultDensity}
	if f.Rank != "sum" {
		f.Rank = "max"
	}
	if n := vals.Get("n"); n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > maxSearchResults {
			return f, invalidField("n", "results must be a number in 1..%d", maxSearchResults)
		}
		f.N = v
	}
	if d := strings.TrimSpace(vals.Get("density")); d != "" {
		v, err := strconv.ParseFloat(d, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return f, invalidField("density", "the density filter is a percentage in 0..100 (0: show all features)")
		}
		f.Density = v
	} else if vals.Has("density") {
		f.Density = 0 // an emptied box: no filter
	}
	for _, src := range vals["source"] {
		if err := sourceField("source", src); err != nil {
			return f, err
		}
		f.Sources = append(f.Sources, src)
	}
	for _, p := range vals["pos"] {
		v, err := tokenPosition("pos", p)
		if err != nil {
			return f, err
		}
		f.Positions = append(f.Positions, v)
	}
	if strings.TrimSpace(f.Text) == "" {
		return f, invalidField("text", "type a prompt")
	}
	return f, nil
}

// handlePromptPage handles "GET /{model}/prompt": the prompt tool's form.
// With text in the query (a shared link) it runs the prompt with the
// query's settings.
func (s *Server) handlePromptPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if strings.TrimSpace(q.Get("text")) == "" {
		form := &promptForm{Text: q.Get("text"), Rank: "max", N: promptDefaultResults, Density: promptDefaultDensity}
		v, err := s.promptBase(r, chi.URLParam(r, "model"), form)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.render(w, r, http.StatusOK, templates.PromptPage(*v))
		return
	}
	form, ferr := readPromptForm(q)
	s.promptRespond(w, r, chi.URLParam(r, "model"), form, ferr)
}

// handlePromptRun handles "POST /{model}/prompt": runs the prompt and ranks
// its features. htmx gets the results fragment, a plain post the whole page.
func (s *Server) handlePromptRun(w http.ResponseWriter, r *http.Request) {
	form, ferr := s.parsePromptForm(w, r)
	s.promptRespond(w, r, chi.URLParam(r, "model"), form, ferr)
}

// promptRespond runs a prompt form and answers with the page, or the
// results fragment for htmx (pushing the shareable URL to the address bar).
func (s *Server) promptRespond(w http.ResponseWriter, r *http.Request, modelID string, form *promptForm, ferr error) {
	v, err := s.promptBase(r, modelID, form)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	status := http.StatusOK
	if ferr != nil {
		status, v.Error = s.userError(r, ferr)
	} else if !v.Available {
		status, v.Error = s.userError(r, features.Errorf(features.EUNAVAILABLE, "inference is not available for model %q", modelID))
	} else if err := s.promptResult(r, v, form); err != nil {
		status, v.Error = s.userError(r, err)
	}
	if v.Result != nil {
		v.Result.ShareURL = form.shareURL(modelID, len(checkedSources(v)) == len(v.Sources))
	}
	if isHTMX(r) {
		if v.Result != nil {
			w.Header().Set("HX-Push-Url", v.Result.ShareURL)
		}
		s.render(w, r, status, templates.PromptResults(*v))
		return
	}
	s.render(w, r, status, templates.PromptPage(*v))
}

// checkedSources returns the ids of the checked sources of a view.
func checkedSources(v *templates.PromptView) []string {
	var out []string
	for _, c := range v.Sources {
		if c.Checked {
			out = append(out, c.ID)
		}
	}
	return out
}

// promptResult runs the form's prompt and fills v.Result.
func (s *Server) promptResult(r *http.Request, v *templates.PromptView, form *promptForm) error {
	start := time.Now()
	sources := checkedSources(v)
	if len(sources) == 0 {
		return invalidField("source", "choose at least one source")
	}
	res, err := s.runPrompt(r.Context(), v.ModelID, sources, form.Text)
	if err != nil {
		return err
	}
	opts := features.RankOptions{IgnoreBOS: true}
	selected := make(map[int]bool, len(form.Positions))
	for _, p := range form.Positions {
		if p < len(res.Tokens) {
			selected[p] = true
		}
	}
	note := "ranked by max activation over tokens (BOS ignored)"
	if form.Rank == "sum" {
		if len(selected) == 0 {
			note = "no tokens selected: " + note
		} else {
			for p := range selected {
				opts.SortIndexes = append(opts.SortIndexes, p)
			}
			slices.Sort(opts.SortIndexes)
			note = "ranked by the sum over " + strconv.Itoa(len(selected)) + " selected tokens"
		}
	}
	ranked := features.RankFeatures(res, opts)
	density := -1.0 // Neuronpedia's "no filter"
	if form.Density > 0 && form.Density < 100 {
		density = form.Density / 100
		note += " · features denser than " + strconv.FormatFloat(form.Density, 'g', -1, 64) + "% hidden"
	}
	top, err := s.pickTop(r.Context(), v.ModelID, ranked, form.N, density, true)
	if err != nil {
		return err
	}
	rv := &templates.PromptResultView{RankNote: note}
	for i := 0; i < len(res.Tokens); {
		n := templates.PieceRun(res.Tokens, i)
		t := strings.Join(res.Tokens[i:i+n], "")
		pt := templates.PromptToken{Pos: i, Len: n, Text: templates.DisplayToken(t), Selected: selected[i], Special: res.HasBOS && i == 0}
		if strings.ContainsAny(t, "\n\r") {
			pt.Class = "nl" // the strip breaks the line after it, as the text does
		}
		rv.Tokens = append(rv.Tokens, pt)
		i += n
	}
	for _, p := range top {
		vals := res.FeatureValues(p.SourceID, p.Index, true)
		// The highlight uses the feature pages' colour scale: the
		// feature's max over its dashboard (or this prompt, if larger).
		scale := float64(p.MaxValue)
		if p.Summary != nil {
			scale = max(scale, p.Summary.MaxActApprox)
		}
		pf := templates.PromptFeature{
			SourceID: p.SourceID, Index: p.Index,
			URL:       templates.FeatureURL(v.ModelID, p.SourceID, p.Index),
			Score:     templates.Num(float64(p.Score)),
			MaxValue:  templates.Num(float64(p.MaxValue)),
			Spark:     templates.NewSparkline(vals, 0),
			Highlight: highlightData(rv.Tokens, vals, scale),
		}
		for i := range pf.Spark.Dots {
			pos := pf.Spark.Dots[i].Pos
			if pos < len(res.Tokens) {
				pf.Spark.Dots[i].Title = "token " + strconv.Itoa(pos) + " “" + templates.PieceAt(res.Tokens, pos) + "”: " + templates.Num(float64(vals[pos]))
			}
		}
		if p.MaxValueIndex < len(res.Tokens) {
			pf.MaxToken = templates.PieceAt(res.Tokens, p.MaxValueIndex)
		}
		if p.Summary != nil {
			pf.Explanation = p.Summary.Explanation
		}
		rv.Features = append(rv.Features, pf)
	}
	rv.Millis = strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', 1, 64)
	v.Result = rv
	return nil
}

// handlePromptToken handles "POST /{model}/prompt/token": the top features
// at one token (form field "at") of the prompt, per chosen source.
func (s *Server) handlePromptToken(w http.ResponseWriter, r *http.Request) {
	modelID := chi.URLParam(r, "model")
	form, err := s.parsePromptForm(w, r)
	var pv templates.TokenPanelView
	if err == nil {
		pv, err = s.tokenPanel(r, modelID, form)
	}
	if err != nil {
		status, msg := s.userError(r, err)
		s.render(w, r, status, templates.TokenPanel(templates.TokenPanelView{Error: msg}))
		return
	}
	s.render(w, r, http.StatusOK, templates.TokenPanel(pv))
}

// tokenPanel computes the top features at the form's token.
func (s *Server) tokenPanel(r *http.Request, modelID string, form *promptForm) (templates.TokenPanelView, error) {
	var tv templates.TokenPanelView
	at, err := tokenPosition("at", r.PostForm.Get("at"))
	if err != nil {
		return tv, err
	}
	v, err := s.promptBase(r, modelID, form)
	if err != nil {
		return tv, err
	}
	sources := checkedSources(v)
	if len(sources) == 0 {
		return tv, invalidField("source", "choose at least one source")
	}
	res, err := s.runPrompt(r.Context(), modelID, sources, form.Text)
	if err != nil {
		return tv, err
	}
	if at >= len(res.Tokens) {
		return tv, invalidField("at", "position %d is past the prompt's %d tokens", at, len(res.Tokens))
	}
	tv.Pos, tv.Token = at, templates.PieceAt(res.Tokens, at)
	for _, src := range sources {
		top := res.TopAtToken(src, at, tokenPanelTopK, nil)
		idx := make([]int, len(top))
		for i, f := range top {
			idx[i] = f.Index
		}
		sums, err := s.Features.FeatureSummaries(r.Context(), modelID, src, idx)
		if err != nil {
			return tv, err
		}
		ps := templates.TokenPanelSource{SourceID: src}
		for _, f := range top {
			pf := templates.TokenPanelFeature{
				Index: f.Index, URL: templates.FeatureURL(modelID, src, f.Index), Value: templates.Num(float64(f.Value)),
			}
			if sm := sums[f.Index]; sm != nil {
				pf.Explanation = sm.Explanation
			}
			ps.Features = append(ps.Features, pf)
		}
		tv.Sources = append(tv.Sources, ps)
	}
	return tv, nil
}

// highlightData encodes one feature's values over the prompt's token
// views for static/prompt.js: "level:value" per view (a merged character
// takes its largest token), comma-separated.
func highlightData(views []templates.PromptToken, vals []float32, scale float64) string {
	var b strings.Builder
	for i, t := range views {
		v := 0.0
		for p := t.Pos; p < t.Pos+max(t.Len, 1) && p < len(vals); p++ {
			v = max(v, float64(vals[p]))
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(templates.HighlightLevel(v, scale)))
		b.WriteByte(':')
		b.WriteString(templates.Num(v))
	}
	return b.String()
}
