package autointerp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/llm"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

const numTestFeatures = 12 // feature 11 is dead

// seedSource writes a source whose feature i fires on the word " w<i>".
func seedSource(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	storetest.NewSource(t, db, &features.Source{ModelID: "m", ID: "0-res", SetName: "res"})
	top := float64(features.TopBin)
	var fs []*features.Feature
	for i := range numTestFeatures {
		ft := &features.Feature{ModelID: "m", SourceID: "0-res", Index: i, TopkCosSimIndices: []int{i, (i + 1) % numTestFeatures},
			TopkCosSimValues: []float64{1, 0.5}}
		if i < numTestFeatures-1 {
			ft.MaxActApprox = 5
			for k := range 6 {
				toks := []string{"Doc", fmt.Sprintf(" %d", k), " says", fmt.Sprintf(" w%d", i), " here", "."}
				ft.Activations = append(ft.Activations, &features.Activation{ModelID: "m", SourceID: "0-res", Index: i,
					Tokens: toks, Values: []float32{0, 0, 0, float32(5 - k/2), 0, 0}, MaxValue: float64(5 - k/2), MaxValueTokenIndex: 3, BinMin: &top})
			}
		}
		fs = append(fs, ft)
	}
	if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: "m", SourceID: "0-res", Features: fs}); err != nil {
		t.Fatal(err)
	}
}

// fakeEndpoint speaks chat completions: the explainer is told "the word
// w<i>" for the word it sees marked, scorers get an oracle's answer. Hooks
// let a test fail or cancel on chosen requests.
type fakeEndpoint struct {
	mu       sync.Mutex
	explains map[int]int // explain requests per feature
	scores   int
	// before, when set, runs first and may answer itself (returns true).
	before func(w http.ResponseWriter, feature int, n int) bool
}

var markedWord = regexp.MustCompile(`<< w(\d+)>>`)
var nEntries = regexp.MustCompile(`JSON array of (\d+) entries`)

func (f *fakeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Messages []struct{ Role, Content string }
		Input    []string
	}
	b, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/v1/embeddings" && json.Unmarshal(b, &body) == nil && len(body.Input) > 0 {
		// The explanation (first) names the word: texts with it point one
		// way, the others another.
		word := strings.TrimPrefix(body.Input[0], "the word ")
		var data []any
		for i, text := range body.Input {
			v := []float64{0, 1}
			if strings.Contains(text, word) {
				v = []float64{1, 0.2}
			}
			data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": v})
		}
		out, _ := json.Marshal(map[string]any{"object": "list", "model": "e", "data": data, "usage": map[string]any{"prompt_tokens": 20, "total_tokens": 20}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
		return
	}
	if err := json.Unmarshal(b, &body); err != nil || len(body.Messages) != 2 || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"bad request"}}`, 400)
		return
	}
	user := body.Messages[1].Content
	var content string
	if strings.HasPrefix(user, "Explanation: ") {
		f.mu.Lock()
		f.scores++
		f.mu.Unlock()
		// The explanation names the word; answer 1 where it appears (marked
		// for fuzzing, anywhere for detection).
		word := strings.TrimPrefix(strings.SplitN(user, "\n", 2)[0], "Explanation: the word ")
		var out []string
		for _, line := range strings.Split(user, "\n") {
			if !strings.HasPrefix(line, "Example ") {
				continue
			}
			hit := strings.Contains(line, "<< "+word+">>") || (!strings.Contains(line, "<<") && strings.Contains(line, " "+word+" "))
			out = append(out, map[bool]string{true: "1", false: "0"}[hit])
		}
		if m := nEntries.FindStringSubmatch(user); m == nil || strconv.Itoa(len(out)) != m[1] {
			http.Error(w, `{"error":{"message":"count"}}`, 400)
			return
		}
		content = "[" + strings.Join(out, ",") + "]"
	} else {
		m := markedWord.FindStringSubmatch(user)
		if m == nil {
			http.Error(w, `{"error":{"message":"no marked word"}}`, 400)
			return
		}
		i, _ := strconv.Atoi(m[1])
		f.mu.Lock()
		if f.explains == nil {
			f.explains = map[int]int{}
		}
		f.explains[i]++
		n := f.explains[i]
		f.mu.Unlock()
		if f.before != nil && f.before(w, i, n) {
			return
		}
		content = "Looking at the examples.\n[EXPLANATION]: the word w" + m[1]
	}
	out, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion", "created": 1, "model": "x",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
		"usage":   map[string]any{"prompt_tokens": 100, "completion_tokens": 32, "total_tokens": 132}})
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

func (f *fakeEndpoint) explained() map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]int{}
	for k, v := range f.explains {
		out[k] = v
	}
	return out
}

func newPipeline(t *testing.T, db *store.DB, ep http.Handler) *autointerp.Pipeline {
	t.Helper()
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	c, err := llm.New(llm.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-job-secret", Model: "explainer-1", MaxRetries: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &autointerp.Pipeline{Store: db, Explainer: &autointerp.Explainer{LLM: c, Model: "explainer-1"},
		Scorer: &autointerp.Scorer{LLM: c, Model: "scorer-1"}}
}

// explanationsOf returns each feature's auto-interp explanations.
func explanationsOf(t *testing.T, db *store.DB) map[int][]*features.Explanation {
	t.Helper()
	out := map[int][]*features.Explanation{}
	for i := range numTestFeatures {
		ft, err := db.GetFeature(context.Background(), features.FeatureKey{ModelID: "m", SourceID: "0-res", Index: i}, features.FeatureOptions{NoActivations: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ft.Explanations {
			if e.TypeName == autointerp.ExplainType {
				out[i] = append(out[i], e)
			}
		}
	}
	return out
}

func TestJobExplainsScoresAndStores(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	ep := &fakeEndpoint{}
	p := newPipeline(t, db, ep)
	var progress []int
	sum, err := p.RunJob(context.Background(), autointerp.JobOptions{ModelID: "m", SourceID: "0-res",
		Scorers: []string{autointerp.ScoreDetection, autointerp.ScoreFuzzing}, Concurrency: 3,
		Progress: func(done, total int) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 12 || sum.Explained != 11 || sum.Dead != 1 || sum.Scored != 11 || len(sum.Failed) != 0 || len(sum.ScoreFailed) != 0 {
		t.Fatalf("summary %+v", sum)
	}
	// 11 explain calls and 22 scorer calls of 132 tokens each.
	if sum.PromptTokens != 33*100 || sum.CompletionTokens != 33*32 {
		t.Errorf("tokens %d + %d, want %d + %d", sum.PromptTokens, sum.CompletionTokens, 3300, 33*32)
	}
	if len(progress) != 12 || progress[11] != 12 {
		t.Errorf("progress %v", progress)
	}
	exps := explanationsOf(t, db)
	var ids []string
	for i := range 11 {
		if len(exps[i]) != 1 {
			t.Fatalf("feature %d has %d explanations", i, len(exps[i]))
		}
		e := exps[i][0]
		if e.Description != fmt.Sprintf("the word w%d", i) || e.ExplanationModelName != "explainer-1" || e.AuthorID != autointerp.AuthorID {
			t.Errorf("feature %d: %+v", i, e)
		}
		if len(e.Scores) != 2 {
			t.Fatalf("feature %d: %d scores", i, len(e.Scores))
		}
		for _, sc := range e.Scores {
			// The fake scorer is an oracle: every held-out context right.
			if sc.Value != 1 || sc.ExplanationScoreModelName != "scorer-1" || !strings.Contains(sc.JSONDetails, `"breakdown"`) {
				t.Errorf("feature %d score %+v", i, sc)
			}
		}
		ids = append(ids, e.ID)
	}
	if len(exps[11]) != 0 {
		t.Errorf("dead feature explained")
	}
	runs, err := db.ExplanationRuns(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	r := runs[ids[0]]
	if len(runs) != 11 || r.PromptVersion != autointerp.PromptVersion || r.PromptTokens != 300 || r.CompletionTokens != 96 || r.Job != sum.Job {
		t.Errorf("runs %d, first %+v", len(runs), r)
	}
	// A second run finds everything done and calls nothing.
	before := ep.explained()
	sum, err = p.RunJob(context.Background(), autointerp.JobOptions{ModelID: "m", SourceID: "0-res",
		Scorers: []string{autointerp.ScoreDetection, autointerp.ScoreFuzzing}})
	if err != nil || sum.AlreadyDone != 12 || sum.Explained != 0 || fmt.Sprint(before) != fmt.Sprint(ep.explained()) {
		t.Errorf("rerun %+v %v", sum, err)
	}
}

// TestJobResumesAfterKill cancels a job mid-way (as kill -9 would stop it,
// with requests in flight) and starts it again: every feature ends with
// exactly one explanation, and none written by the first run is asked again.
func TestJobResumesAfterKill(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	var total sync.Mutex
	served := 0
	ep := &fakeEndpoint{before: func(w http.ResponseWriter, feature, n int) bool {
		total.Lock()
		defer total.Unlock()
		served++
		if served == 5 {
			cancel() // the "kill": mid-job, with other requests in flight
		}
		return false
	}}
	p := newPipeline(t, db, ep)
	opts := autointerp.JobOptions{ModelID: "m", SourceID: "0-res", Concurrency: 2}
	sum1, err := p.RunJob(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want canceled (%+v)", err, sum1)
	}
	first := explanationsOf(t, db)
	if len(first) == 0 || len(first) >= 11 {
		t.Fatalf("first run stored %d features, want some but not all", len(first))
	}
	asked1 := ep.explained()
	sum2, err := p.RunJob(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	asked2 := ep.explained()
	for i := range first {
		if asked2[i] != asked1[i] {
			t.Errorf("feature %d, stored by the first run, was asked again", i)
		}
	}
	all := explanationsOf(t, db)
	for i := range 11 {
		if len(all[i]) != 1 {
			t.Errorf("feature %d has %d explanations after resume, want 1", i, len(all[i]))
		}
	}
	if sum2.AlreadyDone+sum2.Explained+sum2.Dead != 12 || sum2.AlreadyDone < len(first) {
		t.Errorf("second run %+v after %d stored", sum2, len(first))
	}
}

func TestJobBudgetCap(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	p := newPipeline(t, db, &fakeEndpoint{})
	// 132 tokens a feature: the cap of 300 is passed after the third.
	sum, err := p.RunJob(context.Background(), autointerp.JobOptions{ModelID: "m", SourceID: "0-res", Concurrency: 1, BudgetTokens: 300})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.BudgetExhausted || sum.Explained != 3 || sum.NotStarted != 9 || sum.PromptTokens+sum.CompletionTokens != 396 {
		t.Errorf("summary %+v", sum)
	}
	if got := len(explanationsOf(t, db)); got != 3 {
		t.Errorf("%d features stored, want 3", got)
	}
}

func TestJobReportsFailuresAndRetriesThemLater(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	broken := true
	ep := &fakeEndpoint{before: func(w http.ResponseWriter, feature, n int) bool {
		if feature == 4 && broken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			io.WriteString(w, `{"error":{"message":"internal error for key sk-job-secret"}}`)
			return true
		}
		return false
	}}
	p := newPipeline(t, db, ep)
	sum, err := p.RunJob(context.Background(), autointerp.JobOptions{ModelID: "m", SourceID: "0-res", Indexes: []int{3, 4, 5, 99}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Explained != 2 || len(sum.Failed) != 2 || sum.Failed[0].Index != 4 || sum.Failed[1].Index != 99 {
		t.Fatalf("summary %+v", sum)
	}
	if !strings.Contains(sum.Failed[0].Reason, "500") || strings.Contains(sum.Failed[0].Reason, "sk-job-secret") {
		t.Errorf("failure reason %q: want the status, never the key", sum.Failed[0].Reason)
	}
	if !strings.Contains(sum.Failed[1].Reason, "not found") {
		t.Errorf("missing feature reason %q", sum.Failed[1].Reason)
	}
	if n := ep.explained()[4]; n != 2 {
		t.Errorf("feature 4 asked %d times, want 2 (one retry by the client)", n)
	}
	broken = false
	sum, err = p.RunJob(context.Background(), autointerp.JobOptions{ModelID: "m", SourceID: "0-res", Indexes: []int{3, 4, 5}})
	if err != nil || sum.Explained != 1 || sum.AlreadyDone != 2 {
		t.Errorf("rerun %+v %v", sum, err)
	}
}

func TestJobStopsWhenTheEndpointKeepsFailing(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	ep := &fakeEndpoint{before: func(w http.ResponseWriter, feature, n int) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"message":"invalid api key"}}`)
		return true
	}}
	p := newPipeline(t, db, ep)
	sum, err := p.RunJob(context.Background(), autointerp.JobOptions{ModelID: "m", SourceID: "0-res", Concurrency: 2})
	if !errors.Is(err, autointerp.ErrEndpoint) || !strings.Contains(features.ErrorMessage(err), "in a row") || !strings.Contains(features.ErrorMessage(err), "401") {
		t.Fatalf("err %v, want a stop naming the endpoint's 401", err)
	}
	if len(sum.Failed) < autointerp.MaxEndpointFailures || sum.Explained != 0 {
		t.Errorf("summary %+v", sum)
	}
}

func TestJobEmbeddingScorer(t *testing.T) {
	db := storetest.NewDB(t)
	seedSource(t, db)
	srv := httptest.NewServer(&fakeEndpoint{})
	defer srv.Close()
	p := newPipeline(t, db, &fakeEndpoint{})
	opts := autointerp.JobOptions{ModelID: "m", SourceID: "0-res", Indexes: []int{2}, Scorers: []string{autointerp.ScoreEmbedding}}
	if _, err := p.RunJob(context.Background(), opts); features.ErrorCode(err) != features.EUNAVAILABLE || !strings.Contains(err.Error(), "SAEX_EMBED_MODEL") {
		t.Fatalf("without an embedder: %v", err)
	}
	e, err := llm.NewEmbedder(llm.Config{BaseURL: srv.URL + "/v1", Model: "emb-1", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.Embedding = &autointerp.EmbeddingScorer{Embedder: e, Model: "emb-1"}
	sum, err := p.RunJob(context.Background(), opts)
	if err != nil || sum.Scored != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	sc := explanationsOf(t, db)[2][0].Scores
	if len(sc) != 1 || sc[0].ExplanationScoreTypeName != autointerp.ScoreEmbedding || sc[0].Value != 1 || sc[0].ExplanationScoreModelName != "emb-1" ||
		!strings.Contains(sc[0].JSONDetails, "similarities") {
		t.Errorf("scores %+v", sc[0])
	}
}
