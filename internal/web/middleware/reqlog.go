package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
)

// Paths served outside the router, by the hardening layer itself.
const (
	LoginPath  = "/login"
	LogoutPath = "/logout"
)

// RequestIDHeader carries the request id: taken from the client when it
// sends a sane one (a proxy's), generated otherwise, and echoed back.
const RequestIDHeader = "X-Request-Id"

// reqIDCtx is the context key of the request id.
type reqIDCtx struct{}

// RequestID returns the request's id, or "" outside Observe.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(reqIDCtx{}).(string)
	return id
}

// saneRequestID accepts ids of 1 to 64 letters, digits, '-', '_' and '.'
// (no spaces or control characters to forge log lines with).
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// quietPaths are probed every few seconds by orchestrators and scrapers:
// their request logs go to debug level.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, MetricsPath: true}

// ownPaths are served outside the router; they are their own route label.
var ownPaths = map[string]bool{LoginPath: true, LogoutPath: true, MetricsPath: true}

// Observe is the outermost middleware: it gives every request an id,
// records its latency by chi route pattern in m (when not nil) and writes
// one structured log line per request to log (when not nil): method,
// route, path, status, duration, bytes, request id and client address.
//
// routes, when not nil, is the chi router being served: Observe puts a
// routing context into the request before the router sees it, so that the
// matched pattern can be read once the router is done (chi reuses a
// context it finds instead of making its own).
func Observe(m *Metrics, log *slog.Logger, routes chi.Routes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get(RequestIDHeader)
			if !saneRequestID(id) {
				id = newRequestID()
			}
			w.Header().Set(RequestIDHeader, id)
			rctx := chi.NewRouteContext()
			rctx.Routes = routes
			ctx := context.WithValue(r.Context(), reqIDCtx{}, id)
			ctx = context.WithValue(ctx, chi.RouteCtxKey, rctx)
			ww := chimw.NewWrapResponseWriter(w, r.ProtoMajor)
			m.BeginRequest()
			defer func() {
				// Runs on panics too (http.ErrAbortHandler): the line is still logged.
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK // the handler wrote nothing
				}
				route := rctx.RoutePattern()
				switch {
				case route == "" && ownPaths[r.URL.Path]:
					route = r.URL.Path
				case route == "":
					route = "unmatched"
				}
				d := time.Since(start)
				m.EndRequest(route, r.Method, status, d)
				if log == nil {
					return
				}
				level := slog.LevelInfo
				switch {
				case status >= 500:
					level = slog.LevelWarn
				case quietPaths[r.URL.Path]:
					level = slog.LevelDebug
				}
				log.LogAttrs(r.Context(), level, "request",
					slog.String("method", r.Method),
					slog.String("route", route),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Float64("duration_ms", float64(d.Microseconds())/1000),
					slog.Int("bytes", ww.BytesWritten()),
					slog.String("request_id", id),
					slog.String("remote", clientAddr(r)),
				)
			}()
			next.ServeHTTP(ww, r.WithContext(ctx))
		})
	}
}

// clientAddr is the resolved client IP when known, else the TCP peer.
func clientAddr(r *http.Request) string {
	if ip := chimw.GetClientIP(r.Context()); ip != "" {
		return ip
	}
	return r.RemoteAddr
}

// RequestLogger is base with the request's id on every line (the id the
// request log and the client's X-Request-Id show), so that an error can be
// found from either.
func RequestLogger(base *slog.Logger, r *http.Request) *slog.Logger {
	if id := RequestID(r.Context()); id != "" {
		return base.With("request_id", id)
	}
	return base
}

// Recoverer turns a panicking handler into a 500 (JSON under /api/) and
// logs the panic with its stack to logger(r) (RequestLogger's, so the
// request id ties it to the request log).
func Recoverer(logger func(*http.Request) *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler {
					panic(rec)
				}
				logger(r).Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", rec, "stack", string(debug.Stack()))
				if strings.HasPrefix(r.URL.Path, "/api/") {
					writeJSON(w, http.StatusInternalServerError, struct {
						Error string `json:"error"`
					}{"internal error"})
					return
				}
				http.Error(w, "internal error", http.StatusInternalServerError)
			}()
			next.ServeHTTP(w, r)
		})
	}
}
