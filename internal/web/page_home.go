package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	"saex/templates"
)

// handleHome handles "GET /": every model with its sources and their stats.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	models, err := s.Catalog.ListModels(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v := templates.HomeView{Meta: s.meta("Models", "home", "")}
	for _, m := range models {
		mv, err := s.modelView(r.Context(), m)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		v.Models = append(v.Models, mv)
	}
	v.Builds = builds(v.Models)
	for _, m := range v.Models {
		if m.CanPrompt { // the menu's prompt tool: the first model that runs prompts
			v.Meta.ModelID = m.Model.ID
			break
		}
	}
	s.render(w, r, http.StatusOK, templates.HomePage(v))
}

// handleModelPage handles "GET /{model}": one model's sources.
func (s *Server) handleModelPage(w http.ResponseWriter, r *http.Request) {
	modelID := chi.URLParam(r, "model")
	if !features.ValidID(modelID) {
		s.pageError(w, r, features.Errorf(features.ENOTFOUND, "There is no model %s.", clipText(modelID, maxEchoed)))
		return
	}
	m, err := s.Catalog.GetModel(r.Context(), modelID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	mv, err := s.modelView(r.Context(), m)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v := templates.HomeView{Meta: s.meta(m.ID, "home", m.ID), Models: []templates.ModelView{mv}, Single: true}
	v.Builds = builds(v.Models)
	s.render(w, r, http.StatusOK, templates.HomePage(v))
}

// modelView loads a model's sources with their stats.
func (s *Server) modelView(ctx context.Context, m *features.Model) (templates.ModelView, error) {
	mv := templates.ModelView{Model: m, CanPrompt: s.Inference != nil && s.Inference.CanRun(m.ID, "")}
	sources, err := s.Catalog.ListSources(ctx, m.ID)
	if err != nil {
		return mv, err
	}
	for _, src := range sources {
		st, err := s.Catalog.SourceStats(ctx, m.ID, src.ID)
		if err != nil {
			return mv, err
		}
		mv.Sources = append(mv.Sources, templates.SourceSummary{Source: src, Stats: st, Build: buildLabel(src.Build)})
	}
	return mv, nil
}

// buildLabel summarises a dashboard build for the home page.
func buildLabel(b *features.BuildStatus) string {
	if b == nil {
		return ""
	}
	switch b.State {
	case features.BuildRunning:
		switch b.Phase {
		case features.BuildPhaseTokenize:
			return "running: step 1 of 4, tokenizing"
		case features.BuildPhaseEncode, "":
			return "running: step 2 of 4, " + figure(b.ContextsDone, b.ContextsTotal, "contexts")
		case features.BuildPhaseStats:
			return "running: step 3 of 4, " + figure(b.ContextsDone, b.ContextsTotal, "contexts")
		default:
			return "running: step 4 of 4, " + figure(b.FeaturesDone, b.FeaturesTotal, "features")
		}
	case features.BuildFailed:
		if b.Error != "" {
			return "failed: " + b.Error
		}
		return "failed"
	default:
		return b.State
	}
}

// builds are the banners of the listed sources being built.
func builds(models []templates.ModelView) []templates.BuildBannerView {
	var out []templates.BuildBannerView
	for _, m := range models {
		for _, src := range m.Sources {
			if b := buildBanner(src.Source); b != nil {
				out = append(out, *b)
			}
		}
	}
	return out
}
