package reliability

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
	"time"
)

// Request is one HTTP request of a load run.
type Request struct {
	Method string
	URL    string
	Body   []byte
	Header map[string]string
}

// Route is one kind of request and the workers (connections) that send it.
type Route struct {
	Name    string
	Workers int
	// Next returns the i-th request of a worker (called from that worker only).
	Next func(worker, i int) Request
}

// LoadConfig describes a closed-loop run: every worker sends a request,
// reads the whole response, and sends the next, until Duration passes.
type LoadConfig struct {
	Routes   []Route
	Duration time.Duration
	// Timeout bounds one request (default 30 s); a timeout counts as status 0.
	Timeout time.Duration
	// OnResult, when set, sees every finished request (e.g. to keep
	// acknowledged writes). It is called concurrently.
	OnResult func(route string, req Request, status int, body []byte)
}

// Sample is one finished request.
type Sample struct {
	At      time.Duration // since the start of the run
	Latency time.Duration
	Status  int // 0: no response (connection refused, reset, timeout)
}

// RouteStats summarises one route of a run.
type RouteStats struct {
	Name     string
	Samples  []Sample
	Statuses map[int]int
	// P50, P90, P99 and Max are latencies over every request of the route.
	P50, P90, P99, Max time.Duration
	// MaxByStatus is the slowest request of each status (how fast 503s were).
	MaxByStatus map[int]time.Duration
	RPS         float64
	Workers     int
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

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// Table formats the result as a Markdown table.
func (r *LoadResult) Table() string {
	var b strings.Builder
	b.WriteString("| route | workers | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | statuses |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, s := range r.Routes {
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %s | %s | %s | %s | %s |\n", s.Name, s.Workers, s.Count(), s.RPS,
			ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max), statusList(s.Statuses))
	}
	return b.String()
}

// statusList formats status counts as "200:1234 503:12".
func statusList(m map[int]int) string {
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

// percentile returns the q-quantile (nearest rank) of sorted latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// NewClient returns an HTTP client that keeps one connection per worker.
func NewClient(conns int, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	tr.MaxConnsPerHost = 0
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Load runs cfg and returns per-route statistics.
func Load(ctx context.Context, cfg LoadConfig) (*LoadResult, error) {
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("load: Duration must be positive")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	total := 0
	for _, r := range cfg.Routes {
		total += r.Workers
	}
	client := NewClient(total, cfg.Timeout)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	stats := make([]*RouteStats, len(cfg.Routes))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for ri, route := range cfg.Routes {
		stats[ri] = &RouteStats{Name: route.Name, Statuses: map[int]int{}, MaxByStatus: map[int]time.Duration{}, Workers: route.Workers}
		for w := range route.Workers {
			wg.Go(func() {
				var local []Sample
				for i := 0; ctx.Err() == nil; i++ {
					req := route.Next(w, i)
					t0 := time.Now()
					status, body := send(ctx, client, req)
					if ctx.Err() != nil && status == 0 {
						break // cut off by the end of the run, not a failure
					}
					local = append(local, Sample{At: t0.Sub(start), Latency: time.Since(t0), Status: status})
					if cfg.OnResult != nil {
						cfg.OnResult(route.Name, req, status, body)
					}
				}
				mu.Lock()
				stats[ri].Samples = append(stats[ri].Samples, local...)
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

// send performs one request and returns its status (0 when no response
// came) and body. Bodies are read whole, as a browser would.
func send(ctx context.Context, client *http.Client, r Request) (int, []byte) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return 0, nil
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, b
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
