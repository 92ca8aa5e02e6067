package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	mw "saex/internal/web/middleware"
	"saex/templates"
)

// The source page's auto-interp panel: the latest job's progress (htmx
// polls "GET /{model}/{source}/autointerp" while it runs) and, for a
// logged-in user whose key may write the source, the form that starts a
// job ("POST /{model}/{source}/autointerp").

// autoInterpSetup is what the page says without an LLM endpoint: the
// settings' names, never their values.
const autoInterpSetup = "Auto-interp is not configured on this server. To explain features from this page, set " +
	"SAEX_LLM_BASE_URL (an OpenAI-compatible endpoint) and SAEX_LLM_MODEL in the environment of saex serve, plus " +
	"SAEX_LLM_API_KEY if the endpoint needs a key (optional: SAEX_LLM_SCORER_MODEL; SAEX_EMBED_MODEL for the embedding scorer), " +
	"then restart saex. The command line does the same: saex explain --model M --source S with those variables " +
	"or --llm-base-url and --llm-model (docs/autointerp.md)."

// scoreLabels name the scorers on the page.
var scoreLabels = map[string]string{
	"eleuther_recall":    "detection score",
	"eleuther_fuzz":      "fuzzing score",
	"eleuther_embedding": "embedding score",
}

// scoreLabel is a scorer's name on the page.
func scoreLabel(typ string) string {
	if l, ok := scoreLabels[typ]; ok {
		return l
	}
	return "score: " + clipText(typ, 40)
}

// maxFailuresShown caps the failures the panel lists.
const maxFailuresShown = 20

// autoInterpPanel is src's auto-interp panel for the request's user.
func (s *Server) autoInterpPanel(r *http.Request, src *features.Source) (*templates.AutoInterpView, error) {
	url := templates.SourceURL(src.ModelID, src.ID) + "/autointerp"
	v := &templates.AutoInterpView{StateURL: url + "?poll=1", StartURL: url, NumFeatures: src.NumFeatures}
	if s.AutoInterpJobs == nil {
		v.Setup = autoInterpSetup
		return v, nil
	}
	job, err := s.AutoInterpJobs.LatestJob(r.Context(), src.ModelID, src.ID)
	if err != nil {
		return nil, err
	}
	if job != nil {
		v.Job = jobView(job)
	}
	k := s.viewer(r)
	switch {
	case k == nil:
		v.Hint = "Log in with an API key that may write this source to explain its features with the server's LLM."
	case s.AuthorizeSourceWrite(mw.WithAPIKey(r.Context(), k), src.ModelID, src.ID) != nil:
		v.Hint = "Your API key may not write this source, so it cannot start auto-interp jobs here (an upload key may on the sources it created; an admin key anywhere)."
	default:
		v.CanStart = true
		for _, typ := range s.AutoInterpJobs.Scorers() {
			v.Scorers = append(v.Scorers, templates.ScorerChoice{Value: typ, Label: scoreLabel(typ), Checked: typ != "eleuther_embedding"})
		}
	}
	return v, nil
}

// jobView shows a job's progress, or its summary once it ended.
func jobView(j *features.AutoInterpJob) *templates.AutoInterpJobView {
	v := &templates.AutoInterpJobView{Running: j.State == features.JobRunning, Value: j.Done, Max: j.Total,
		Figure: figure(j.Done, j.Total, "features"), Error: j.Error}
	what := "all " + group(j.Total) + " features"
	if j.Features != "" {
		what = group(j.Total) + " features (" + clipText(j.Features, 60) + ")"
	}
	switch j.State {
	case features.JobRunning:
		v.Headline = "An auto-interp job is explaining " + what + "; this panel updates itself."
	case features.JobDone:
		v.Headline = "The auto-interp job over " + what + " is done."
		if j.BudgetExhausted {
			v.Headline = "The auto-interp job over " + what + " stopped at its token budget."
		}
	default:
		v.Headline = "The auto-interp job over " + what + " failed."
	}
	fact := func(label, value string) { v.Facts = append(v.Facts, templates.JobFact{Label: label, Value: value}) }
	fact("explained", group(j.Explained))
	if len(j.Scorers) > 0 {
		names := make([]string, len(j.Scorers))
		for i, typ := range j.Scorers {
			names[i] = scoreLabel(typ)
		}
		fact("scored", group(j.Scored)+" ("+strings.Join(names, ", ")+")")
	}
	fact("failed", group(len(j.Failed)+len(j.ScoreFailed)))
	if j.AlreadyDone > 0 {
		fact("already explained before", group(j.AlreadyDone))
	}
	if j.Dead > 0 {
		fact("dead (nothing to explain)", group(j.Dead))
	}
	if j.NotStarted > 0 && j.State != features.JobRunning {
		fact("not started", group(j.NotStarted))
	}
	tokens := group(int(j.Tokens()))
	if j.BudgetTokens > 0 {
		tokens += " of a budget of " + group(int(j.BudgetTokens))
	} else {
		tokens += " (no budget cap)"
	}
	fact("tokens used", tokens)
	all := append(append([]features.JobFailure{}, j.Failed...), j.ScoreFailed...)
	for i, f := range all {
		if i == maxFailuresShown {
			v.FailedMore = len(all) - i
			break
		}
		v.Failed = append(v.Failed, templates.JobFailureView{Index: f.Index, URL: templates.FeatureURL(j.ModelID, j.SourceID, f.Index),
			Reason: clipText(f.Reason, 300)})
	}
	return v
}

// autoInterpSource reads the source named in the path, with errors that
// say which id is wrong.
func (s *Server) autoInterpSource(r *http.Request) (*features.Source, error) {
	modelID, sourceID := chi.URLParam(r, "model"), chi.URLParam(r, "source")
	if !features.ValidID(modelID) {
		return nil, features.Errorf(features.ENOTFOUND, "There is no model %s.", clipText(modelID, maxEchoed))
	}
	if !features.ValidSourceID(sourceID) {
		return nil, features.Errorf(features.ENOTFOUND, "There is no source %s of model %s: not a source id (letters, digits, '.', '_' or '-'; a layer of at most %d).", clipText(sourceID, maxEchoed), modelID, features.MaxLayer)
	}
	return s.Catalog.GetSource(r.Context(), modelID, sourceID)
}

// handleAutoInterpState handles "GET /{model}/{source}/autointerp": the
// auto-interp panel (an htmx fragment), read fresh. When the poller saw a
// running job (?poll=1) and it has ended, the answer is HX-Refresh, so the
// page reloads with the new explanations.
func (s *Server) handleAutoInterpState(w http.ResponseWriter, r *http.Request) {
	src, err := s.autoInterpSource(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.autoInterpPanel(r, src)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Query().Get("poll") == "1" && isHTMX(r) && (v.Job == nil || !v.Job.Running) {
		w.Header().Set("HX-Refresh", "true")
		w.WriteHeader(http.StatusOK)
		return
	}
	s.render(w, r, http.StatusOK, templates.AutoInterpPanel(*v))
}

// maxRangeChars caps the features field of the job form.
const maxRangeChars = 1000

// handleAutoInterpStart handles "POST /{model}/{source}/autointerp": the
// form that starts an auto-interp job over the source (features, scorers,
// budget). It needs a logged-in key that may write the source, and
// answers with the source page, where the job's progress shows.
func (s *Server) handleAutoInterpStart(w http.ResponseWriter, r *http.Request) {
	src, err := s.autoInterpSource(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if s.AutoInterpJobs == nil {
		s.pageError(w, r, features.Errorf(features.EUNAVAILABLE, autoInterpSetup))
		return
	}
	k := s.viewer(r)
	if k == nil {
		s.pageError(w, r, features.Errorf(features.EUNAUTHORIZED, "Log in with an API key that may write %s/%s to start an auto-interp job.", src.ModelID, src.ID))
		return
	}
	ctx := mw.WithAPIKey(r.Context(), k)
	if err := s.AuthorizeSourceWrite(ctx, src.ModelID, src.ID); err != nil {
		s.pageError(w, r, err)
		return
	}
	req, err := autoInterpRequest(r, src, k)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if _, err := s.AutoInterpJobs.StartJob(ctx, req); err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, templates.SourceURL(src.ModelID, src.ID)+"#autointerp", http.StatusSeeOther)
}

// autoInterpRequest reads the job form.
func autoInterpRequest(r *http.Request, src *features.Source, k *features.APIKey) (features.AutoInterpJobRequest, error) {
	req := features.AutoInterpJobRequest{ModelID: src.ModelID, SourceID: src.ID, StartedBy: k.ID}
	if err := r.ParseForm(); err != nil {
		return req, features.Wrap(features.EINVALID, err, "the job form could not be read")
	}
	f := r.PostForm
	req.Features = strings.TrimSpace(f.Get("features"))
	if len(req.Features) > maxRangeChars {
		return req, features.Errorf(features.EINVALID, "features: the range is longer than %d characters", maxRangeChars)
	}
	if b := strings.TrimSpace(f.Get("budget")); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return req, features.Errorf(features.EINVALID, "budget: %q is not a number of tokens (0 or more; empty: no cap)", clipText(b, 40))
		}
		req.BudgetTokens = n
	}
	for _, sc := range f["scorers"] {
		if sc = strings.TrimSpace(sc); sc != "" {
			req.Scorers = append(req.Scorers, sc)
		}
	}
	return req, nil
}
