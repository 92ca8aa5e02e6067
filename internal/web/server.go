// Package web is saex's HTTP layer: server-rendered pages (templ + htmx),
// the Neuronpedia-compatible JSON API and its OpenAPI document. It consumes
// only the service interfaces of internal/features; cmd/server wires the
// store and the inference engine in.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	mw "saex/internal/web/middleware"
)

// Defaults for the Server's limits.
const (
	DefaultMaxBodyBytes   = 1 << 20  // JSON and form bodies of reads and compute requests
	DefaultMaxUploadBytes = 64 << 20 // upload-batch bodies: 128 features x examples of 1024 tokens
	DefaultComputeTimeout = 10 * time.Second
)

// Server serves saex's pages and API. Set the service fields (at least
// Catalog, Features and Explanations) before calling Handler; a nil
// Inference turns the compute routes into 503s, a nil Writer the upload
// routes, and a nil Scheduler leaves reads unbounded.
type Server struct {
	Catalog      features.CatalogService
	Features     features.FeatureService
	Explanations features.ExplanationService
	Writer       features.FeatureWriter
	APIKeys      features.APIKeyService
	// Registry, Lists and Vectors serve Neuronpedia's model, source-set,
	// list and vector routes; nil turns those routes into 503s.
	Registry  features.RegistryService
	Lists     features.ListService
	Vectors   features.VectorService
	Inference features.Inference
	// AutoInterp generates and scores explanations with an LLM; nil turns
	// its routes into 503s that say what to configure.
	AutoInterp features.AutoInterpService
	// AutoInterpJobs starts auto-interp jobs from the source page and
	// reports their progress; nil: the page says what to configure.
	AutoInterpJobs features.AutoInterpJobs
	// Scheduler admits page and API reads under Hardening, paced against
	// the prompts Inference runs (cmd/server hands both the same one).
	Scheduler features.Scheduler
	Ready     features.Pinger
	Logger    *slog.Logger

	// BaseURL is the public origin (e.g. "https://saex.example.org") used in
	// the OpenAPI document and absolute links; "" means relative links.
	BaseURL string
	// MaxBodyBytes caps request bodies of reads and compute routes (413 past it).
	MaxBodyBytes int64
	// MaxUploadBytes caps the bodies of the upload-batch routes.
	MaxUploadBytes int64
	// ComputeTimeout bounds one compute request: waiting for a compute slot
	// (the Scheduler's) and running; past it the request gets 503, so page
	// views stay fast.
	ComputeTimeout time.Duration
	// Versions, when set, reports the version of everything the services
	// above read (one store): the feature page and GET /api/feature are then
	// served from a cache of gzipped bodies that any write makes stale.
	Versions features.DataVersioner
	// ResponseCacheBytes is that cache's budget; 0 turns it off.
	ResponseCacheBytes int64

	// Per-group middleware, applied in routes.go: production hardening
	// (API keys, rate limits, cross-origin protection) plugs in here.
	PageMiddleware    []func(http.Handler) http.Handler
	ReadMiddleware    []func(http.Handler) http.Handler
	ComputeMiddleware []func(http.Handler) http.Handler
	WriteMiddleware   []func(http.Handler) http.Handler

	// identify finds the logged-in user of a public page (set by
	// Hardening.Install); nil: nobody is logged in.
	identify func(*http.Request) *features.APIKey

	buildOnce sync.Once
	built     atomic.Bool
	router    chi.Router
	sources   *sourceCache
	respCache *responseCache
}

// NewServer returns a Server with default limits and a discarding logger;
// set its service fields, then call Handler.
func NewServer() *Server {
	return &Server{
		Logger:             slog.New(slog.DiscardHandler),
		MaxBodyBytes:       DefaultMaxBodyBytes,
		MaxUploadBytes:     DefaultMaxUploadBytes,
		ComputeTimeout:     DefaultComputeTimeout,
		ResponseCacheBytes: DefaultResponseCacheBytes,
	}
}

// logger returns the configured logger or a discarding one.
func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// reqLogger is the logger for one request's errors: every line carries
// the request id (the one the request log and the client's X-Request-Id
// show), so an error can be found from either.
func (s *Server) reqLogger(r *http.Request) *slog.Logger {
	return mw.RequestLogger(s.logger(), r)
}

// init fills zero limits with defaults and builds the caches.
func (s *Server) init() {
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.MaxUploadBytes <= 0 {
		s.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if s.ComputeTimeout <= 0 {
		s.ComputeTimeout = DefaultComputeTimeout
	}
	s.sources = newSourceCache(sourceCacheTTL)
	s.respCache = newResponseCache(s.ResponseCacheBytes)
}

// viewer returns the key of the user a request comes from: the one the
// hardening checked, or on a public page the logged-in one; nil for an
// anonymous visitor.
func (s *Server) viewer(r *http.Request) *features.APIKey {
	if k := APIKeyFrom(r.Context()); k != nil {
		return k
	}
	if s.identify != nil {
		return s.identify(r)
	}
	return nil
}

// sourceCacheTTL is how long a source read for its width is reused.
const sourceCacheTTL = 5 * time.Second

// runPrompt runs text through the model and sources within
// ComputeTimeout (the engine waits for a compute slot and serves repeated
// prompts from its recent results).
func (s *Server) runPrompt(ctx context.Context, modelID string, sourceIDs []string, text string) (*features.PromptResult, error) {
	if err := s.checkRunnable(ctx, modelID, sourceIDs); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.ComputeTimeout)
	defer cancel()
	res, err := s.Inference.RunPrompt(ctx, modelID, sourceIDs, text)
	if err != nil {
		return nil, contextualize(err, s.Inference.MaxTokens(modelID))
	}
	return res, nil
}

// checkRunnable reports why prompts cannot run on a model's sources: 404
// for an unknown model or a source the engine does not have, 503 for a
// known model without inference.
func (s *Server) checkRunnable(ctx context.Context, modelID string, sourceIDs []string) error {
	if s.Inference == nil || !s.Inference.CanRun(modelID, "") {
		if s.Catalog != nil {
			if _, err := s.Catalog.GetModel(ctx, modelID); err != nil {
				return err
			}
		}
		return features.Errorf(features.EUNAVAILABLE, "inference is not available for model %q", modelID)
	}
	for _, src := range sourceIDs {
		if !s.Inference.CanRun(modelID, src) {
			return features.Errorf(features.ENOTFOUND, "source %q of model %q cannot run prompts", src, modelID)
		}
	}
	return nil
}

// RequestIDHeader carries the request id (set by the middleware's Observe).
const RequestIDHeader = mw.RequestIDHeader
