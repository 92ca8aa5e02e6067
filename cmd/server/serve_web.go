package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"saex/internal/inference"
	"saex/internal/web"
	mw "saex/internal/web/middleware"
)

// This file builds what serve serves: internal/web's router over the store,
// behind the production hardening (API keys, private mode, cross-origin
// protection, compute rate limits, body caps, deadlines, /metrics, request
// logs). Its settings are serve's flags, each with an environment default.

// hardenConfig is serve's hardening settings.
type hardenConfig struct {
	Private        bool
	ComputeRate    mw.Rate
	TrustedProxies []string
	TrustedOrigins []string
	// TrustProxy declares a TLS-terminating proxy in front: session
	// cookies are Secure though saex itself serves plain HTTP.
	TrustProxy    bool
	Metrics       bool
	ReadDeadline  time.Duration
	WriteDeadline time.Duration
	// ReadConcurrency bounds the reads served at once (0: the default,
	// two per core; negative: no bound).
	ReadConcurrency int
	// ResponseCacheBytes is the budget of the web server's cache of feature
	// pages and feature JSON (0: off).
	ResponseCacheBytes int64
	// ComputeTimeout bounds one compute request (a prompt, a steered
	// generation): waiting for a compute slot and running.
	ComputeTimeout time.Duration
}

// envBool reads a boolean environment variable ("true", "1", "yes", "on").
func envBool(env *Env, name string) (bool, error) {
	v := strings.TrimSpace(env.Getenv(name))
	switch strings.ToLower(v) {
	case "":
		return false, nil
	case "yes", "on":
		return true, nil
	case "no", "off":
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// rateFlag is a flag.Value for a mw.Rate.
type rateFlag struct{ r *mw.Rate }

func (f rateFlag) String() string {
	if f.r == nil {
		return ""
	}
	return f.r.String()
}

func (f rateFlag) Set(s string) error {
	r, err := mw.ParseRate(s)
	if err != nil {
		return err
	}
	*f.r = r
	return nil
}

// listFlag is a flag.Value for a comma-separated list.
type listFlag struct{ l *[]string }

func (f listFlag) String() string {
	if f.l == nil {
		return ""
	}
	return strings.Join(*f.l, ",")
}

func (f listFlag) Set(s string) error {
	*f.l = splitList(s)
	return nil
}

// addHardenFlags registers serve's hardening flags with their environment
// defaults; an invalid environment value is an error, not a silent default.
func addHardenFlags(fs *flag.FlagSet, env *Env, cfg *hardenConfig) error {
	var err error
	if cfg.Private, err = envBool(env, "SAEX_PRIVATE"); err != nil {
		return err
	}
	if cfg.TrustProxy, err = envBool(env, "SAEX_TRUST_PROXY"); err != nil {
		return err
	}
	cfg.Metrics = true
	if v := env.Getenv("SAEX_METRICS"); v != "" {
		if cfg.Metrics, err = envBool(env, "SAEX_METRICS"); err != nil {
			return err
		}
	}
	rate := env.Getenv("SAEX_COMPUTE_RATE")
	if rate == "" {
		rate = "120/min"
	}
	if cfg.ComputeRate, err = mw.ParseRate(rate); err != nil {
		return fmt.Errorf("SAEX_COMPUTE_RATE: %w", err)
	}
	cfg.TrustedProxies = splitList(env.Getenv("SAEX_TRUSTED_PROXIES"))
	cfg.TrustedOrigins = splitList(env.Getenv("SAEX_TRUSTED_ORIGINS"))
	cfg.ReadDeadline, cfg.WriteDeadline = web.DefaultReadDeadline, web.DefaultWriteDeadline
	cfg.ResponseCacheBytes = web.DefaultResponseCacheBytes
	if v := env.Getenv("SAEX_READ_CONCURRENCY"); v != "" {
		if cfg.ReadConcurrency, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("SAEX_READ_CONCURRENCY: %q is not a whole number", v)
		}
	}
	if v := env.Getenv("SAEX_RESPONSE_CACHE"); v != "" {
		if cfg.ResponseCacheBytes, err = parseBytes(v); err != nil {
			return fmt.Errorf("SAEX_RESPONSE_CACHE: %w", err)
		}
	}
	cfg.ComputeTimeout = web.DefaultComputeTimeout
	if v := env.Getenv("SAEX_COMPUTE_TIMEOUT"); v != "" {
		if cfg.ComputeTimeout, err = parseTimeout(v); err != nil {
			return fmt.Errorf("SAEX_COMPUTE_TIMEOUT: %w", err)
		}
	}
	fs.BoolVar(&cfg.Private, "private", cfg.Private, "require an API key for every page and API route (env SAEX_PRIVATE)")
	fs.BoolVar(&cfg.Metrics, "metrics", cfg.Metrics, "serve Prometheus metrics at /metrics (env SAEX_METRICS)")
	fs.Var(rateFlag{&cfg.ComputeRate}, "compute-rate", "per-client limit on running the model (compute API and the pages' prompt and test forms), e.g. 120/min, 10/s, off (env SAEX_COMPUTE_RATE)")
	fs.Var(listFlag{&cfg.TrustedProxies}, "trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (env SAEX_TRUSTED_PROXIES)")
	fs.BoolVar(&cfg.TrustProxy, "trust-proxy", cfg.TrustProxy, "clients reach saex over HTTPS through a reverse proxy: mark the login session cookie Secure (env SAEX_TRUST_PROXY)")
	fs.Var(listFlag{&cfg.TrustedOrigins}, "trusted-origins", "comma-separated origins allowed to post cross-origin, e.g. https://lab.example.org (env SAEX_TRUSTED_ORIGINS)")
	fs.DurationVar(&cfg.ReadDeadline, "read-deadline", cfg.ReadDeadline, "longest a page or API read may take, database included, before it answers 503")
	fs.DurationVar(&cfg.WriteDeadline, "write-deadline", cfg.WriteDeadline, "longest a write (upload) may take")
	fs.IntVar(&cfg.ReadConcurrency, "read-concurrency", cfg.ReadConcurrency, "page and API reads served at once, the rest queued in arrival order; 0: two per core, -1: no bound (env SAEX_READ_CONCURRENCY)")
	fs.Var(timeoutFlag{&cfg.ComputeTimeout}, "compute-timeout", "longest one compute request (a prompt, a steered generation) may wait for the model and run before it answers 503, e.g. 10s, 2m (env SAEX_COMPUTE_TIMEOUT)")
	fs.Var(bytesFlag{&cfg.ResponseCacheBytes}, "response-cache", "memory for the cache of gzipped feature pages and feature JSON, emptied by any write, e.g. 64MiB, 0 or off to disable (env SAEX_RESPONSE_CACHE)")
	return nil
}

// parseBytes reads a size: a number of bytes with an optional unit (KB,
// MB, GB in powers of 1000; KiB, MiB, GiB in powers of 1024); "off" is 0.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "off") {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("invalid size %q: want bytes, e.g. 64MiB, or off", s)
	}
	return n * mult, nil
}

// bytesFlag is a flag.Value for a size read by parseBytes.
type bytesFlag struct{ n *int64 }

func (f bytesFlag) String() string {
	if f.n == nil {
		return ""
	}
	return strconv.FormatInt(*f.n, 10)
}

func (f bytesFlag) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*f.n = n
	return nil
}

// parseTimeout reads a positive duration ("45s", "2m").
func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid duration %q: want a positive duration, e.g. 10s or 2m", s)
	}
	return d, nil
}

// timeoutFlag is a flag.Value for a duration read by parseTimeout.
type timeoutFlag struct{ d *time.Duration }

func (f timeoutFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f timeoutFlag) Set(s string) error {
	d, err := parseTimeout(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// webServerHooks adjust the web server before its router is built: the
// inference-engine wiring sets s.Inference here.
var webServerHooks []func(ctx context.Context, d *serveDeps, s *web.Server) error

// buildWebHandler is serve's handler: the web server over d.DB with the
// hooks applied, behind the hardening in d.Harden.
func buildWebHandler(ctx context.Context, d *serveDeps) (http.Handler, error) {
	s := web.NewServer()
	s.Catalog, s.Features, s.Explanations = d.DB, d.DB, d.DB
	s.Writer, s.APIKeys, s.Ready = d.DB, d.DB, d.DB
	s.Registry, s.Lists, s.Vectors = d.DB, d.DB, d.DB
	s.Versions = d.DB
	s.Logger = d.Log
	cfg := d.Harden
	if cfg == nil {
		cfg = &hardenConfig{Metrics: true, ResponseCacheBytes: web.DefaultResponseCacheBytes}
	}
	s.ResponseCacheBytes = cfg.ResponseCacheBytes
	if cfg.ComputeTimeout > 0 {
		s.ComputeTimeout = cfg.ComputeTimeout
	}
	// One scheduler paces prompts against reads: the engine's.
	if d.Engine != nil {
		s.Scheduler = d.Engine.Scheduler()
	} else {
		s.Scheduler = inference.NewScheduler(inference.DefaultComputeSlots, cfg.ReadConcurrency)
	}
	for _, hook := range webServerHooks {
		if err := hook(ctx, d, s); err != nil {
			return nil, err
		}
	}
	h := &web.Hardening{
		Private:        cfg.Private,
		TrustedOrigins: cfg.TrustedOrigins,
		ComputeRate:    cfg.ComputeRate,
		TrustedProxies: cfg.TrustedProxies,
		TrustProxyTLS:  cfg.TrustProxy,
		ReadDeadline:   cfg.ReadDeadline,
		WriteDeadline:  cfg.WriteDeadline,
		Logger:         d.Log,
	}
	if cfg.Metrics {
		h.Metrics = web.NewMetrics()
		pool := d.DB.Pool
		h.DBPool = func() web.DBPoolStats {
			st := pool.Stat()
			return web.DBPoolStats{
				AcquiredConns: st.AcquiredConns(), IdleConns: st.IdleConns(), TotalConns: st.TotalConns(),
				ConstructingConns: st.ConstructingConns(), MaxConns: st.MaxConns(),
				AcquireCount: st.AcquireCount(), AcquireDuration: st.AcquireDuration(),
				EmptyAcquireCount: st.EmptyAcquireCount(), CanceledAcquireCount: st.CanceledAcquireCount(),
				NewConnsCount: st.NewConnsCount(),
			}
		}
	}
	handler, err := h.Install(s)
	if err != nil {
		return nil, err
	}
	d.Log.Info("web server", "private", cfg.Private, "compute_rate", cfg.ComputeRate.String(), "metrics", cfg.Metrics,
		"inference", s.Inference != nil, "response_cache_bytes", cfg.ResponseCacheBytes, "compute_timeout", s.ComputeTimeout.String())
	return handler, nil
}
