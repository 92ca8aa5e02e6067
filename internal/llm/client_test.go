package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"saex/internal/features/autointerp"
)

const secretKey = "sk-test-SECRET-0123456789"

// recorded is a chat-completions server replaying a script of replies:
// each entry is a status, headers and a body.
type recorded struct {
	mu     sync.Mutex
	script []reply
	got    []*http.Request
	bodies []string
	times  []time.Time
}

type reply struct {
	status int
	header map[string]string
	body   string
}

func ok(content, finish string) reply {
	b, _ := json.Marshal(map[string]any{
		"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
		"choices": []any{map[string]any{"index": 0, "finish_reason": finish,
			"message": map[string]any{"role": "assistant", "content": content}}},
		"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132},
	})
	return reply{status: 200, body: string(b)}
}

func (s *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, r)
	s.bodies = append(s.bodies, string(body))
	s.times = append(s.times, time.Now())
	rep := s.script[0]
	if len(s.script) > 1 {
		s.script = s.script[1:]
	}
	s.mu.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func newClient(t *testing.T, srv *httptest.Server, path string) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: srv.URL + path, APIKey: secretKey, Model: "test-model", MaxRetries: 2, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var req = autointerp.ChatRequest{Messages: []autointerp.Message{{Role: "system", Content: "sys"}, {Role: "user", Content: "hi"}}, MaxTokens: 50}

func TestChatSendsProtocolAndReadsUsage(t *testing.T) {
	rec := &recorded{script: []reply{ok("[EXPLANATION]: x", "stop")}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	got, err := newClient(t, srv, "/v1").Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Content != "[EXPLANATION]: x" || got.PromptTokens != 120 || got.CompletionTokens != 12 || got.FinishReason != "stop" {
		t.Errorf("reply %+v", got)
	}
	r := rec.got[0]
	if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+secretKey {
		t.Errorf("request %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
	}
	var body struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Messages  []struct{ Role, Content string }
	}
	if err := json.Unmarshal([]byte(rec.bodies[0]), &body); err != nil || body.Model != "test-model" || body.MaxTokens != 50 ||
		len(body.Messages) != 2 || body.Messages[0].Role != "system" || body.Messages[1].Content != "hi" {
		t.Errorf("body %s (%v)", rec.bodies[0], err)
	}
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	rec := &recorded{script: []reply{
		{status: 429, header: map[string]string{"Retry-After": "1"}, body: `{"error":{"message":"slow down"}}`},
		{status: 500, body: `{"error":{"message":"boom"}}`},
		ok("[EXPLANATION]: y", "stop"),
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	got, err := newClient(t, srv, "").Chat(context.Background(), req)
	if err != nil || got.Content != "[EXPLANATION]: y" {
		t.Fatalf("%+v %v", got, err)
	}
	if len(rec.times) != 3 {
		t.Fatalf("%d requests, want 3", len(rec.times))
	}
	if d := rec.times[1].Sub(rec.times[0]); d < 900*time.Millisecond {
		t.Errorf("retried after %v, want Retry-After's 1s", d)
	}
}

func TestGivesUpAfterRetriesWithoutSecrets(t *testing.T) {
	rec := &recorded{script: []reply{{status: 503, body: `{"error":{"message":"overloaded, key ` + secretKey + `"}}`}}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL + "/v1?api-key=QUERYSECRET99", APIKey: secretKey, Model: "m", MaxRetries: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Chat(context.Background(), req)
	var ee *EndpointError
	if !errors.As(err, &ee) || ee.Status != 503 || len(rec.got) != 2 {
		t.Fatalf("err %v after %d requests, want a 503 EndpointError after 2", err, len(rec.got))
	}
	for _, s := range []string{secretKey, "QUERYSECRET99"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret", err)
		}
	}
	// An unreachable endpoint with credentials in the URL.
	srv.Close()
	c, _ = New(Config{BaseURL: "http://user:PASSWORD123@" + strings.TrimPrefix(srv.URL, "http://") + "/v1", APIKey: secretKey, Model: "m", MaxRetries: -1})
	_, err = c.Chat(context.Background(), req)
	if err == nil || strings.Contains(err.Error(), "PASSWORD123") || strings.Contains(err.Error(), secretKey) {
		t.Errorf("unreachable: %v", err)
	}
}

func TestMalformedAndSpecialReplies(t *testing.T) {
	refusal := `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop",
		"message":{"role":"assistant","content":null,"refusal":"I can't help with that."}}],"usage":{"prompt_tokens":5,"completion_tokens":3}}`
	rec := &recorded{script: []reply{
		{status: 200, body: `{"id": "c", "choices": [ {"message": `},
		{status: 200, body: refusal},
		ok("Example 1 shows the token", "length"),
		{status: 200, body: `{"id":"c","object":"chat.completion","choices":[]}`},
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := newClient(t, srv, "")
	if _, err := c.Chat(context.Background(), req); !errors.Is(err, autointerp.ErrMalformed) {
		t.Errorf("cut JSON: %v, want ErrMalformed", err)
	}
	r, err := c.Chat(context.Background(), req)
	if err != nil || r.Refusal == "" {
		t.Fatalf("refusal: %+v %v", r, err)
	}
	if _, err := autointerp.ParseExplanation(r); !errors.Is(err, autointerp.ErrRefusal) {
		t.Errorf("refusal parsed as %v", err)
	}
	r, err = c.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := autointerp.ParseExplanation(r); !errors.Is(err, autointerp.ErrTruncated) {
		t.Errorf("truncated parsed as %v", err)
	}
	if _, err := c.Chat(context.Background(), req); !errors.Is(err, autointerp.ErrMalformed) {
		t.Errorf("no choices: %v", err)
	}
}

func TestConfigErrorsSayWhatToSet(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Model: "m"}, "SAEX_LLM_BASE_URL"},
		{Config{BaseURL: "ftp://x", Model: "m"}, "SAEX_LLM_BASE_URL"},
		{Config{BaseURL: "http://localhost:11434/v1"}, "SAEX_LLM_MODEL"},
	} {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a message naming %s", c.cfg, err, c.want)
		}
	}
	if got := Redacted("https://u:p@api.example.com/v1?key=zzz"); got != "https://api.example.com/v1" {
		t.Errorf("Redacted = %q", got)
	}
	_ = fmt.Sprint
}

func TestEmbedOverTheEmbeddingsProtocol(t *testing.T) {
	rec := &recorded{script: []reply{
		{status: 429, header: map[string]string{"Retry-After-Ms": "10"}, body: `{"error":{"message":"slow"}}`},
		{status: 200, body: `{"object":"list","model":"e","data":[{"object":"embedding","index":1,"embedding":[0,1]},
			{"object":"embedding","index":0,"embedding":[1,0.5]}],"usage":{"prompt_tokens":9,"total_tokens":9}}`},
		{status: 200, body: `{"object":"list","model":"e","data":[{"object":"embedding","index":0,"embedding":[1]}],"usage":{"prompt_tokens":1}}`},
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	e, err := NewEmbedder(Config{BaseURL: srv.URL + "/v1", APIKey: secretKey, Model: "emb-1", MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.Dimensions = 256
	vecs, tokens, err := e.Embed(context.Background(), []string{"a", "b"})
	if err != nil || tokens != 9 || len(vecs) != 2 || vecs[0][1] != 0.5 || vecs[1][1] != 1 {
		t.Fatalf("%v %d %v", vecs, tokens, err)
	}
	var body struct {
		Model          string   `json:"model"`
		Input          []string `json:"input"`
		Dimensions     int      `json:"dimensions"`
		EncodingFormat string   `json:"encoding_format"`
	}
	if err := json.Unmarshal([]byte(rec.bodies[1]), &body); err != nil || rec.got[1].URL.Path != "/v1/embeddings" || body.Model != "emb-1" ||
		len(body.Input) != 2 || body.Dimensions != 256 || body.EncodingFormat != "float" {
		t.Errorf("request %s %s (%v)", rec.got[1].URL.Path, rec.bodies[1], err)
	}
	// A vector missing from the reply is an error, not a short slice.
	if _, _, err := e.Embed(context.Background(), []string{"a", "b"}); err == nil {
		t.Error("missing vector accepted")
	}
	if _, err := NewEmbedder(Config{BaseURL: srv.URL}); err == nil || !strings.Contains(err.Error(), "SAEX_EMBED_MODEL") {
		t.Errorf("no model: %v", err)
	}
}
