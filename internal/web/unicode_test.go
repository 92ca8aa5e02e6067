package web_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"saex/internal/web/webtest"
	"saex/templates"
)

// unicodeText has Cyrillic, a math symbol, CJK, an emoji and a combining
// mark, which GPT-2's byte-level tokenizer splits mid-character.
const unicodeText = "Привет ∞ 日本語 🍕 e\u0301"

// Issue 11 defect 2: pages show the characters, merged from the byte
// pieces of the tokens that split them, never byte escapes; the API sends
// each piece as Neuronpedia does (U+FFFD for the broken bytes).
func TestUnicodeTokens(t *testing.T) {
	env := webtest.NewDemo(t, nil)
	feature := env.URL + templates.FeatureURL(webtest.DemoModel, "1-res-topk", 5)

	// The test box of a feature page.
	st, b := postForm(t, feature+"/test", url.Values{"text": {unicodeText}}, true)
	wantStatus(t, "test box", st, 200, b)
	checkReadable(t, "test box", text(parseHTML(t, b)))

	// The prompt tool's token strip.
	st, b = postForm(t, env.URL+templates.PromptURL(webtest.DemoModel), url.Values{"text": {unicodeText}, "source": {"1-res-topk"}}, true)
	wantStatus(t, "prompt", st, 200, b)
	doc := parseHTML(t, b)
	var strip strings.Builder
	for _, l := range findAll(doc, byClass("ptok")) {
		strip.WriteString(text(l))
	}
	checkReadable(t, "prompt strip", strip.String())
	if got := strings.TrimPrefix(strip.String(), "<|endoftext|>"); got != unicodeText {
		t.Errorf("prompt strip reads %q, want %q", got, unicodeText)
	}

	// The API: valid UTF-8 strings, one per token, no escapes.
	st, b = postJSON(t, env.URL+"/api/activation/new", map[string]any{
		"feature": map[string]any{"modelId": webtest.DemoModel, "source": "1-res-topk", "index": "5"}, "customText": unicodeText})
	wantStatus(t, "activation/new", st, 200, b)
	var act struct {
		Tokens []string `json:"tokens"`
	}
	if err := json.Unmarshal(b, &act); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(act.Tokens, "")
	if strings.Contains(joined, `\x`) || !utf8.ValidString(joined) {
		t.Errorf("API tokens %q", act.Tokens)
	}
	if !strings.Contains(joined, "<|endoftext|>") || !strings.Contains(joined, " e\uFFFD") {
		t.Errorf("API tokens %q", joined)
	}
	if !strings.Contains(joined, "\uFFFD") {
		t.Errorf("API tokens %q: split characters should be U+FFFD pieces as Neuronpedia sends them", joined)
	}
}

func checkReadable(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, `\x`) || strings.Contains(s, "\uFFFD") {
		t.Errorf("%s shows escapes or placeholders: %q", what, s)
	}
	for _, want := range []string{"Привет", "∞", "日本語", "🍕", "e\u0301"} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %q: %q", what, want, s)
		}
	}
}
