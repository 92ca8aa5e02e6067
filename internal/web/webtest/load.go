package webtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one request of a load run.
type Target struct {
	Method string
	URL    string
	Body   []byte // sent as application/json when not nil
}

// LoadConfig describes a closed-loop load run: Concurrency workers each send
// a request, wait for the whole response, and send the next, until Duration
// passes or MaxRequests are done (whichever comes first; 0 = no limit, but
// at least one of them must be set).
type LoadConfig struct {
	Concurrency int
	Duration    time.Duration
	MaxRequests int
	// Next returns the i-th request (called concurrently).
	Next func(i int) Target
	// Gzip sends Accept-Encoding: gzip, as browsers and the Neuronpedia
	// client do (the body is read but not decompressed).
	Gzip bool
	// Warmup requests are sent first and not counted.
	Warmup int
}

// LoadResult summarises a load run. Latency is from sending the request to
// reading the last byte of the response.
type LoadResult struct {
	Requests int
	Errors   int
	// FirstError describes one failure, for the report.
	FirstError string
	Elapsed    time.Duration
	RPS        float64
	P50, P90   time.Duration
	P99, Max   time.Duration
}

func (r LoadResult) String() string {
	return fmt.Sprintf("%d requests, %d errors, %.0f req/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
		r.Requests, r.Errors, r.RPS, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Load runs cfg against a server. It only talks to the URLs Next returns:
// point them at loopback.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if cfg.Concurrency <= 0 || cfg.Next == nil || (cfg.Duration <= 0 && cfg.MaxRequests <= 0) {
		return LoadResult{}, fmt.Errorf("load: need Concurrency > 0, Next, and Duration or MaxRequests")
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        cfg.Concurrency * 2,
			MaxIdleConnsPerHost: cfg.Concurrency * 2,
			DisableCompression:  true, // we set Accept-Encoding ourselves
		},
	}
	defer client.CloseIdleConnections()
	send := func(t Target) (int, error) {
		var body io.Reader
		if t.Body != nil {
			body = bytes.NewReader(t.Body)
		}
		req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, body)
		if err != nil {
			return 0, err
		}
		if t.Body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if cfg.Gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, err
	}
	for i := range cfg.Warmup {
		if _, err := send(cfg.Next(i)); err != nil {
			return LoadResult{}, fmt.Errorf("load: warmup: %w", err)
		}
	}
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			localErrs, localFirst := 0, ""
			for runCtx.Err() == nil {
				i := int(next.Add(1)) - 1
				if cfg.MaxRequests > 0 && i >= cfg.MaxRequests {
					break
				}
				t := cfg.Next(cfg.Warmup + i)
				t0 := time.Now()
				st, err := send(t)
				d := time.Since(t0)
				if runCtx.Err() != nil && err != nil {
					break // cut off by the end of the run, not a server error
				}
				local = append(local, d)
				if err != nil || st < 200 || st > 299 {
					localErrs++
					if localFirst == "" {
						localFirst = fmt.Sprintf("%s %s: status %d, %v", t.Method, t.URL, st, err)
					}
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += localErrs
			if firstErr == "" {
				firstErr = localFirst
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := LoadResult{Requests: len(lat), Errors: errs, FirstError: firstErr, Elapsed: elapsed}
	if len(lat) == 0 {
		return res, fmt.Errorf("load: no request completed")
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	res.P50, res.P90, res.P99, res.Max = q(0.50), q(0.90), q(0.99), lat[len(lat)-1]
	res.RPS = float64(len(lat)) / elapsed.Seconds()
	return res, nil
}
