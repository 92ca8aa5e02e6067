package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
	"saex/internal/inference"
	"saex/internal/store"
	"saex/internal/store/storetest"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

// outageEnv is a hardened server whose database link runs through a Proxy.
type outageEnv struct {
	Proxy  *Proxy
	Direct *store.DB // bypasses the proxy: the ground truth
	URL    string
	Key    string
}

func newOutageEnv(t *testing.T, readDeadline time.Duration) *outageEnv {
	t.Helper()
	ctx := context.Background()
	direct := storetest.NewURL(t)
	cfg, err := pgx.ParseConfig(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := NewProxy(net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	host, port, _ := net.SplitHostPort(proxy.Addr)
	// Later keys win in a key=value DSN: the same database, through the proxy.
	viaProxy := direct + " host=" + host + " port=" + port
	quiet := slog.New(slog.DiscardHandler)
	ddb, err := store.Open(ctx, direct, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ddb.Close)
	webtest.Seed(t, ddb)
	key, _, err := ddb.CreateAPIKey(ctx, "outage writer")
	if err != nil {
		t.Fatal(err)
	}
	pdb, err := store.Open(ctx, viaProxy, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pdb.Close)
	srv := web.NewServer()
	srv.Catalog, srv.Features, srv.Explanations = pdb, pdb, pdb
	srv.Writer, srv.APIKeys, srv.Ready = pdb, pdb, pdb
	srv.Scheduler = inference.NewScheduler(0, 0)
	srv.Logger = slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	h := &web.Hardening{ReadDeadline: readDeadline, WriteDeadline: 2 * readDeadline, Metrics: web.NewMetrics()}
	handler, err := h.Install(srv)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	return &outageEnv{Proxy: proxy, Direct: ddb, URL: ts.URL, Key: key}
}

// tlogWriter sends server error logs to the test log.
type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// outageUpload is a one-feature upload to the outage test's own source.
func outageUpload(base, key string, index int) webtest.Request {
	return upload(base, key, webtest.TestModel, "0-res-outage", index)
}

// upload is a one-feature upload (one example, one explanation).
func upload(base, key, model, source string, index int) webtest.Request {
	body, _ := json.Marshal(map[string]any{
		"modelId": model, "source": source,
		"features": []any{map[string]any{
			"index":        index,
			"activations":  []any{map[string]any{"tokens": []string{"a", "b"}, "values": []float32{0, float32(index%7) + 1}}},
			"explanations": []any{map[string]any{"text": fmt.Sprintf("written during the outage test, %d", index)}},
		}},
	})
	return webtest.Request{Method: "POST", URL: base + "/api/feature/upload-batch", Body: body, Header: map[string]string{"X-Api-Key": key}}
}

// outageRoutes is the read/write mix of the outage tests.
func outageRoutes(base, key string) []webtest.Route {
	return []webtest.Route{
		{Name: "GET /api/feature", Workers: 3, Next: func(w, i int) webtest.Request {
			return webtest.Request{Method: "GET", URL: fmt.Sprintf("%s/api/feature/%s/%s/%d", base, webtest.TestModel, webtest.TestSource, (w*31+i)%webtest.TestFeatures)}
		}},
		{Name: "GET feature page", Workers: 1, Next: func(w, i int) webtest.Request {
			return webtest.Request{Method: "GET", URL: fmt.Sprintf("%s/%s/%s/%d", base, webtest.TestModel, webtest.TestSource, i%webtest.TestFeatures)}
		}},
		{Name: "POST upload-batch", Workers: 1, Next: func(w, i int) webtest.Request {
			return outageUpload(base, key, w*100000+i)
		}},
	}
}

// acked collects the indexes of uploads answered 200.
type acked struct {
	mu  sync.Mutex
	idx []int
}

func (a *acked) record(route string, req webtest.Request, status int) {
	if route != "POST upload-batch" || status != http.StatusOK {
		return
	}
	var body struct {
		Features []struct{ Index int } `json:"features"`
	}
	_ = json.Unmarshal(req.Body, &body)
	a.mu.Lock()
	a.idx = append(a.idx, body.Features[0].Index)
	a.mu.Unlock()
}

// checkAcked verifies that every acknowledged upload is stored whole.
func checkAcked(t *testing.T, db *store.DB, idx []int) {
	t.Helper()
	for _, i := range idx {
		f, err := db.GetFeature(context.Background(), features.FeatureKey{ModelID: webtest.TestModel, SourceID: "0-res-outage", Index: i}, features.FeatureOptions{})
		if err != nil {
			t.Errorf("acknowledged write %d lost: %v", i, err)
			continue
		}
		if len(f.Activations) != 1 || len(f.Explanations) != 1 {
			t.Errorf("acknowledged write %d stored partly: %d examples, %d explanations", i, len(f.Activations), len(f.Explanations))
		}
	}
}

func get(t *testing.T, url string) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// TestOutageFailsFastAndRecovers cuts the database link mid-load (as a
// stopped PostgreSQL: connections closed, new ones refused), then restores
// it: requests during the outage must be fast 503s, the server must
// recover by itself, and every acknowledged write must be stored whole.
func TestOutageFailsFastAndRecovers(t *testing.T) {
	const readDeadline = time.Second
	e := newOutageEnv(t, readDeadline)
	const (
		cutAt     = 1500 * time.Millisecond
		restoreAt = 3500 * time.Millisecond
		runFor    = 6 * time.Second
	)
	var writes acked
	go func() {
		time.Sleep(cutAt)
		e.Proxy.Cut()
		time.Sleep(restoreAt - cutAt)
		if err := e.Proxy.Restore(); err != nil {
			t.Error(err)
		}
	}()
	res, err := webtest.Load(context.Background(), webtest.LoadConfig{Routes: outageRoutes(e.URL, e.Key), Duration: runFor, Timeout: 10 * time.Second, OnResult: writes.record})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outage run:\n%s", res.Table())

	recovered := time.Duration(-1)
	for _, r := range res.Routes {
		for _, s := range r.Samples {
			switch {
			case s.Status != 200 && s.Status != 503:
				t.Errorf("%s at %v: status %d (only 200 and 503 are acceptable)", r.Name, s.At, s.Status)
			case s.At > cutAt+200*time.Millisecond && s.At+s.Latency < restoreAt && s.Status != 503:
				t.Errorf("%s at %v: status %d during the outage, want 503", r.Name, s.At, s.Status)
			case s.Status == 503 && s.Latency > readDeadline+time.Second:
				t.Errorf("%s at %v: a 503 took %v; want it fast", r.Name, s.At, s.Latency)
			case s.Status == 200 && s.At > restoreAt && (recovered < 0 || s.At < recovered):
				recovered = s.At
			}
		}
		if r.Statuses[503] == 0 {
			t.Errorf("%s: no 503 during the outage: did the cut happen? %v", r.Name, r.Statuses)
		}
	}
	if recovered < 0 {
		t.Fatalf("no request succeeded after the database came back")
	}
	t.Logf("first success %v after the restore", recovered-restoreAt)
	// After recovery everything succeeds again.
	for _, r := range res.Routes {
		for _, s := range r.Samples {
			if s.At > recovered+time.Second && s.Status != 200 {
				t.Errorf("%s at %v: status %d after recovery at %v", r.Name, s.At, s.Status, recovered)
			}
		}
	}
	if len(writes.idx) == 0 {
		t.Fatal("no write was acknowledged")
	}
	checkAcked(t, e.Direct, writes.idx)

	// Readiness follows the database.
	e.Proxy.Cut()
	if st, took := get(t, e.URL+"/readyz"); st != 503 || took > 4*time.Second {
		t.Errorf("/readyz during an outage: %d after %v, want a fast 503", st, took)
	}
	if st, _ := get(t, e.URL+"/healthz"); st != 200 {
		t.Errorf("/healthz during an outage: %d, want 200 (the process is fine)", st)
	}
	if err := e.Proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := get(t, e.URL+"/readyz")
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 10 s after the database came back", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHungDatabaseLinkFailsFast black-holes the database link (a hung
// server or a dropped network: connections open, nothing answers): reads
// answer 503 at the request deadline instead of hanging.
func TestHungDatabaseLinkFailsFast(t *testing.T) {
	const readDeadline = 700 * time.Millisecond
	e := newOutageEnv(t, readDeadline)
	feat := fmt.Sprintf("%s/api/feature/%s/%s/3", e.URL, webtest.TestModel, webtest.TestSource)
	if st, _ := get(t, feat); st != 200 {
		t.Fatalf("before: %d", st)
	}
	if err := e.Proxy.Blackhole(); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{feat, e.URL + "/" + webtest.TestModel + "/" + webtest.TestSource} {
		st, took := get(t, u)
		if st != 503 || took > readDeadline+2*time.Second {
			t.Errorf("GET %s on a hung database: %d after %v, want 503 near %v", u, st, took, readDeadline)
		}
	}
	if err := e.Proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := get(t, feat)
		if st == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d 10 s after the link came back", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
