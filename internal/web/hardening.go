package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
	mw "saex/internal/web/middleware"
	"saex/templates"
)

// Hardening is what a production saex puts around the router: API keys on
// writes (and on everything in a private instance), cross-origin
// protection, per-client rate limits on compute, body caps, per-request
// deadlines, Prometheus metrics at /metrics and one log line per request.
// Fill it in and call Install before serving.
type Hardening struct {
	// Keys checks API keys; nil uses the Server's APIKeys.
	Keys features.APIKeyService
	// Private requires a key for every route but /healthz, /readyz,
	// /static/ and the login form.
	Private bool
	// TrustedOrigins may post cross-origin (e.g. "https://lab.example.org").
	TrustedOrigins []string
	// ComputeRate limits each client on the compute API (zero: no limit).
	ComputeRate mw.Rate
	// LoginRate limits each client's key guesses at POST /login (zero:
	// DefaultLoginRate).
	LoginRate mw.Rate
	// TrustedProxies are CIDRs of reverse proxies whose X-Forwarded-For
	// names the client; empty means clients connect directly.
	TrustedProxies []string
	// TrustProxyTLS declares that clients reach saex over TLS through a
	// proxy (serve --trust-proxy): the session cookie is then Secure even
	// though the proxy's connection to saex is plain HTTP.
	TrustProxyTLS bool
	// ReadDeadline bounds page, read and compute requests apart from the
	// compute time itself (default 15 s).
	ReadDeadline time.Duration
	// WriteDeadline bounds write requests (default 2 min: large uploads),
	// the arrival of their body included.
	WriteDeadline time.Duration
	// BodyDeadline bounds the arrival of the body of a page form post, a
	// read or a compute request (default DefaultBodyDeadline).
	BodyDeadline time.Duration
	// Metrics, when not nil, records request metrics and is served at /metrics.
	Metrics *mw.Metrics
	// DBPool, when set with Metrics, exports the database pool statistics.
	DBPool func() mw.DBPoolStats
	// Logger, when not nil, gets one line per request.
	Logger *slog.Logger
}

// DefaultLoginRate bounds POST /login per client: enough for typing
// mistakes, far too few for guessing.
var DefaultLoginRate = mw.Rate{Requests: 10, Window: time.Minute}

// Default deadlines of Hardening.
const (
	DefaultReadDeadline  = 15 * time.Second
	DefaultWriteDeadline = 2 * time.Minute
)

// Install adds the hardening middleware to s's group slots and returns the
// handler to serve: s's router behind the outer layer (client address,
// request id, metrics, request log, /login, /logout, /metrics). Call it
// once, before s.Handler has been called by anyone else.
//
// Install refuses (an error, not a silent no-op) a server whose router
// was already built: the middleware would not be in it, and the server
// would run unhardened.
func (h *Hardening) Install(s *Server) (http.Handler, error) {
	if s.routerBuilt() {
		return nil, errors.New("web: Hardening.Install after the server's router was built (Handler was called): the hardening would not be in it; install it first")
	}
	keys := h.Keys
	if keys == nil {
		keys = s.APIKeys
	}
	auth, err := mw.NewAuth(keys, h.Private, h.TrustedOrigins)
	if err != nil {
		return nil, err
	}
	auth.Logger = s.reqLogger
	s.identify = auth.Identify
	auth.SecureCookies = h.TrustProxyTLS
	if h.Metrics != nil {
		auth.OnReject = h.Metrics.AuthFailure
	}
	clientIP, err := mw.ClientIP(h.TrustedProxies)
	if err != nil {
		return nil, err
	}
	readDL, writeDL := h.ReadDeadline, h.WriteDeadline
	if readDL <= 0 {
		readDL = DefaultReadDeadline
	}
	if writeDL <= 0 {
		writeDL = DefaultWriteDeadline
	}
	bodyCap, uploadCap := s.MaxBodyBytes, s.MaxUploadBytes
	if bodyCap <= 0 {
		bodyCap = DefaultMaxBodyBytes
	}
	if uploadCap <= 0 {
		uploadCap = DefaultMaxUploadBytes
	}
	computeTimeout := s.ComputeTimeout
	if computeTimeout <= 0 {
		computeTimeout = DefaultComputeTimeout
	}
	var onLimit func(*http.Request)
	if h.Metrics != nil {
		onLimit = func(*http.Request) { h.Metrics.RateLimited() }
	}

	// One budget per client for all compute: the API's and the pages' form
	// posts (the prompt tool and the feature test run the model too).
	limit := mw.RateLimitPages(h.ComputeRate, onLimit, rateLimitedPage)
	// Order inside each group: refuse cheaply first (cross-origin, rate,
	// key), then cap the body and start the clock.
	// Reads wait for the scheduler after the deadline starts: time in line
	// counts. A body gets its own deadline, suited to its cap, before
	// anything waits on it (a compute request is counted in the queue once
	// read).
	bodyWait := h.BodyDeadline
	if bodyWait <= 0 {
		bodyWait = mw.DefaultBodyDeadline
	}
	bodyDL := mw.BodyDeadline(bodyWait)
	s.PageMiddleware = append(s.PageMiddleware, auth.CrossOrigin, postsOnly(limit), auth.Gate, mw.MaxBody(bodyCap), bodyDL, mw.Deadline(readDL), admitReads(s.Scheduler, s.pageError))
	s.ReadMiddleware = append(s.ReadMiddleware, auth.Gate, mw.MaxBody(bodyCap), bodyDL, mw.Deadline(readDL), admitReads(s.Scheduler, s.apiError))
	compute := []func(http.Handler) http.Handler{limit, auth.Gate, mw.MaxBody(bodyCap), bodyDL}
	if h.Metrics != nil {
		compute = append(compute, h.Metrics.ComputeGauge)
	}
	// Compute requests may wait for a slot and run for ComputeTimeout, then
	// still read the database.
	compute = append(compute, mw.Deadline(computeTimeout+readDL))
	s.ComputeMiddleware = append(s.ComputeMiddleware, compute...)
	s.WriteMiddleware = append(s.WriteMiddleware, auth.CrossOrigin, auth.RequireWriteKey, mw.MaxBody(uploadCap), mw.BodyDeadline(writeDL), mw.Deadline(writeDL))

	router := s.Handler()
	routes, _ := router.(chi.Routes)
	if h.Metrics != nil {
		h.Metrics.ObserveCompute(func() (busy, size int) {
			if s.Scheduler == nil {
				return 0, 0
			}
			return s.Scheduler.ComputeSlots()
		})
		if s.Catalog != nil {
			h.Metrics.ObserveBuilds(s.Catalog)
		}
		if h.DBPool != nil {
			h.Metrics.ObserveDBPool(h.DBPool)
		}
	}

	loginRate := h.LoginRate
	if !loginRate.Enabled() {
		loginRate = DefaultLoginRate
	}
	login := mw.SecurityHeaders(auth.CrossOrigin(postsOnly(mw.RateLimit(loginRate, onLimit))(bodyDL(http.HandlerFunc(auth.HandleLogin)))))
	logout := mw.SecurityHeaders(auth.CrossOrigin(http.HandlerFunc(auth.HandleLogout)))
	var metrics http.Handler
	if h.Metrics != nil {
		metrics = auth.Gate(h.Metrics.Handler())
	}
	// A plain switch, not a ServeMux: the router keeps seeing paths exactly
	// as sent (ServeMux would redirect unclean ones).
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == LoginPath:
			login.ServeHTTP(w, r)
		case r.URL.Path == LogoutPath:
			logout.ServeHTTP(w, r)
		case r.URL.Path == MetricsPath && metrics != nil:
			metrics.ServeHTTP(w, r)
		default:
			router.ServeHTTP(w, r)
		}
	})
	return clientIP(mw.Observe(h.Metrics, h.Logger, routes)(outer)), nil
}

// postsOnly applies mw to POST requests only (the pages' compute forms)
// and to the prompt tool's shareable GET, which runs the model too.
func postsOnly(mw func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		limited := mw(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost || runsPrompt(r) {
				limited.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// runsPrompt reports whether a page request runs the model although it is
// a GET: the prompt tool's shareable URL (/{model}/prompt?text=...).
func runsPrompt(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasSuffix(r.URL.Path, "/prompt") &&
		strings.TrimSpace(r.URL.Query().Get("text")) != ""
}

// rateLimitedPage answers a page request over its rate limit: the styled
// error page, or for htmx a message fragment it shows in place.
func rateLimitedPage(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	c := templates.ErrorPage(templates.ErrorView{Meta: templates.Meta{Title: "Too many requests", Assets: AssetVersion()},
		Status: http.StatusTooManyRequests, Message: msg})
	if isHTMX(r) {
		c = templates.ErrorMessage(msg)
	}
	_ = c.Render(r.Context(), w)
}

// Metrics, NewMetrics and DBPoolStats live in the middleware package;
// these names keep cmd/server and the tests' wiring as it was.
type (
	Metrics     = mw.Metrics
	DBPoolStats = mw.DBPoolStats
)

// NewMetrics returns metrics registered with a fresh registry.
func NewMetrics() *Metrics { return mw.NewMetrics() }
