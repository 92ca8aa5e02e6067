// Package middleware holds saex's HTTP middleware, apart from the handler
// package: per-client rate limits and the client address they key on,
// body caps, body and request deadlines, the http.Server timeouts, the
// browser security headers (headers.go), compression (compress.go), the
// request log and recoverer (reqlog.go), Prometheus metrics (metrics.go)
// and the API-key gate with login sessions (auth.go). What they need of
// the server comes in as features interfaces and funcs; internal/web wires
// them onto its route groups (Hardening.Install) and this package never
// imports it.
package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
)

// This file holds the limits of production hardening: per-client rate
// limits on the compute API, request body caps, per-request deadlines (so
// a database outage gives fast 503s, not hung requests) and the
// http.Server timeouts.

// Rate is a request budget per client: Requests per Window. The zero Rate
// means no limit.
type Rate struct {
	Requests int
	Window   time.Duration
}

// Enabled reports whether the rate limits anything.
func (r Rate) Enabled() bool { return r.Requests > 0 && r.Window > 0 }

func (r Rate) String() string {
	if !r.Enabled() {
		return "off"
	}
	switch r.Window {
	case time.Second:
		return fmt.Sprintf("%d/s", r.Requests)
	case time.Minute:
		return fmt.Sprintf("%d/min", r.Requests)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.Requests)
	}
	return fmt.Sprintf("%d/%s", r.Requests, r.Window)
}

// ParseRate parses "120/min", "10/s", "1000/h", "50/30s" (any Go duration
// after the slash) or "off" / "0" / "" for no limit.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "off" || s == "0" || s == "none" {
		return Rate{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/unit, e.g. 120/min", s)
	}
	req, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || req < 0 {
		return Rate{}, fmt.Errorf("rate %q: %q is not a request count", s, n)
	}
	var win time.Duration
	switch per = strings.TrimSpace(per); per {
	case "s", "sec", "second":
		win = time.Second
	case "m", "min", "minute":
		win = time.Minute
	case "h", "hour":
		win = time.Hour
	default:
		if win, err = time.ParseDuration(per); err != nil || win <= 0 {
			return Rate{}, fmt.Errorf("rate %q: %q is not a time unit (s, min, h or a duration like 30s)", s, per)
		}
	}
	if req == 0 {
		return Rate{}, nil
	}
	return Rate{Requests: req, Window: win}, nil
}

// rateLimitBody is the JSON of a 429: Neuronpedia's {"error"} plus the
// budget, so clients can back off without parsing headers.
type rateLimitBody struct {
	Error         string `json:"error"`
	Limit         int    `json:"limit"`
	WindowSeconds int    `json:"windowSeconds"`
	RetryAfter    int    `json:"retryAfter"`
}

// ClientIP returns the middleware that resolves the client address rate
// limits are keyed by: the TCP peer, or with trustedProxies (CIDRs of
// reverse proxies) the right-most untrusted X-Forwarded-For entry.
func ClientIP(trustedProxies []string) (func(http.Handler) http.Handler, error) {
	if len(trustedProxies) == 0 {
		return chimw.ClientIPFromRemoteAddr, nil
	}
	for _, p := range trustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not a CIDR (e.g. 10.0.0.0/8): %w", p, err)
		}
	}
	return chimw.ClientIPFromXFF(trustedProxies...), nil
}

// clientKey is the rate-limit key: the resolved client IP (IPv6 by /64),
// or the TCP peer when no ClientIP middleware ran.
func clientKey(r *http.Request) (string, error) {
	ip := chimw.GetClientIP(r.Context())
	if ip == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		ip = host
	}
	return httprate.CanonicalizeIP(ip), nil
}

// RateLimit limits each client (see ClientIP) to rate; past it the client
// gets 429 with Retry-After and a JSON body (plain text for pages).
// onLimit, when not nil, is called for every refused request (metrics).
func RateLimit(rate Rate, onLimit func(r *http.Request)) func(http.Handler) http.Handler {
	return RateLimitPages(rate, onLimit, nil)
}

// RateLimitPages is RateLimit with page to answer a refused page request
// (the server's styled error page), given the message; nil answers plain
// text.
func RateLimitPages(rate Rate, onLimit func(r *http.Request), page func(w http.ResponseWriter, r *http.Request, msg string)) func(http.Handler) http.Handler {
	if !rate.Enabled() {
		return func(next http.Handler) http.Handler { return next }
	}
	return httprate.LimitBy(rate.Requests, rate.Window, clientKey,
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			if onLimit != nil {
				onLimit(r)
			}
			retry := int(math.Ceil(rate.Window.Seconds()))
			if v, err := strconv.Atoi(w.Header().Get("Retry-After")); err == nil && v > 0 {
				retry = v
			}
			msg := fmt.Sprintf("rate limit exceeded: at most %d requests per %s per client; retry in %d s", rate.Requests, rate.Window, retry)
			if !IsAPI(r) {
				// A page's form post (htmx shows the message in place).
				if page != nil {
					page(w, r, msg)
					return
				}
				http.Error(w, msg, http.StatusTooManyRequests)
				return
			}
			writeJSON(w, http.StatusTooManyRequests, rateLimitBody{
				Error:         msg,
				Limit:         rate.Requests,
				WindowSeconds: int(math.Ceil(rate.Window.Seconds())),
				RetryAfter:    retry,
			})
		}))
}

// MaxBody caps request bodies at limit bytes: a declared Content-Length
// over it is refused at once with 413, and reading past it fails (the
// handlers turn that into 413 too).
func MaxBody(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if limit > 0 && r.Body != nil && r.Body != http.NoBody {
				if r.ContentLength > limit {
					msg := fmt.Sprintf("request body is larger than %d bytes", limit)
					if IsAPI(r) {
						writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": msg})
					} else {
						http.Error(w, msg, http.StatusRequestEntityTooLarge)
					}
					return
				}
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Deadline bounds the work of one request, database calls included: when
// d passes they fail with a deadline error that the store reports as
// EUNAVAILABLE (503), so a hung database cannot hang requests.
func Deadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if d <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Timeouts are the http.Server's connection timeouts.
type Timeouts struct {
	// ReadHeader bounds reading the request line and headers (slowloris).
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included (uploads are large).
	Read time.Duration
	// Write bounds a request from the end of its headers to the end of the response.
	Write time.Duration
	// Idle bounds a keep-alive connection waiting for its next request.
	Idle time.Duration
}

// DefaultTimeouts suit saex. An upload of up to 64 MiB may take Read to
// arrive and then DefaultWriteDeadline to be written, and Write (counted
// from the end of the headers) covers both; every other request ends long
// before through Hardening's deadlines.
var DefaultTimeouts = Timeouts{
	ReadHeader: 10 * time.Second,
	Read:       2 * time.Minute,
	Write:      5 * time.Minute,
	Idle:       2 * time.Minute,
}

// NewHTTPServer returns an http.Server for handler with the timeouts set
// (zero fields take DefaultTimeouts') and its own errors (TLS handshakes,
// broken connections) logged to log at level warn.
func NewHTTPServer(handler http.Handler, t Timeouts, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: pick(t.ReadHeader, DefaultTimeouts.ReadHeader),
		ReadTimeout:       pick(t.Read, DefaultTimeouts.Read),
		WriteTimeout:      pick(t.Write, DefaultTimeouts.Write),
		IdleTimeout:       pick(t.Idle, DefaultTimeouts.Idle),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// DefaultBodyDeadline bounds the arrival of a page, read or compute
// request's body (at most MaxBodyBytes): a slow sender must not hold its
// connection, and a compute slot's place in line, for the server's whole
// read timeout.
const DefaultBodyDeadline = 10 * time.Second

// BodyDeadline gives a request's body d to arrive. Past it, reading the
// body fails (the handlers answer 400 naming the deadline). Once the body
// has been read to its end the connection's read deadline is cleared:
// net/http's background read of the connection would otherwise cancel the
// request when it passed.
func BodyDeadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if d <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
				next.ServeHTTP(w, r)
				return
			}
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
				next.ServeHTTP(w, r) // not a plain connection (tests' recorders)
				return
			}
			// The deadline stays when the body does not end: the server's
			// own read of the rest after the handler must not wait forever.
			r.Body = &deadlineBody{ReadCloser: r.Body, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }, d: d}
			next.ServeHTTP(w, r)
		})
	}
}

// deadlineBody clears the read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	clear   func()
	d       time.Duration
	cleared bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.done()
	} else if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = &BodyDeadlineError{Limit: b.d, Err: err}
	}
	return n, err
}

func (b *deadlineBody) done() {
	if !b.cleared {
		b.cleared = true
		b.clear()
	}
}

// BodyDeadlineError is what reading a body past its deadline returns: it
// says so in the client's terms (handlers answer it as a 400).
type BodyDeadlineError struct {
	Limit time.Duration
	Err   error
}

func (e *BodyDeadlineError) Error() string {
	return fmt.Sprintf("request body did not arrive within %s", e.Limit)
}
func (e *BodyDeadlineError) Unwrap() error { return e.Err }

// MetricsPath is where the server exports its metrics; errors there are
// JSON like the API's.
const MetricsPath = "/metrics"

// IsAPI reports whether the request is for the JSON API (JSON errors).
func IsAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == MetricsPath
}

// writeJSON writes v as JSON with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing more to do
}
