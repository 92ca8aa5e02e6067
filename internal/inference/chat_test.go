package inference

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"saex/internal/compute/transformer"
	"saex/internal/compute/transformer/transformertest"
	"saex/internal/features"
)

const tokenizersDir = "../../testdata/tokenizers"

// The chat templates of Gemma 3, Llama 3.1 and Qwen3 render as Python's
// Jinja2 renders them (testdata/make_chat_golden.py).
func TestChatTemplatesMatchJinja2(t *testing.T) {
	data, err := os.ReadFile("testdata/chat_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Messages [][]features.SteerChatMessage `json:"messages"`
		Rendered map[string][]string           `json:"rendered"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Rendered) != 3 {
		t.Fatalf("%d templates", len(g.Rendered))
	}
	for name, want := range g.Rendered {
		ct, err := loadChatTemplate(filepath.Join(tokenizersDir, name))
		if err != nil || ct == nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, msgs := range g.Messages {
			got, err := ct.render(msgs)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got != want[i] {
				t.Errorf("%s, chat %d:\n got %q\nwant %q", name, i, got, want[i])
			}
		}
	}
}

// SteerChat renders each chat with the model's template, tokenizes it with
// its special tokens and continues it: DEFAULT is plain greedy generation
// of exactly those tokens, STEERED the same with the vector at its hook.
func TestEngineSteerChat(t *testing.T) {
	dir, tok := transformertest.Model(t, filepath.Join(tokenizersDir, "qwen3"), "qwen3")
	cfg, err := os.ReadFile(filepath.Join(tokenizersDir, "qwen3", "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(NewScheduler(2, -1), 0)
	if err := e.AddModel("q", dir); err != nil {
		t.Fatal(err)
	}
	vec := make([]float32, transformertest.Width)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range vec {
		vec[i] = float32(r.NormFloat64())
	}
	chat := []features.SteerChatMessage{{Role: "user", Content: "Write a one sentence story."}}
	req := features.SteerChatRequest{
		SteerRequest: features.SteerRequest{ModelID: "q", NTokens: 8, StrengthMultiplier: 1,
			Types:   []string{features.SteerSteered, features.SteerDefault},
			Vectors: []features.SteerVector{{Hook: "blocks.0.hook_resid_post", Vector: vec, Strength: 20}}},
		DefaultMessages: chat, SteeredMessages: chat,
	}
	out, err := e.SteerChat(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	const prompt = "<|im_start|>user\nWrite a one sentence story.<|im_end|>\n<|im_start|>assistant\n"
	ids, _ := tok.Encode(prompt)
	if ids[0] != mustID(t, tok.ID, "<|im_start|>") {
		t.Fatalf("the template's special tokens were not parsed: %v", ids[:3])
	}
	m := e.model("q").model
	plain, err := m.Generate(context.Background(), ids, transformer.GenerateOptions{NTokens: 8, Stop: []int{mustID(t, tok.ID, "<|im_end|>")}})
	if err != nil {
		t.Fatal(err)
	}
	def := out[features.SteerDefault]
	if def.Raw != prompt+tok.Decode(plain) {
		t.Fatalf("DEFAULT raw %q, want %q", def.Raw, prompt+tok.Decode(plain))
	}
	if out[features.SteerSteered].Raw == def.Raw || !strings.HasPrefix(out[features.SteerSteered].Raw, prompt) {
		t.Fatalf("STEERED %q vs DEFAULT %q", out[features.SteerSteered].Raw, def.Raw)
	}
	// A model without a chat template: 400 naming modelId.
	_, err = loadDemoEngine(t).SteerChat(context.Background(), features.SteerChatRequest{SteerRequest: steerReq(), DefaultMessages: chat, SteeredMessages: chat}, nil)
	if features.ErrorCode(err) != features.EINVALID || !strings.Contains(err.Error(), `"modelId"`) {
		t.Fatalf("no template: %v", err)
	}
}

func mustID(t *testing.T, id func(string) (int, bool), s string) int {
	t.Helper()
	v, ok := id(s)
	if !ok {
		t.Fatalf("no token %q", s)
	}
	return v
}
