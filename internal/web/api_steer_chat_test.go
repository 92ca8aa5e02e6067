package web_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"saex/internal/compute/transformer/transformertest"
	"saex/internal/inference"
	"saex/internal/testenv"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

// /api/steer-chat continues both chats with the model's chat template
// (a random Qwen3-shaped model with Qwen3's real tokenizer and template):
// raw starts with the rendered chat, chatTemplate is the chat plus the new
// assistant turn; a model without a template answers 400 naming modelId.
func TestAPISteerChat(t *testing.T) {
	tokDir := filepath.Join(testenv.RepoRoot(t), "testdata", "tokenizers", "qwen3")
	dir, _ := transformertest.Model(t, tokDir, "qwen3")
	cfg, err := os.ReadFile(filepath.Join(tokDir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	sched := inference.NewScheduler(0, 0)
	eng := inference.NewEngine(sched, 0)
	if err := eng.AddModel("qchat", dir); err != nil {
		t.Fatal(err)
	}
	env := webtest.New(t, func(s *web.Server) { s.Inference, s.Scheduler = eng, sched })
	vec := make([]float64, transformertest.Width)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range vec {
		vec[i] = r.NormFloat64()
	}
	chat := []any{map[string]any{"role": "user", "content": "Write a one sentence story."}}
	body := map[string]any{
		"modelId": "qchat", "defaultChatMessages": chat, "steeredChatMessages": chat,
		"vectors":     []any{map[string]any{"vector": vec, "strength": 20, "hook": "blocks.0.hook_resid_post"}},
		"temperature": 0, "n_tokens": 6, "seed": 16, "strength_multiplier": 1, "steer_special_tokens": false,
	}
	st, b := postJSON(t, env.URL+"/api/steer-chat", body)
	wantStatus(t, "steer-chat", st, 200, b)
	res := obj(t, b)
	hasKeys(t, "steer-chat", res, "STEERED", "DEFAULT", "id", "shareUrl", "limit")
	const prompt = "<|im_start|>user\nWrite a one sentence story.<|im_end|>\n<|im_start|>assistant\n"
	for _, typ := range []string{"STEERED", "DEFAULT"} {
		out := res[typ].(map[string]any)
		hasKeys(t, typ, out, "raw", "chatTemplate", "logprobs")
		turns := out["chatTemplate"].([]any)
		if !strings.HasPrefix(out["raw"].(string), prompt) || len(turns) != 2 || turns[1].(map[string]any)["role"] != "assistant" {
			t.Fatalf("%s: %v", typ, out)
		}
	}
	if res["STEERED"].(map[string]any)["raw"] == res["DEFAULT"].(map[string]any)["raw"] {
		t.Fatalf("steering changed nothing: %v", res)
	}
	for _, c := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(m map[string]any) {
			m["defaultChatMessages"] = []any{map[string]any{"role": "robot", "content": "x"}}
		}, "defaultChatMessages[0].role"},
		{func(m map[string]any) { delete(m, "steeredChatMessages") }, "steeredChatMessages"},
		{func(m map[string]any) { m["n_tokens"] = 300 }, "n_tokens"},
		{func(m map[string]any) {
			m["steeredChatMessages"] = []any{map[string]any{"role": "user", "content": strings.Repeat("x", 2100)}}
		}, "steeredChatMessages"},
	} {
		bad := map[string]any{}
		for k, v := range body {
			bad[k] = v
		}
		c.edit(bad)
		st, b := postJSON(t, env.URL+"/api/steer-chat", bad)
		wantError(t, c.want, st, b, 400, c.want)
	}
	// The demo's GPT-2 has no chat template.
	demo := webtest.NewDemo(t, nil)
	st, b = postJSON(t, demo.URL+"/api/steer-chat", map[string]any{"modelId": webtest.DemoModel, "defaultChatMessages": chat, "steeredChatMessages": chat,
		"features": []any{map[string]any{"layer": "1-res-topk", "index": 1, "strength": 1}}})
	wantError(t, "no template", st, b, 400, "modelId")
}
