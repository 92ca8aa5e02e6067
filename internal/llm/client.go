// Package llm implements autointerp.LLM over any OpenAI-compatible
// chat-completions endpoint (OpenAI, OpenRouter, vLLM, llama.cpp server,
// Ollama) with the official openai-go client, which retries 408/409/429/5xx
// and connection errors with backoff and honours Retry-After.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"saex/internal/features/autointerp"
)

// Config says where the endpoint is. Only BaseURL and Model are required:
// local servers (Ollama, llama.cpp, vLLM) take any key.
type Config struct {
	BaseURL string // e.g. "https://api.openai.com/v1", "http://localhost:11434/v1"
	APIKey  string
	Model   string
	// MaxRetries is how many times a 429, 5xx or connection failure is
	// retried (default 4); Timeout bounds each attempt (default 2 minutes).
	MaxRetries int
	Timeout    time.Duration
	HTTPClient *http.Client // optional (tests)
}

// Client is an autointerp.LLM.
type Client struct {
	oa     openai.Client
	model  string
	redact *strings.Replacer
}

// New checks cfg and returns a client. Its errors never contain the key.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, errors.New("no LLM endpoint configured: set SAEX_LLM_BASE_URL (or --llm-base-url), e.g. http://localhost:11434/v1 for Ollama")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("SAEX_LLM_BASE_URL must be an http(s) URL such as https://api.openai.com/v1")
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("no LLM model configured: set SAEX_LLM_MODEL (or --llm-model), e.g. gpt-4o-mini")
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	key := cfg.APIKey
	if key == "" {
		key = "none" // local servers ignore it; the library wants one
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(key),
		option.WithMaxRetries(max(cfg.MaxRetries, 0)),
		option.WithRequestTimeout(cfg.Timeout),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &Client{oa: openai.NewClient(opts...), model: cfg.Model, redact: redactor(cfg.APIKey, u)}, nil
}

// Model is the configured model name.
func (c *Client) Model() string { return c.model }

// Chat sends one chat completion (the configured model unless req names one).
func (c *Client) Chat(ctx context.Context, req autointerp.ChatRequest) (*autointerp.ChatReply, error) {
	model := req.Model
	if model == "" {
		model = c.model
	}
	params := openai.ChatCompletionNewParams{Model: model, Temperature: openai.Float(req.Temperature)}
	if req.MaxTokens > 0 {
		params.MaxTokens = openai.Int(int64(req.MaxTokens))
	}
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case "assistant":
			params.Messages = append(params.Messages, openai.AssistantMessage(m.Content))
		default:
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		}
	}
	resp, err := c.oa.Chat.Completions.New(ctx, params)
	if err != nil {
		return nil, c.clean(ctx, err)
	}
	if len(resp.Choices) == 0 {
		return nil, fmt.Errorf("%w: the endpoint returned no choices", autointerp.ErrMalformed)
	}
	ch := resp.Choices[0]
	return &autointerp.ChatReply{Content: ch.Message.Content, Refusal: ch.Message.Refusal, FinishReason: ch.FinishReason,
		PromptTokens: int(resp.Usage.PromptTokens), CompletionTokens: int(resp.Usage.CompletionTokens)}, nil
}

// clean turns a library error into one that names the problem but never the
// key, the URL's user info or its query string (some gateways take keys there).
func (c *Client) clean(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		msg := apiErr.Message
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg != "" {
			msg = ": " + c.redact.Replace(msg)
		}
		return &EndpointError{Status: apiErr.StatusCode, msg: fmt.Sprintf("LLM endpoint answered %d %s%s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode), msg)}
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "parsing response json") {
		return fmt.Errorf("%w: the endpoint's reply is not chat-completion JSON", autointerp.ErrMalformed)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return &EndpointError{msg: "LLM endpoint unreachable: " + c.redact.Replace(uerr.Err.Error())}
	}
	return &EndpointError{msg: "LLM request failed: " + c.redact.Replace(err.Error())}
}

// EndpointError is a failure of the endpoint itself (after retries).
type EndpointError struct {
	Status int // HTTP status, 0 when none came back
	msg    string
}

func (e *EndpointError) Error() string { return e.msg }

// Is makes errors.Is(err, autointerp.ErrEndpoint) true.
func (e *EndpointError) Is(target error) bool { return target == autointerp.ErrEndpoint }

// redactor replaces the key, the base URL with its secrets, the user info
// and each query value by "[redacted]".
func redactor(key string, u *url.URL) *strings.Replacer {
	var pairs []string
	add := func(s string) {
		if len(s) >= 4 {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	add(key)
	if u.User != nil {
		add(u.User.String())
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		add(u.User.Username())
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
		}
	}
	if u.RawQuery != "" {
		add(u.RawQuery)
	}
	return strings.NewReplacer(pairs...)
}

// Redacted returns the base URL safe to show: scheme, host and path only.
func Redacted(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}
