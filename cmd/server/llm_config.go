package main

import (
	"flag"
	"strconv"
	"time"

	"saex/internal/features/autointerp"
	"saex/internal/llm"
	"saex/internal/store"
)

// llmConfig is where auto-interp's LLM lives. The key comes only from the
// environment (SAEX_LLM_API_KEY): a command line is visible to every user
// of the machine in ps.
type llmConfig struct {
	BaseURL     string
	Model       string
	ScorerModel string
	APIKey      string
	Timeout     time.Duration
	MaxRetries  int
	// The embedding scorer's endpoint: off without EmbedModel. The base URL
	// defaults to the LLM's, and the LLM's key is used only then (never
	// sent to another host).
	EmbedBaseURL    string
	EmbedModel      string
	EmbedAPIKey     string
	EmbedDimensions int
}

// addLLMFlags defines the LLM flags. Their defaults come from the
// environment after parsing (withEnv), not as flag defaults, so that -h
// never prints a base URL that may carry a secret.
func addLLMFlags(fs *flag.FlagSet, c *llmConfig) {
	fs.StringVar(&c.BaseURL, "llm-base-url", "",
		"OpenAI-compatible endpoint, e.g. https://api.openai.com/v1, http://localhost:11434/v1 (default: env SAEX_LLM_BASE_URL)")
	fs.StringVar(&c.Model, "llm-model", "", "explainer model, e.g. gpt-4o-mini (default: env SAEX_LLM_MODEL)")
	fs.StringVar(&c.ScorerModel, "llm-scorer-model", "",
		"scorer model (default: env SAEX_LLM_SCORER_MODEL, else the explainer model)")
	fs.DurationVar(&c.Timeout, "llm-timeout", 2*time.Minute, "time limit of one LLM request")
	fs.IntVar(&c.MaxRetries, "llm-retries", 4, "retries of a request on 429, 5xx or a broken connection (honouring Retry-After)")
	fs.StringVar(&c.EmbedBaseURL, "embed-base-url", "",
		"embeddings endpoint for the embedding scorer (default: env SAEX_EMBED_BASE_URL, else the LLM's)")
	fs.StringVar(&c.EmbedModel, "embed-model", "",
		"embedding model, e.g. text-embedding-3-large (default: env SAEX_EMBED_MODEL; none: no embedding scorer)")
}

// withEnv fills what the flags left empty from the environment; keys come
// only from there (a command line is visible to every user in ps).
func (c *llmConfig) withEnv(env *Env) {
	fromEnv := llmConfigFromEnv(env)
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&c.BaseURL, fromEnv.BaseURL}, {&c.Model, fromEnv.Model}, {&c.ScorerModel, fromEnv.ScorerModel},
		{&c.EmbedBaseURL, fromEnv.EmbedBaseURL}, {&c.EmbedModel, fromEnv.EmbedModel},
	} {
		if *f.dst == "" {
			*f.dst = f.v
		}
	}
	c.APIKey, c.EmbedAPIKey, c.EmbedDimensions = fromEnv.APIKey, fromEnv.EmbedAPIKey, fromEnv.EmbedDimensions
}

// llmConfigFromEnv is serve's configuration: environment only.
func llmConfigFromEnv(env *Env) llmConfig {
	dims, _ := strconv.Atoi(env.Getenv("SAEX_EMBED_DIMENSIONS"))
	return llmConfig{BaseURL: env.Getenv("SAEX_LLM_BASE_URL"), Model: env.Getenv("SAEX_LLM_MODEL"),
		ScorerModel: env.Getenv("SAEX_LLM_SCORER_MODEL"), APIKey: env.Getenv("SAEX_LLM_API_KEY"), Timeout: 2 * time.Minute, MaxRetries: 4,
		EmbedBaseURL: env.Getenv("SAEX_EMBED_BASE_URL"), EmbedModel: env.Getenv("SAEX_EMBED_MODEL"),
		EmbedAPIKey: env.Getenv("SAEX_EMBED_API_KEY"), EmbedDimensions: dims}
}

// pipeline builds the auto-interp pipeline over db; errors say what to
// set and never contain the key.
func (c llmConfig) pipeline(db *store.DB) (*autointerp.Pipeline, error) {
	client, err := llm.New(llm.Config{BaseURL: c.BaseURL, APIKey: c.APIKey, Model: c.Model, MaxRetries: c.MaxRetries, Timeout: c.Timeout})
	if err != nil {
		return nil, err
	}
	scorer := c.ScorerModel
	if scorer == "" {
		scorer = c.Model
	}
	p := &autointerp.Pipeline{Store: db, Explainer: &autointerp.Explainer{LLM: client, Model: c.Model},
		Scorer: &autointerp.Scorer{LLM: client, Model: scorer}}
	e, err := c.embedder()
	if err != nil {
		return nil, err
	}
	if e != nil {
		p.Embedding = &autointerp.EmbeddingScorer{Embedder: e, Model: c.EmbedModel}
	}
	return p, nil
}

// embedBaseURL is the embeddings endpoint: EmbedBaseURL, else the LLM's.
func (c llmConfig) embedBaseURL() string {
	if c.EmbedBaseURL != "" {
		return c.EmbedBaseURL
	}
	return c.BaseURL
}

// embedder is the embeddings endpoint (embedding scorer, semantic
// explanation search); nil without EmbedModel. The LLM's key goes only to
// the LLM's own base URL.
func (c llmConfig) embedder() (*llm.Embedder, error) {
	if c.EmbedModel == "" {
		return nil, nil
	}
	key := c.EmbedAPIKey
	if c.EmbedBaseURL == "" && key == "" {
		key = c.APIKey
	}
	e, err := llm.NewEmbedder(llm.Config{BaseURL: c.embedBaseURL(), APIKey: key, Model: c.EmbedModel, MaxRetries: c.MaxRetries, Timeout: c.Timeout})
	if err != nil {
		return nil, err
	}
	e.Dimensions = c.EmbedDimensions
	return e, nil
}
