package webtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This is the one load generator of the repository: the web benchmarks
// (load_test.go), scripts/loadgen and the reliability runs
// (internal/reliability) all drive it. It is closed-loop: each worker
// sends a request, reads the whole response and sends the next.

// Request is one HTTP request of a load run.
type Request struct {
	Method string
	URL    string
	Body   []byte // sent as application/json when not nil
	Header map[string]string
}

// Route is one kind of request and the workers (connections) that send it.
type Route struct {
	Name    string
	Workers int
	// Next returns the route's n-th request (n counts from 0 across all the
	// route's workers, so it is unique within the run; worker is the
	// caller). It is called concurrently.
	Next func(worker, n int) Request
}

// LoadConfig describes a closed-loop run, which ends when Duration passes
// or MaxRequests are done, whichever comes first (at least one must be
// set).
type LoadConfig struct {
	Routes      []Route
	Duration    time.Duration
	MaxRequests int // over all routes; 0: no limit
	// Timeout bounds one request (default 30 s); a timeout counts as status 0.
	Timeout time.Duration
	// Gzip sends Accept-Encoding: gzip, as browsers and the Neuronpedia
	// client do (the body is read but not decompressed).
	Gzip bool
	// Warmup requests of each route are sent first, one at a time, and not
	// counted; Next numbers the counted ones after them.
	Warmup int
	// OnResult, when set, sees every counted request (e.g. to keep
	// acknowledged writes). It is called concurrently.
	OnResult func(route string, req Request, status int)
}

// Sample is one finished request.
type Sample struct {
	At      time.Duration // since the start of the run
	Latency time.Duration // from sending the request to reading the last byte
	Status  int           // 0: no response (connection refused, reset, timeout)
}

// RouteStats summarises one route of a run.
type RouteStats struct {
	Name     string
	Workers  int
	Samples  []Sample // in order of sending
	Statuses map[int]int
	// P50, P90, P99 and Max are latencies over every request of the route.
	P50, P90, P99, Max time.Duration
	// MaxByStatus is the slowest request of each status (how fast 503s were).
	MaxByStatus map[int]time.Duration
	RPS         float64
	// FirstError describes one request that got no 2xx answer, for reports.
	FirstError string
}

// Count is the number of finished requests.
func (s *RouteStats) Count() int { return len(s.Samples) }

// Count5xx is the number of 5xx responses.
func (s *RouteStats) Count5xx() int {
	n := 0
	for st, c := range s.Statuses {
		if st >= 500 {
			n += c
		}
	}
	return n
}

// Errors is the number of requests without a 2xx answer (no response
// included).
func (s *RouteStats) Errors() int {
	n := 0
	for st, c := range s.Statuses {
		if st < 200 || st > 299 {
			n += c
		}
	}
	return n
}

func (s *RouteStats) String() string {
	return fmt.Sprintf("%d requests, %d errors, %.0f req/s, p50 %s ms, p90 %s ms, p99 %s ms, max %s ms",
		s.Count(), s.Errors(), s.RPS, Millis(s.P50), Millis(s.P90), Millis(s.P99), Millis(s.Max))
}

// LoadResult is a run's outcome by route, in the order of the config.
type LoadResult struct {
	Routes  []*RouteStats
	Elapsed time.Duration
}

// Route returns the stats of a route by name, or nil.
func (r *LoadResult) Route(name string) *RouteStats {
	for _, s := range r.Routes {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Millis formats d in milliseconds with one decimal.
func Millis(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// Table formats the result as a Markdown table.
func (r *LoadResult) Table() string {
	var b strings.Builder
	b.WriteString("| route | workers | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | statuses |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, s := range r.Routes {
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %s | %s | %s | %s | %s |\n", s.Name, s.Workers, s.Count(), s.RPS,
			Millis(s.P50), Millis(s.P90), Millis(s.P99), Millis(s.Max), StatusList(s.Statuses))
	}
	return b.String()
}

// StatusList formats status counts as "200:1234 503:12".
func StatusList(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// Timeline buckets samples by second: for each second of the run, the
// count of each status across the given routes.
func Timeline(routes ...*RouteStats) []map[int]int {
	var out []map[int]int
	for _, r := range routes {
		if r == nil {
			continue
		}
		for _, s := range r.Samples {
			sec := int(s.At / time.Second)
			for len(out) <= sec {
				out = append(out, map[int]int{})
			}
			out[sec][s.Status]++
		}
	}
	return out
}

// percentile returns the q-quantile (nearest rank) of sorted latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Load runs cfg and returns per-route statistics. It only talks to the URLs
// the routes return: point them at loopback.
func Load(ctx context.Context, cfg LoadConfig) (*LoadResult, error) {
	if len(cfg.Routes) == 0 || (cfg.Duration <= 0 && cfg.MaxRequests <= 0) {
		return nil, fmt.Errorf("load: need Routes, and Duration or MaxRequests")
	}
	total := 0
	for _, r := range cfg.Routes {
		if r.Workers <= 0 || r.Next == nil {
			return nil, fmt.Errorf("load: route %q needs Workers > 0 and Next", r.Name)
		}
		total += r.Workers
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	client := &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{
		MaxIdleConns:        total * 2,
		MaxIdleConnsPerHost: total * 2,
		DisableCompression:  true, // Accept-Encoding is Gzip's business
	}}
	defer client.CloseIdleConnections()
	send := func(ctx context.Context, r Request) int {
		var body io.Reader
		if r.Body != nil {
			body = bytes.NewReader(r.Body)
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
		if err != nil {
			return 0
		}
		if r.Body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if cfg.Gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		for k, v := range r.Header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil { // read whole, as a browser would
			return 0
		}
		return resp.StatusCode
	}
	for _, route := range cfg.Routes {
		for i := range cfg.Warmup {
			if st := send(ctx, route.Next(0, i)); st == 0 {
				return nil, fmt.Errorf("load: warm-up of %s: no response", route.Name)
			}
		}
	}

	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var sent atomic.Int64 // counted requests started, for MaxRequests
	start := time.Now()
	stats := make([]*RouteStats, len(cfg.Routes))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for ri, route := range cfg.Routes {
		stats[ri] = &RouteStats{Name: route.Name, Statuses: map[int]int{}, MaxByStatus: map[int]time.Duration{}, Workers: route.Workers}
		var seq atomic.Int64
		for w := range route.Workers {
			wg.Go(func() {
				var local []Sample
				firstErr := ""
				for runCtx.Err() == nil {
					if cfg.MaxRequests > 0 && sent.Add(1) > int64(cfg.MaxRequests) {
						break
					}
					req := route.Next(w, cfg.Warmup+int(seq.Add(1)-1))
					t0 := time.Now()
					status := send(runCtx, req)
					if runCtx.Err() != nil && status == 0 {
						break // cut off by the end of the run, not a failure
					}
					local = append(local, Sample{At: t0.Sub(start), Latency: time.Since(t0), Status: status})
					if (status < 200 || status > 299) && firstErr == "" {
						firstErr = fmt.Sprintf("%s %s: status %d", req.Method, req.URL, status)
					}
					if cfg.OnResult != nil {
						cfg.OnResult(route.Name, req, status)
					}
				}
				mu.Lock()
				stats[ri].Samples = append(stats[ri].Samples, local...)
				if stats[ri].FirstError == "" {
					stats[ri].FirstError = firstErr
				}
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, s := range stats {
		lat := make([]time.Duration, len(s.Samples))
		for i, sm := range s.Samples {
			lat[i] = sm.Latency
			s.Statuses[sm.Status]++
			s.MaxByStatus[sm.Status] = max(s.MaxByStatus[sm.Status], sm.Latency)
		}
		slices.Sort(lat)
		s.P50, s.P90, s.P99 = percentile(lat, .50), percentile(lat, .90), percentile(lat, .99)
		if len(lat) > 0 {
			s.Max = lat[len(lat)-1]
		}
		s.RPS = float64(len(lat)) / elapsed.Seconds()
		slices.SortFunc(s.Samples, func(a, b Sample) int { return int(a.At - b.At) })
	}
	return &LoadResult{Routes: stats, Elapsed: elapsed}, nil
}
