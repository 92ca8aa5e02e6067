package middleware

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"saex/internal/features"
)

// Metrics are saex's Prometheus metrics, in a registry of their own (not
// the global default) so tests and several servers in one process stay
// isolated. Build it with NewMetrics, attach the compute pool, the builds
// and the database with ObserveCompute, ObserveBuilds and ObserveDBPool,
// and serve Handler at /metrics. A nil *Metrics records nothing.
type Metrics struct {
	Registry *prometheus.Registry

	requests     *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	computeN     atomic.Int64 // compute requests in flight
	rateLimited  prometheus.Counter
	authFailures *prometheus.CounterVec
	scrapeErrors prometheus.Counter
}

// requestBuckets span a cached page (~1 ms) to a compute request at its
// deadline (10 s).
var requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics returns metrics registered with a fresh registry, with the Go
// runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "saex_http_request_duration_seconds",
			Help:    "HTTP request latency by chi route pattern, method and status class.",
			Buckets: requestBuckets,
		}, []string{"route", "method", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "saex_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saex_rate_limited_total",
			Help: "Requests refused with 429 by the per-client rate limit.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saex_auth_failures_total",
			Help: "Requests refused by the API-key check, by status.",
		}, []string{"status"}),
		scrapeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saex_metrics_scrape_errors_total",
			Help: "Scrapes whose build-progress query failed (database unavailable).",
		}),
	}
	computeInFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "saex_compute_requests_in_flight",
		Help: "Compute API requests being served (running or waiting for a compute slot).",
	}, func() float64 { return float64(m.computeN.Load()) })
	m.Registry.MustRegister(m.requests, m.inFlight, computeInFlight, m.rateLimited, m.authFailures, m.scrapeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, Timeout: 10 * time.Second})
}

// statusClass buckets a status code ("2xx") to keep label cardinality low.
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return string(rune('0'+code/100)) + "xx"
}

// methodLabel keeps the method label to a fixed set.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return m
	}
	return "other"
}

// BeginRequest counts a request in flight until its EndRequest.
func (m *Metrics) BeginRequest() {
	if m != nil {
		m.inFlight.Inc()
	}
}

// EndRequest records one finished request by its chi route pattern.
func (m *Metrics) EndRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	m.requests.WithLabelValues(route, methodLabel(method), statusClass(status)).Observe(d.Seconds())
}

// RateLimited counts one request refused by a rate limit.
func (m *Metrics) RateLimited() {
	if m != nil {
		m.rateLimited.Inc()
	}
}

// AuthFailure counts one request refused by the API-key check, labelled
// by its exact status (401, 403, 503).
func (m *Metrics) AuthFailure(status int) {
	if m != nil {
		m.authFailures.WithLabelValues(statusClassExact(status)).Inc()
	}
}

// statusClassExact labels auth failures by their exact status.
func statusClassExact(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "401"
	case http.StatusForbidden:
		return "403"
	case http.StatusServiceUnavailable:
		return "503"
	}
	return "other"
}

// ComputeGauge counts compute requests in flight (for the queue depth)
// from the moment their body has been read: a client still sending is not
// waiting for the model.
func (m *Metrics) ComputeGauge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		counted := false
		count := func() {
			if !counted {
				counted = true
				m.computeN.Add(1)
			}
		}
		defer func() {
			if counted {
				m.computeN.Add(-1)
			}
		}()
		if r.Body == nil || r.Body == http.NoBody {
			count()
		} else {
			r.Body = &onEOF{ReadCloser: r.Body, f: count}
		}
		next.ServeHTTP(w, r)
	})
}

// onEOF calls f when the body has been read to its end.
type onEOF struct {
	io.ReadCloser
	f func()
}

func (b *onEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.f()
	}
	return n, err
}

// ObserveCompute exports the compute pool (slots, busy slots, queue
// depth); slots reports the busy slots and the pool's size at each scrape.
func (m *Metrics) ObserveCompute(slots func() (busy, size int)) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "saex_compute_slots",
			Help: "Size of the compute pool (prompts that may run at once).",
		}, func() float64 { _, n := slots(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "saex_compute_slots_busy",
			Help: "Compute slots running a prompt now.",
		}, func() float64 { b, _ := slots(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "saex_compute_queue_depth",
			Help: "Compute requests in flight beyond the busy slots: those waiting for a slot (approximate: a request between prompts counts too).",
		}, func() float64 {
			b, _ := slots()
			return float64(max(m.computeN.Load()-int64(b), 0))
		}),
	)
}

// ObserveBuilds exports the dashboard-build progress of every source in
// catalog, read at each scrape.
func (m *Metrics) ObserveBuilds(catalog features.CatalogService) {
	m.Registry.MustRegister(&buildCollector{catalog: catalog, errors: m.scrapeErrors})
}

// DBPoolStats is a snapshot of the database connection pool (pgxpool's
// Stat, copied so that this package needs no driver import).
type DBPoolStats struct {
	AcquiredConns        int32
	IdleConns            int32
	TotalConns           int32
	ConstructingConns    int32
	MaxConns             int32
	AcquireCount         int64
	AcquireDuration      time.Duration
	EmptyAcquireCount    int64
	CanceledAcquireCount int64
	NewConnsCount        int64
}

// ObserveDBPool exports the pool statistics stats returns at each scrape.
func (m *Metrics) ObserveDBPool(stats func() DBPoolStats) {
	m.Registry.MustRegister(&poolCollector{stats: stats})
}

var (
	poolDescs = struct {
		acquired, idle, total, constructing, max, acquires, acquireSecs, emptyAcquires, canceled, newConns *prometheus.Desc
	}{
		acquired:      prometheus.NewDesc("saex_db_pool_acquired_conns", "Connections checked out of the pool.", nil, nil),
		idle:          prometheus.NewDesc("saex_db_pool_idle_conns", "Idle connections in the pool.", nil, nil),
		total:         prometheus.NewDesc("saex_db_pool_total_conns", "Connections in the pool (acquired, idle and being built).", nil, nil),
		constructing:  prometheus.NewDesc("saex_db_pool_constructing_conns", "Connections being opened.", nil, nil),
		max:           prometheus.NewDesc("saex_db_pool_max_conns", "Largest size of the pool.", nil, nil),
		acquires:      prometheus.NewDesc("saex_db_pool_acquires_total", "Successful connection acquisitions.", nil, nil),
		acquireSecs:   prometheus.NewDesc("saex_db_pool_acquire_seconds_total", "Time spent acquiring connections.", nil, nil),
		emptyAcquires: prometheus.NewDesc("saex_db_pool_empty_acquires_total", "Acquisitions that had to wait for a connection.", nil, nil),
		canceled:      prometheus.NewDesc("saex_db_pool_canceled_acquires_total", "Acquisitions abandoned because their context ended.", nil, nil),
		newConns:      prometheus.NewDesc("saex_db_pool_new_conns_total", "Connections opened.", nil, nil),
	}
	buildDescs = struct {
		featuresDone, featuresTotal, contextsDone, contextsTotal, state *prometheus.Desc
	}{
		featuresDone:  prometheus.NewDesc("saex_build_features_done", "Features whose dashboards are built.", []string{"model", "source"}, nil),
		featuresTotal: prometheus.NewDesc("saex_build_features_total", "Features to build.", []string{"model", "source"}, nil),
		contextsDone:  prometheus.NewDesc("saex_build_contexts_done", "Corpus contexts run through the model.", []string{"model", "source"}, nil),
		contextsTotal: prometheus.NewDesc("saex_build_contexts_total", "Corpus contexts to run.", []string{"model", "source"}, nil),
		state:         prometheus.NewDesc("saex_build_state", "1 for the build's current state (pending, running, done, failed).", []string{"model", "source", "state"}, nil),
	}
)

// poolCollector reads DBPoolStats at scrape time.
type poolCollector struct{ stats func() DBPoolStats }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	d := poolDescs
	for _, x := range []*prometheus.Desc{d.acquired, d.idle, d.total, d.constructing, d.max, d.acquires, d.acquireSecs, d.emptyAcquires, d.canceled, d.newConns} {
		ch <- x
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	d := poolDescs
	g := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
	n := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v)
	}
	g(d.acquired, float64(s.AcquiredConns))
	g(d.idle, float64(s.IdleConns))
	g(d.total, float64(s.TotalConns))
	g(d.constructing, float64(s.ConstructingConns))
	g(d.max, float64(s.MaxConns))
	n(d.acquires, float64(s.AcquireCount))
	n(d.acquireSecs, s.AcquireDuration.Seconds())
	n(d.emptyAcquires, float64(s.EmptyAcquireCount))
	n(d.canceled, float64(s.CanceledAcquireCount))
	n(d.newConns, float64(s.NewConnsCount))
}

// buildCollector reads every source's BuildStatus at scrape time.
type buildCollector struct {
	catalog features.CatalogService
	errors  prometheus.Counter
}

func (c *buildCollector) Describe(ch chan<- *prometheus.Desc) {
	d := buildDescs
	for _, x := range []*prometheus.Desc{d.featuresDone, d.featuresTotal, d.contextsDone, d.contextsTotal, d.state} {
		ch <- x
	}
}

func (c *buildCollector) Collect(ch chan<- prometheus.Metric) {
	// A short deadline: a scrape during a database outage must not hang.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	models, err := c.catalog.ListModels(ctx)
	if err != nil {
		c.errors.Inc()
		return
	}
	d := buildDescs
	for _, m := range models {
		sources, err := c.catalog.ListSources(ctx, m.ID)
		if err != nil {
			c.errors.Inc()
			return
		}
		for _, s := range sources {
			b := s.Build
			if b == nil {
				continue
			}
			g := func(desc *prometheus.Desc, v int) {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v), m.ID, s.ID)
			}
			g(d.featuresDone, b.FeaturesDone)
			g(d.featuresTotal, b.FeaturesTotal)
			g(d.contextsDone, b.ContextsDone)
			g(d.contextsTotal, b.ContextsTotal)
			for _, st := range []string{features.BuildPending, features.BuildRunning, features.BuildDone, features.BuildFailed} {
				v := 0.0
				if b.State == st {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(d.state, prometheus.GaugeValue, v, m.ID, s.ID, st)
			}
		}
	}
}
