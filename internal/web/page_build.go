package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	"saex/templates"
)

// Every page of a source whose dashboards are being built says so: the
// step that runs, its progress, and (while it runs) a banner that polls
// "GET /{model}/{source}/build-state" and reloads the page once the build
// is done.

// buildBanner is the banner of src, nil when its dashboards are built (or
// were imported, with no build status).
func buildBanner(src *features.Source) *templates.BuildBannerView {
	b := src.Build
	if b == nil || b.State == features.BuildDone {
		return nil
	}
	v := &templates.BuildBannerView{SourceID: src.ID, URL: templates.SourceURL(src.ModelID, src.ID) + "/build-state"}
	switch b.State {
	case features.BuildFailed:
		v.Headline = "Building the dashboards of " + src.ID + " failed."
		v.Step = clipText(b.Error, 300)
		return v
	case features.BuildPending:
		v.Headline = "The dashboards of " + src.ID + " are waiting to be built."
		v.Step = clipText(b.Error, 300) // e.g. "interrupted; resumes on the next start"
		v.Polling = true
		return v
	}
	v.Polling = true
	v.Headline = "The dashboards of " + src.ID + " are being built; this page reloads when they are ready."
	switch b.Phase {
	case features.BuildPhaseTokenize:
		v.Step = "Step 1 of 4: tokenizing the corpus."
	case features.BuildPhaseEncode, "":
		v.Step = "Step 2 of 4: running the model and SAEs over the corpus."
		v.Value, v.Max, v.Figure = b.ContextsDone, b.ContextsTotal, figure(b.ContextsDone, b.ContextsTotal, "contexts")
	case features.BuildPhaseStats:
		v.Step = "Step 3 of 4: histograms and interval examples."
		v.Value, v.Max, v.Figure = b.ContextsDone, b.ContextsTotal, figure(b.ContextsDone, b.ContextsTotal, "contexts")
	case features.BuildPhaseWrite:
		v.Step = "Step 4 of 4: writing the dashboards."
		v.Value, v.Max, v.Figure = b.FeaturesDone, b.FeaturesTotal, figure(b.FeaturesDone, b.FeaturesTotal, "features")
	}
	if b.FeaturesDone > 0 && b.Phase != features.BuildPhaseWrite {
		v.Step += " " + strconv.Itoa(b.FeaturesDone) + " of " + strconv.Itoa(b.FeaturesTotal) + " features were written before."
	}
	return v
}

// figure writes "done / total unit (p%)".
func figure(done, total int, unit string) string {
	if total <= 0 {
		return ""
	}
	return group(done) + " / " + group(total) + " " + unit + " (" + strconv.Itoa(100*done/total) + "%)"
}

// group writes n with thousands separators.
func group(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// handleBuildState handles "GET /{model}/{source}/build-state": the build
// banner (an htmx fragment), read fresh. A finished build answers
// HX-Refresh, so htmx reloads the page that polls.
func (s *Server) handleBuildState(w http.ResponseWriter, r *http.Request) {
	modelID, sourceID := chi.URLParam(r, "model"), chi.URLParam(r, "source")
	// Say which of the two cannot be an id (the poller's URL was edited).
	if !features.ValidID(modelID) {
		s.pageError(w, r, features.Errorf(features.ENOTFOUND, "There is no model %s.", clipText(modelID, maxEchoed)))
		return
	}
	if !features.ValidSourceID(sourceID) {
		s.pageError(w, r, features.Errorf(features.ENOTFOUND, "There is no source %s of model %s: not a source id (letters, digits, '.', '_' or '-'; a layer of at most %d).", clipText(sourceID, maxEchoed), modelID, features.MaxLayer))
		return
	}
	src, err := s.Catalog.GetSource(r.Context(), modelID, sourceID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	b := buildBanner(src)
	if b == nil {
		w.Header().Set("HX-Refresh", "true")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return
	}
	s.render(w, r, http.StatusOK, templates.BuildBanner(*b))
}
