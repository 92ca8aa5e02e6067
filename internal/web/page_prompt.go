package web

import (
	"net/http"
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
	if form != nil {
		v.Text, v.Rank, v.NumResults = form.Text, form.Rank, form.N
	}
	return v, nil
}

// parsePromptForm reads and validates the prompt tool's form.
func (s *Server) parsePromptForm(w http.ResponseWriter, r *http.Request) (*promptForm, error) {
	if err := s.parseForm(w, r); err != nil {
		return nil, err
	}
	f := &promptForm{Text: r.PostForm.Get("text"), Rank: r.PostForm.Get("rank"), N: promptDefaultResults}
	if f.Rank != "sum" {
		f.Rank = "max"
	}
	if n := r.PostForm.Get("n"); n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > maxSearchResults {
			return f, invalidField("n", "results must be a number in 1..%d", maxSearchResults)
		}
		f.N = v
	}
	for _, src := range r.PostForm["source"] {
		if err := sourceField("source", src); err != nil {
			return f, err
		}
		f.Sources = append(f.Sources, src)
	}
	for _, p := range r.PostForm["pos"] {
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
func (s *Server) handlePromptPage(w http.ResponseWriter, r *http.Request) {
	form := &promptForm{Text: r.URL.Query().Get("text"), Rank: "max", N: promptDefaultResults}
	v, err := s.promptBase(r, chi.URLParam(r, "model"), form)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, templates.PromptPage(*v))
}

// handlePromptRun handles "POST /{model}/prompt": runs the prompt and ranks
// its features. htmx gets the results fragment, a plain post the whole page.
func (s *Server) handlePromptRun(w http.ResponseWriter, r *http.Request) {
	modelID := chi.URLParam(r, "model")
	form, ferr := s.parsePromptForm(w, r)
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
	if isHTMX(r) {
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
	top, err := s.pickTop(r.Context(), v.ModelID, ranked, form.N, -1, true)
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
		pf := templates.PromptFeature{
			SourceID: p.SourceID, Index: p.Index,
			URL:      templates.FeatureURL(v.ModelID, p.SourceID, p.Index),
			Score:    templates.Num(float64(p.Score)),
			MaxValue: templates.Num(float64(p.MaxValue)),
			Spark:    templates.NewSparkline(vals, 0),
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
