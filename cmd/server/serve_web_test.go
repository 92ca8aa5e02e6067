package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"saex/internal/store/storetest"
	"saex/internal/web"
	mw "saex/internal/web/middleware"
)

func TestHardenFlags(t *testing.T) {
	parse := func(env map[string]string, args ...string) (hardenConfig, error) {
		e := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
		fs := newFlagSet(e, "serve")
		var cfg hardenConfig
		if err := addHardenFlags(fs, e, &cfg); err != nil {
			return cfg, err
		}
		return cfg, fs.Parse(args)
	}
	cfg, err := parse(nil)
	if err != nil || cfg.Private || !cfg.Metrics || cfg.ComputeRate != (mw.Rate{Requests: 120, Window: time.Minute}) {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	cfg, err = parse(map[string]string{"SAEX_PRIVATE": "true", "SAEX_COMPUTE_RATE": "10/s", "SAEX_METRICS": "off",
		"SAEX_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.0.0/16", "SAEX_TRUSTED_ORIGINS": "https://lab.example.org"})
	if err != nil || !cfg.Private || cfg.Metrics || cfg.ComputeRate != (mw.Rate{Requests: 10, Window: time.Second}) ||
		len(cfg.TrustedProxies) != 2 || cfg.TrustedOrigins[0] != "https://lab.example.org" {
		t.Fatalf("environment: %+v %v", cfg, err)
	}
	// Flags win over the environment.
	cfg, err = parse(map[string]string{"SAEX_PRIVATE": "true", "SAEX_READ_CONCURRENCY": "8"}, "--private=false", "--compute-rate", "off", "--read-deadline", "3s", "--read-concurrency", "3")
	if err != nil || cfg.Private || cfg.ComputeRate.Enabled() || cfg.ReadDeadline != 3*time.Second || cfg.ReadConcurrency != 3 {
		t.Fatalf("flags: %+v %v", cfg, err)
	}
	// A typo in the environment is an error, not a silent default.
	for k, v := range map[string]string{"SAEX_PRIVATE": "ture", "SAEX_COMPUTE_RATE": "lots", "SAEX_METRICS": "maybe", "SAEX_READ_CONCURRENCY": "four"} {
		if _, err := parse(map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v, want one naming the variable", k, v, err)
		}
	}
	if _, err := parse(nil, "--compute-rate", "10/fortnight"); err == nil {
		t.Errorf("bad --compute-rate accepted")
	}
	// The response cache: on by default, sized by environment or flag.
	if cfg, _ := parse(nil); cfg.ResponseCacheBytes != web.DefaultResponseCacheBytes {
		t.Errorf("default response cache %d bytes", cfg.ResponseCacheBytes)
	}
	for env, want := range map[string]int64{"off": 0, "0": 0, "16MiB": 16 << 20, "2 GB": 2e9, "4096": 4096} {
		if cfg, err := parse(map[string]string{"SAEX_RESPONSE_CACHE": env}); err != nil || cfg.ResponseCacheBytes != want {
			t.Errorf("SAEX_RESPONSE_CACHE=%s: %d %v, want %d", env, cfg.ResponseCacheBytes, err, want)
		}
	}
	if cfg, err := parse(map[string]string{"SAEX_RESPONSE_CACHE": "off"}, "--response-cache", "1KiB"); err != nil || cfg.ResponseCacheBytes != 1024 {
		t.Errorf("--response-cache 1KiB: %d %v", cfg.ResponseCacheBytes, err)
	}
	if _, err := parse(map[string]string{"SAEX_RESPONSE_CACHE": "lots"}); err == nil || !strings.Contains(err.Error(), "SAEX_RESPONSE_CACHE") {
		t.Errorf("bad SAEX_RESPONSE_CACHE: %v", err)
	}
	if _, err := parse(nil, "--response-cache", "-5MB"); err == nil {
		t.Errorf("negative --response-cache accepted")
	}
}

// TestServeHandlerIsHardened builds serve's handler as runServe does and
// checks that the hardening is really in front of the router.
func TestServeHandlerIsHardened(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	key, _, err := db.CreateAPIKey(ctx, "serve test")
	if err != nil {
		t.Fatal(err)
	}
	serve := func(cfg hardenConfig) *httptest.Server {
		return serveTest(ctx, t, &serveDeps{DB: db, Log: slog.New(slog.DiscardHandler), Harden: &cfg, Background: &sync.WaitGroup{}})
	}
	call := func(ts *httptest.Server, method, path, key string) (int, string) {
		return callJSON(t, ts, method, path, key, `{}`)
	}

	public := serve(hardenConfig{Metrics: true, ComputeRate: mw.Rate{Requests: 100, Window: time.Minute}})
	for _, c := range []struct {
		method, path, key string
		want              int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/api/models", "", 200},
		{"POST", "/api/feature/upload-batch", "", 401},
		{"POST", "/api/feature/upload-batch", key, 400}, // past the key check: the empty body is refused
	} {
		if st, b := call(public, c.method, c.path, c.key); st != c.want {
			t.Errorf("public %s %s: %d, want %d: %.200s", c.method, c.path, st, c.want, b)
		}
	}
	if st, b := call(public, "GET", "/metrics", ""); st != 200 || !strings.Contains(b, "saex_db_pool_max_conns") || !strings.Contains(b, `route="/api/models"`) {
		t.Errorf("/metrics: %d %.300s", st, b)
	}

	private := serve(hardenConfig{Private: true, Metrics: true})
	for _, c := range []struct {
		method, path, key string
		want              int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/", "", 401},
		{"GET", "/api/models", "", 401},
		{"GET", "/metrics", "", 401},
		{"GET", "/api/models", key, 200},
		{"GET", "/metrics", key, 200},
	} {
		if st, b := call(private, c.method, c.path, c.key); st != c.want {
			t.Errorf("private %s %s (key %v): %d, want %d: %.200s", c.method, c.path, c.key != "", st, c.want, b)
		}
	}
	off := serve(hardenConfig{})
	if st, _ := call(off, "GET", "/metrics", ""); st == 200 {
		t.Errorf("/metrics served with metrics off")
	}
}

// TestComputeTimeoutFlag: --compute-timeout (env SAEX_COMPUTE_TIMEOUT)
// defaults to 10 s, refuses what is not a positive duration, and reaches
// the web server that serve builds.
func TestComputeTimeoutFlag(t *testing.T) {
	parse := func(env map[string]string, args ...string) (hardenConfig, error) {
		e := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
		fs := newFlagSet(e, "serve")
		var cfg hardenConfig
		if err := addHardenFlags(fs, e, &cfg); err != nil {
			return cfg, err
		}
		return cfg, fs.Parse(args)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want time.Duration
	}{
		{nil, nil, 10 * time.Second},
		{map[string]string{"SAEX_COMPUTE_TIMEOUT": "90s"}, nil, 90 * time.Second},
		{map[string]string{"SAEX_COMPUTE_TIMEOUT": "90s"}, []string{"--compute-timeout", "2m"}, 2 * time.Minute},
	} {
		if cfg, err := parse(c.env, c.args...); err != nil || cfg.ComputeTimeout != c.want {
			t.Errorf("%v %v: %v %v, want %v", c.env, c.args, cfg.ComputeTimeout, err, c.want)
		}
	}
	for _, bad := range []string{"0s", "-5s", "soon", "10"} {
		if _, err := parse(nil, "--compute-timeout", bad); err == nil || !strings.Contains(err.Error(), "compute-timeout") {
			t.Errorf("--compute-timeout %s: %v, want an error naming the flag", bad, err)
		}
		if _, err := parse(map[string]string{"SAEX_COMPUTE_TIMEOUT": bad}); err == nil || !strings.Contains(err.Error(), "SAEX_COMPUTE_TIMEOUT") {
			t.Errorf("SAEX_COMPUTE_TIMEOUT=%s: %v, want an error naming the variable", bad, err)
		}
	}

	// The parsed value is what the web server runs with.
	cfg, err := parse(nil, "--compute-timeout", "45s")
	if err != nil {
		t.Fatal(err)
	}
	var got time.Duration
	saved := webServerHooks
	webServerHooks = append(append([]func(context.Context, *serveDeps, *web.Server) error{}, saved...),
		func(_ context.Context, _ *serveDeps, s *web.Server) error { got = s.ComputeTimeout; return nil })
	t.Cleanup(func() { webServerHooks = saved })
	db := storetest.NewDB(t)
	d := &serveDeps{DB: db, Log: slog.New(slog.DiscardHandler), Harden: &cfg, Background: &sync.WaitGroup{}}
	if _, err := buildWebHandler(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got != 45*time.Second {
		t.Errorf("web server's compute timeout %v, want 45s", got)
	}
}
