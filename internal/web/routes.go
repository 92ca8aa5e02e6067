package web

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	mw "saex/internal/web/middleware"
)

// Handler returns the router, built on the first call from the Server's
// fields (change them before that). Routes fall into four groups, each
// with its own middleware slot on Server: pages (HTML, including the pages'
// own form posts), public API reads, compute API (runs the model), and
// write API (uploads; these take an API key once hardening adds the check).
func (s *Server) Handler() http.Handler {
	s.buildOnce.Do(func() {
		s.router = s.routes()
		s.built.Store(true)
	})
	return s.router
}

// routerBuilt reports whether Handler has built the router (after which
// the middleware slots are no longer read).
func (s *Server) routerBuilt() bool { return s.built.Load() }

// routes builds the chi router.
func (s *Server) routes() chi.Router {
	s.init()
	r := chi.NewRouter()
	r.Use(s.recoverer)
	r.Use(mw.SecurityHeaders)
	// Neuronpedia's Python client posts to /api/search-all/ with a trailing
	// slash: route both forms, never redirect (a redirected POST loses its body).
	r.Use(middleware.StripSlashes)
	r.Use(middleware.GetHead) // HEAD of any page or read is its GET without the body
	r.Use(mw.Compress)

	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	static := s.staticHandler()
	r.Method(http.MethodGet, "/static/*", static)
	// Browsers ask for /favicon.ico whatever the page links: serve the icon
	// rather than look it up as a model.
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/static/favicon.svg"
		static.ServeHTTP(w, r2)
	})

	// Pages.
	r.Group(func(r chi.Router) {
		r.Use(s.PageMiddleware...)
		r.Use(canonicalSlash)
		r.NotFound(s.handlePageNotFound)
		r.MethodNotAllowed(s.handlePageMethodNotAllowed)
		r.Get("/", s.handleHome)
		r.Get("/search", s.handleSearchPage)
		r.Get("/list/{id}", s.handleListPage)
		r.Post("/list/{id}/test", s.handleListTest)
		r.Get("/{model}", s.handleModelPage)
		r.Get("/{model}/prompt", s.handlePromptPage)
		r.Post("/{model}/prompt", s.handlePromptRun)
		r.Post("/{model}/prompt/token", s.handlePromptToken)
		r.Get("/{model}/steer", s.handleSteerPage) // page_steer.go
		r.Get("/{model}/{source}", s.handleSourcePage)
		r.Get("/{model}/{source}/build-state", s.handleBuildState)
		r.Get("/{model}/{source}/autointerp", s.handleAutoInterpState)  // page_autointerp.go
		r.Post("/{model}/{source}/autointerp", s.handleAutoInterpStart) // needs a logged-in key that may write the source
		r.Get("/{model}/{source}/{index}", s.handleFeaturePage)
		r.Get("/{model}/{source}/{index}/activations", s.handleFeatureActivations)
		r.Post("/{model}/{source}/{index}/test", s.handleFeatureTest)
	})

	r.Route("/api", func(r chi.Router) {
		r.Use(apiHeaders)
		r.NotFound(s.handleAPINotFound)
		r.MethodNotAllowed(s.handleAPIMethodNotAllowed)

		// Public reads.
		r.Group(func(r chi.Router) {
			r.Use(s.ReadMiddleware...)
			r.Get("/openapi.json", s.handleOpenAPI)
			r.Get("/models", s.handleAPIModels)
			r.Get("/models/{model}/sources", s.handleAPISources)
			r.Get("/feature/{model}/{source}/{index}", s.handleAPIFeature)
			r.Post("/features", s.handleAPIFeatures)
			r.Post("/explanation/search", s.handleAPIExplanationSearch)
			r.Post("/explanation/search-model", s.handleAPIExplanationSearchModel)
			r.Post("/explanation/search-release", s.handleAPIExplanationSearchRelease)
			r.Post("/explanation/search-all", s.handleAPIExplanationSearchAll)
			// Neuronpedia's catalog, list, vector and bulk reads (api_registry.go,
			// api_list.go, api_vector.go, api_activation_get.go, api_explanation_export.go).
			r.Post("/model/list", s.handleAPIModelList)
			r.Post("/model/get", s.handleAPIModelGet)
			r.Get("/source-set/{model}/{name}", s.handleAPISourceSetGet)
			r.Post("/activation/get", s.handleAPIActivationGet)
			r.Get("/explanation/export", s.handleAPIExplanationExport)
			r.Post("/explanation/export", s.handleAPIExplanationExport)
			r.Post("/vector/get", s.handleAPIVectorGet)
			r.Post("/list/get", s.handleAPIListGet)
		})

		// Compute: runs the model; bounded by the compute pool.
		r.Group(func(r chi.Router) {
			r.Use(s.ComputeMiddleware...)
			r.Post("/activation/new", s.handleAPIActivationNew)
			r.Post("/activation/source", s.handleAPIActivationSource)
			r.Post("/search-all", s.handleAPISearchAll)
			r.Post("/search-topk-by-token", s.handleAPISearchTopkByToken)
			r.Post("/steer", s.handleAPISteer)          // api_steer.go
			r.Post("/steer-chat", s.handleAPISteerChat) // api_steer_chat.go
		})

		// Writes.
		r.Group(func(r chi.Router) {
			r.Use(s.WriteMiddleware...)
			r.Post("/feature/upload-batch", s.handleAPIFeatureUploadBatch)
			r.Post("/activation/upload-batch", s.handleAPIActivationUploadBatch)
			r.Post("/explanation/new", s.handleAPIExplanationNew)
			r.Post("/explanation/generate", s.handleAPIExplanationGenerate)
			r.Post("/explanation/score", s.handleAPIExplanationScore)
			r.Post("/model/new", s.handleAPIModelNew)
			r.Post("/source-set/new", s.handleAPISourceSetNew)
			r.Post("/vector/new", s.handleAPIVectorNew)
			r.Post("/vector/delete", s.handleAPIVectorDelete)
			r.Post("/vector/list-owned", s.handleAPIVectorListOwned)
			r.Post("/list/new", s.handleAPIListNew)
			r.Post("/list/add-features", s.handleAPIListAddFeatures)
			r.Post("/list/remove", s.handleAPIListRemoveFeature)
			r.Post("/list/remove-feature", s.handleAPIListRemoveFeature)
			// Owned lists need the key that owns them: the client posts to list/list.
			r.Post("/list/list", s.handleAPIListOwned)
			r.Post("/list/list-owned", s.handleAPIListOwned)
		})
	})
	return r
}

// apiHeaders sets what every API response shares: Neuronpedia serves its
// API to any origin (notebooks, other sites), so CORS is open, and CORS
// preflight requests are answered here.
func apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Api-Key")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleAPINotFound answers unknown API routes with a JSON 404 that says
// the route is not served by saex: Neuronpedia routes saex lacks (steer,
// graphs, scoring, ...) end here, never at an HTML page or a redirect.
func (s *Server) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, errorBody{Error: "no API route " + r.Method + " " + r.URL.Path +
		": this route is not served by saex (docs/api-compat.md lists the Neuronpedia routes it serves)"})
}

// handleAPIMethodNotAllowed answers a known API route called with the wrong method.
func (s *Server) handleAPIMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method " + r.Method + " is not allowed on " + r.URL.Path})
}

// handleHealthz handles "GET /healthz": 200 while the process serves.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// handleReadyz handles "GET /readyz": 200 when the database answers and is
// migrated, 503 otherwise.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.Ready.Ready(ctx); err != nil {
			s.logger().Warn("not ready", "error", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

// recoverer turns a panicking handler into a 500 (JSON under /api) and
// logs it with its stack and request id.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return mw.Recoverer(s.reqLogger)(next)
}
