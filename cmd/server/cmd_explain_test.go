package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

const explainSecret = "sk-cmd-SECRET-777777"

// seedWords writes n features; feature i fires on the word " w<i>".
func seedWords(t *testing.T, db *store.DB, n int) {
	t.Helper()
	seedWordsSource(t, db, "0-res", n)
}

// seedWordsSource writes source sourceID of model m: feature i fires on " w<i>".
func seedWordsSource(t *testing.T, db *store.DB, sourceID string, n int) {
	t.Helper()
	ctx := context.Background()
	storetest.NewSource(t, db, &features.Source{ModelID: "m", ID: sourceID, SetName: "res"})
	top := float64(features.TopBin)
	var fs []*features.Feature
	for i := range n {
		ft := &features.Feature{ModelID: "m", SourceID: sourceID, Index: i, MaxActApprox: 3}
		for k := range 4 {
			ft.Activations = append(ft.Activations, &features.Activation{Tokens: []string{"Doc", fmt.Sprintf(" %d", k), fmt.Sprintf(" w%d", i), "."},
				Values: []float32{0, 0, 3, 0}, MaxValue: 3, MaxValueTokenIndex: 2, BinMin: &top})
		}
		fs = append(fs, ft)
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "m", SourceID: sourceID, Features: fs}); err != nil {
		t.Fatal(err)
	}
}

// TestExplainAllSources: one command explains every source of a model
// (--source all), one summary each, the budget shared among them. With
// the SAEX_EMBED_* settings what it writes is embedded as it is written
// (semantic search finds it); without them nothing is; with a failing
// embeddings endpoint the explanations stay and the command says how many
// to embed with embed-explanations.
func TestExplainAllSources(t *testing.T) {
	url := storetest.NewURL(t)
	db := openTestDB(t, url)
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	seedWordsSource(t, db, "0-res", 3)
	seedWordsSource(t, db, "1-res", 4)
	srv := httptest.NewServer(&wordEndpoint{})
	defer srv.Close()
	ep := &hashEmbedder{}
	emb := httptest.NewServer(ep)
	defer emb.Close()
	plain := map[string]string{"SAEX_LLM_BASE_URL": srv.URL + "/v1", "SAEX_LLM_MODEL": "explainer-a", "SAEX_LLM_API_KEY": explainSecret}
	withEmbed := maps.Clone(plain)
	maps.Copy(withEmbed, map[string]string{"SAEX_EMBED_BASE_URL": emb.URL + "/v1", "SAEX_EMBED_MODEL": "emb-h",
		"SAEX_EMBED_API_KEY": embedSecret, "SAEX_EMBED_DIMENSIONS": "64"})
	vars := withEmbed
	explain := func(args ...string) ([]map[string]any, string, error) {
		var stdout, stderr bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }}
		err := run(context.Background(), append([]string{"explain", "--model", "m", "--database-url", url}, args...), env)
		var sums []map[string]any
		dec := json.NewDecoder(&stdout)
		for dec.More() {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("summary: %v", err)
			}
			sums = append(sums, m)
		}
		return sums, stderr.String(), err
	}
	sums, logs, err := explain("--source", "all")
	if err != nil || len(sums) != 2 {
		t.Fatalf("--source all: %v, %d summaries\n%s", err, len(sums), logs)
	}
	for i, want := range []struct {
		job       string
		explained float64
	}{{"0-res", 3}, {"1-res", 4}} {
		if !strings.Contains(sums[i]["job"].(string), "/"+want.job+"/") || sums[i]["explained"] != want.explained {
			t.Errorf("summary %d: %v, want %s with %v explained", i, sums[i], want.job, want.explained)
		}
	}
	if strings.Contains(logs, explainSecret) {
		t.Errorf("the key was logged")
	}
	// Every explanation is embedded, and semantic search finds it.
	if got := embeddedPerSource(t, db, "emb-h"); got["0-res"] != [2]int{3, 3} || got["1-res"] != [2]int{4, 4} {
		t.Errorf("explained, embedded per source: %v, want all embedded", got)
	}
	svc, err := llmConfigFromEnv(&Env{Getenv: func(k string) string { return withEmbed[k] }}).semanticSearch(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	hits, total, err := svc.SearchExplanations(ctx, features.ExplanationQuery{Query: "the word w3"})
	if err != nil || total != 7 || len(hits) == 0 || hits[0].Explanation.SourceID != "1-res" || hits[0].Explanation.Index != 3 ||
		*hits[0].CosineSimilarity < 0.9999 {
		t.Errorf("semantic search after explain: %d of %d, %v", len(hits), total, err)
	}
	// A comma list, all done already: nothing is asked again.
	sums, _, err = explain("--source", "1-res, 0-res")
	if err != nil || len(sums) != 2 || sums[0]["alreadyDone"] != 4.0 || sums[1]["alreadyDone"] != 3.0 {
		t.Errorf("rerun: %v %v", err, sums)
	}
	if _, _, err := explain("--source", " , "); err == nil || !strings.Contains(err.Error(), "--source") {
		t.Errorf("empty --source list: %v", err)
	}
	// Without the embedding settings nothing is embedded.
	seedWordsSource(t, db, "2-res", 2)
	vars = plain
	if _, logs, err := explain("--source", "2-res"); err != nil || embeddedPerSource(t, db, "emb-h")["2-res"] != [2]int{2, 0} ||
		strings.Contains(logs, "embed-explanations") {
		t.Errorf("without SAEX_EMBED_MODEL: %v, %v\n%s", err, embeddedPerSource(t, db, "emb-h"), logs)
	}
	// The embeddings endpoint fails: the explanations stay, the command
	// succeeds and says how many are left and what to run (without the
	// key, which the failing endpoint echoes).
	seedWordsSource(t, db, "3-res", 2)
	vars = withEmbed
	ep.failing.Store(true)
	_, logs, err = explain("--source", "3-res")
	if err != nil || embeddedPerSource(t, db, "emb-h")["3-res"] != [2]int{2, 0} ||
		!strings.Contains(logs, "2 new explanations were stored without an embedding") || !strings.Contains(logs, "saex embed-explanations") {
		t.Errorf("failing embeddings endpoint: %v, %v\n%s", err, embeddedPerSource(t, db, "emb-h"), logs)
	}
	if strings.Contains(logs, embedSecret) || strings.Contains(logs, explainSecret) {
		t.Errorf("a key was logged: %s", logs)
	}
	// embed-explanations catches up with both.
	ep.failing.Store(false)
	var out bytes.Buffer
	if err := run(ctx, []string{"embed-explanations", "--database-url", url},
		&Env{Stdout: &out, Stderr: &out, Getenv: func(k string) string { return withEmbed[k] }}); err != nil {
		t.Fatalf("embed-explanations: %v\n%s", err, out.String())
	}
	if got := embeddedPerSource(t, db, "emb-h"); got["2-res"] != [2]int{2, 2} || got["3-res"] != [2]int{2, 2} {
		t.Errorf("after embed-explanations: %v", got)
	}
}

// embeddedPerSource maps each source of model m to how many explanations
// it has and how many of them have an embedding of embedding model model.
func embeddedPerSource(t *testing.T, db *store.DB, model string) map[string][2]int {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT s.id, count(*), count(ee.explanation_id)
		FROM explanations e JOIN sources s ON s.sid = e.sid
		LEFT JOIN explanation_embeddings ee ON ee.explanation_id = e.id AND ee.model = $1
		WHERE s.model_id = 'm' GROUP BY s.id`, model)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]int{}
	for rows.Next() {
		var id string
		var n, embedded int
		if err := rows.Scan(&id, &n, &embedded); err != nil {
			t.Fatal(err)
		}
		out[id] = [2]int{n, embedded}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wordEndpoint explains feature i as "the word w<i>" and counts requests
// per feature; onExplain runs before each answer.
type wordEndpoint struct {
	mu        sync.Mutex
	asked     map[int]int
	total     int
	onExplain func(total int)
	auth      atomic.Value
}

var wordRe = regexp.MustCompile(`<< w(\d+)>>`)

func (e *wordEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	e.auth.Store(r.Header.Get("Authorization"))
	m := wordRe.FindSubmatch(b)
	if m == nil {
		http.Error(w, `{"error":{"message":"no word"}}`, 400)
		return
	}
	i, _ := strconv.Atoi(string(m[1]))
	e.mu.Lock()
	if e.asked == nil {
		e.asked = map[int]int{}
	}
	e.asked[i]++
	e.total++
	n := e.total
	e.mu.Unlock()
	if e.onExplain != nil {
		e.onExplain(n)
	}
	reply, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion", "created": 1, "model": "x",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant",
			"content": "[EXPLANATION]: the word w" + string(m[1])}}},
		"usage": map[string]any{"prompt_tokens": 50, "completion_tokens": 10}})
	w.Header().Set("Content-Type", "application/json")
	w.Write(reply)
}

func (e *wordEndpoint) snapshot() map[int]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[int]int{}
	for k, v := range e.asked {
		out[k] = v
	}
	return out
}

func explanationCounts(t *testing.T, db *store.DB) map[int]int {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT idx, count(*) FROM explanations WHERE type_name = 'saex_acts-logits' GROUP BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var idx, n int
		if err := rows.Scan(&idx, &n); err != nil {
			t.Fatal(err)
		}
		out[idx] = n
	}
	return out
}

// TestExplainKillAndResume kills a real explain process with SIGKILL while
// requests are in flight, then runs it again: every feature ends with
// exactly one explanation, none stored by the killed run is asked again,
// and neither run prints the key.
func TestExplainKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const n = 30
	url := storetest.NewURL(t)
	db := openTestDB(t, url)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	seedWords(t, db, n)
	var proc atomic.Pointer[os.Process]
	ep := &wordEndpoint{}
	ep.onExplain = func(total int) {
		if total == 12 {
			if p := proc.Load(); p != nil {
				_ = p.Kill() // SIGKILL, mid-job: other requests are in flight
			}
		}
	}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	bin := serverBinary(t)
	explain := func() (string, string, error) {
		cmd := exec.Command(bin, "explain", "--model", "m", "--source", "0-res", "--concurrency", "3", "--database-url", url)
		cmd.Env = append(os.Environ(), "SAEX_LLM_BASE_URL="+srv.URL+"/v1", "SAEX_LLM_MODEL=explainer-k", "SAEX_LLM_API_KEY="+explainSecret, "SAEX_LOG_LEVEL=debug")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		proc.Store(cmd.Process)
		err := cmd.Wait()
		proc.Store(nil)
		return stdout.String(), stderr.String(), err
	}
	out1, err1, err := explain()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("first run was not killed: %v\n%s%s", err, out1, err1)
	}
	// The killed process may have sent a COMMIT that the server still
	// carries out: wait until its backends are gone before counting.
	waitIdle(t, db)
	stored := explanationCounts(t, db)
	if len(stored) == 0 || len(stored) >= n {
		t.Fatalf("the killed run stored %d features, want some but not all", len(stored))
	}
	asked1 := ep.snapshot()
	ep.onExplain = nil
	out2, err2, err := explain()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, err2)
	}
	var sum struct{ Explained, AlreadyDone int }
	if err := json.Unmarshal([]byte(out2), &sum); err != nil || sum.AlreadyDone != len(stored) || sum.Explained != n-len(stored) {
		t.Errorf("summary %s (%v), want %d already done", out2, err, len(stored))
	}
	asked2 := ep.snapshot()
	for i := range stored {
		if asked2[i] != asked1[i] {
			t.Errorf("feature %d, stored before the kill, was asked again", i)
		}
	}
	final := explanationCounts(t, db)
	for i := range n {
		if final[i] != 1 {
			t.Errorf("feature %d has %d explanations, want 1", i, final[i])
		}
	}
	if got, _ := ep.auth.Load().(string); got != "Bearer "+explainSecret {
		t.Errorf("endpoint got Authorization %q", got)
	}
	for _, s := range []string{out1, err1, out2, err2} {
		if strings.Contains(s, explainSecret) {
			t.Errorf("the key was printed: %s", s)
		}
	}
}

func TestExplainSaysWhatToConfigure(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	err := run(context.Background(), []string{"explain", "--model", "m", "--source", "0-res"}, env)
	if err == nil || !strings.Contains(err.Error(), "SAEX_LLM_BASE_URL") {
		t.Errorf("no endpoint: %v", err)
	}
	err = run(context.Background(), []string{"explain", "--model", "m", "--source", "0-res", "--llm-base-url", "http://127.0.0.1:1/v1"}, env)
	if err == nil || !strings.Contains(err.Error(), "SAEX_LLM_MODEL") {
		t.Errorf("no model: %v", err)
	}
	// -h never prints the base URL from the environment (it may hold a secret).
	var help bytes.Buffer
	envH := &Env{Stdin: strings.NewReader(""), Stdout: &help, Stderr: &help, Getenv: func(k string) string {
		return map[string]string{"SAEX_LLM_BASE_URL": "https://gw.example/v1?key=HELPSECRET"}[k]
	}}
	_ = run(context.Background(), []string{"explain", "-h"}, envH)
	if !strings.Contains(help.String(), "llm-base-url") || strings.Contains(help.String(), "HELPSECRET") {
		t.Errorf("help: %s", help.String())
	}
	for _, bad := range [][]string{{"--features", "9-1"}, {"--scorers", "simulation"}, {}} {
		args := append([]string{"explain"}, bad...)
		if len(bad) > 0 {
			args = append(args, "--model", "m", "--source", "s")
		}
		if err := run(context.Background(), args, env); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestServeAutoInterpWiring: with the SAEX_LLM_* environment the hardened
// server explains through the endpoint (key required); the endpoint's key
// appears in no response, log line or metric.
func TestServeAutoInterpWiring(t *testing.T) {
	db := storetest.NewDB(t)
	seedWords(t, db, 3)
	// serve's context: it ends the job runners before the database goes.
	ctx, cancel := context.WithCancel(context.Background())
	jobs := &sync.WaitGroup{}
	t.Cleanup(func() { cancel(); jobs.Wait() })
	apiKey, _, err := db.CreateAPIKey(ctx, "wiring test")
	if err != nil {
		t.Fatal(err)
	}
	ep := &wordEndpoint{}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	vars := map[string]string{"SAEX_LLM_BASE_URL": srv.URL + "/v1?api-key=QSECRET555", "SAEX_LLM_MODEL": "explainer-w", "SAEX_LLM_API_KEY": explainSecret}
	var logs bytes.Buffer
	serve := func(vars map[string]string) *httptest.Server {
		env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
		return serveTest(ctx, t, &serveDeps{DB: db, Env: env,
			Log:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Harden: &hardenConfig{Metrics: true}, Background: jobs})
	}
	post := func(ts *httptest.Server, path, key, body string) (int, string) {
		return callJSON(t, ts, "POST", path, key, body)
	}
	ts := serve(vars)
	body := `{"modelId":"m","layer":"0-res","index":1}`
	if st, b := post(ts, "/api/explanation/generate", "", body); st != 401 {
		t.Errorf("without a key: %d %s", st, b)
	}
	st, b := post(ts, "/api/explanation/generate", apiKey, body)
	if st != 200 || !strings.Contains(b, "the word w1") || !strings.Contains(b, "wiring test") {
		t.Errorf("generate: %d %s", st, b)
	}
	// A job from the source page (the key in the header, as a logged-in
	// browser's session would be).
	startJob := func(features string) {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.URL+"/m/0-res/autointerp", strings.NewReader("features="+features))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Api-Key", apiKey)
		resp, err := http.DefaultClient.Do(req) // follows the redirect to the source page
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "autointerp-job") {
			t.Fatalf("start a job over %s: %d %.300s", features, resp.StatusCode, b)
		}
	}
	jobPanel := func() string {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			resp, err := http.Get(ts.URL + "/m/0-res/autointerp")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), "hx-trigger") {
				return string(b)
			}
		}
		t.Fatal("the job never ended")
		return ""
	}
	startJob("0-1")
	if p := jobPanel(); !strings.Contains(p, "is done") {
		t.Errorf("job panel: %.500s", p)
	}
	// The endpoint fails: 503 without the secrets.
	srv.Close()
	st, b = post(ts, "/api/explanation/generate", apiKey, `{"modelId":"m","layer":"0-res","index":2}`)
	if st != 503 {
		t.Errorf("endpoint down: %d %s", st, b)
	}
	// A job on the failing endpoint: its failures show on the page, without the secrets.
	startJob("2")
	failedPanel := jobPanel()
	if !strings.Contains(failedPanel, "failed") || !strings.Contains(failedPanel, "autointerp-failed") {
		t.Errorf("failed job's panel: %.800s", failedPanel)
	}
	resp0, err := http.Get(ts.URL + "/m/0-res")
	if err != nil {
		t.Fatal(err)
	}
	sourcePage, _ := io.ReadAll(resp0.Body)
	resp0.Body.Close()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for what, s := range map[string]string{"response": b, "logs": logs.String(), "metrics": string(metrics),
		"job panel": failedPanel, "source page": string(sourcePage)} {
		for _, secret := range []string{explainSecret, "QSECRET555"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s contain a secret: %s", what, s)
			}
		}
	}
	if !strings.Contains(logs.String(), "auto-interp on") {
		t.Errorf("logs do not say auto-interp is on: %s", logs.String())
	}
	// Without the environment the routes say what to set.
	off := serve(map[string]string{})
	if st, b := post(off, "/api/explanation/score", apiKey, `{"explanationId":"x","scorerType":"eleuther_fuzz"}`); st != 503 || !strings.Contains(b, "SAEX_LLM_BASE_URL") {
		t.Errorf("unconfigured: %d %s", st, b)
	}
}
