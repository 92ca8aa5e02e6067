package autointerp

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"saex/internal/features"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if got != string(want) {
		t.Errorf("%s changed; got:\n%s", name, got)
	}
}

func renderMessages(ms []Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString("=== " + m.Role + "\n" + m.Content + "\n")
	}
	return b.String()
}

func TestExplainPromptGolden(t *testing.T) {
	ft := testFeature(7)
	split := SplitExamples(ft, Sampling{})
	if len(split.Explain) != 6 || len(split.Test) != 3 {
		t.Fatalf("split %d explain / %d test, want 6/3 (every third held out)", len(split.Explain), len(split.Test))
	}
	for _, c := range split.Test {
		for _, e := range split.Explain {
			if c.Text() == e.Text() {
				t.Fatalf("held-out context %q also shown to the explainer", c.Text())
			}
		}
	}
	golden(t, "explain_prompt.golden", renderMessages(ExplainPrompt(ft, split.Explain)))
}

func TestScorePromptGolden(t *testing.T) {
	ft := testFeature(7)
	split := SplitExamples(ft, Sampling{})
	negs := []Context{{Tokens: []string{"The", " cat", " sat"}, Values: []float32{0, 0, 0}}}
	llm := &fakeLLM{replies: []any{oracle}}
	s := &Scorer{LLM: llm, Model: "judge"}
	for _, typ := range []string{ScoreDetection, ScoreFuzzing} {
		if _, err := s.Score(context.Background(), typ, "“err” after if", split.Test[:1], negs, 1); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "detection_prompt.golden", renderMessages(llm.reqs[0].Messages))
	golden(t, "fuzzing_prompt.golden", renderMessages(llm.reqs[1].Messages))
}

func TestFormatHighlighted(t *testing.T) {
	c := Context{Tokens: []string{"a", " b", " c", "\n", " d"}, Values: []float32{0, 1, 2, 0, 3}}
	if got, want := FormatHighlighted(c, 0), "a<< b c>>↵<< d>>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseExplanation(t *testing.T) {
	cases := []struct {
		reply ChatReply
		want  string
		err   error
	}{
		{ChatReply{Content: "Thinking...\n[EXPLANATION]: the token \"err\" after if", FinishReason: "stop"}, `the token "err" after if`, nil},
		{ChatReply{Content: "[explanation]: closing brackets\nextra", FinishReason: "stop"}, "closing brackets", nil},
		{ChatReply{Content: "Go error checks", FinishReason: "stop"}, "Go error checks", nil},
		{ChatReply{Content: "", Refusal: "I can't help with that"}, "", ErrRefusal},
		{ChatReply{Content: "I'm sorry, but I cannot assist.", FinishReason: "stop"}, "", ErrRefusal},
		{ChatReply{Content: "x", FinishReason: "content_filter"}, "", ErrRefusal},
		{ChatReply{Content: "Let me think about the examples one by one\nExample 1 shows", FinishReason: "length"}, "", ErrTruncated},
		{ChatReply{Content: "line one\nline two", FinishReason: "stop"}, "", ErrMalformed},
		{ChatReply{Content: "[EXPLANATION]:   ", FinishReason: "stop"}, "", ErrMalformed},
	}
	for _, c := range cases {
		got, err := ParseExplanation(&c.reply)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("%q: got %q, %v; want %q, %v", c.reply.Content, got, err, c.want, c.err)
		}
	}
}

func TestExplainerRetriesUnusableReplies(t *testing.T) {
	ft := testFeature(1)
	llm := &fakeLLM{replies: []any{
		&ChatReply{Content: "I'm sorry, I cannot do that.", FinishReason: "stop", PromptTokens: 10, CompletionTokens: 5},
		&ChatReply{Content: "Example 1 has", FinishReason: "length", PromptTokens: 10, CompletionTokens: 400},
		&ChatReply{Content: "[EXPLANATION]: err in if statements", FinishReason: "stop", PromptTokens: 10, CompletionTokens: 7},
	}}
	e := &Explainer{LLM: llm, Model: "m1"}
	got, u, err := e.Explain(context.Background(), ft, SplitExamples(ft, Sampling{}).Explain)
	if err != nil || got != "err in if statements" {
		t.Fatalf("got %q, %v", got, err)
	}
	if u.Calls != 3 || u.PromptTokens != 30 || u.CompletionTokens != 412 {
		t.Errorf("usage %+v, want 3 calls, 30 prompt and 412 completion tokens", u)
	}
	// Three unusable replies: the feature fails with the last reason.
	llm = &fakeLLM{replies: []any{&ChatReply{Content: "no\nformat", FinishReason: "stop"}}}
	e.LLM = llm
	if _, _, err := e.Explain(context.Background(), ft, SplitExamples(ft, Sampling{}).Explain); !errors.Is(err, ErrMalformed) || len(llm.reqs) != Attempts {
		t.Errorf("err %v after %d calls, want ErrMalformed after %d", err, len(llm.reqs), Attempts)
	}
	// An endpoint error is not asked again (the client already retried).
	llm = &fakeLLM{replies: []any{errors.New("LLM endpoint answered 500")}}
	e.LLM = llm
	if _, _, err := e.Explain(context.Background(), ft, SplitExamples(ft, Sampling{}).Explain); err == nil || len(llm.reqs) != 1 {
		t.Errorf("err %v after %d calls, want an error after 1", err, len(llm.reqs))
	}
	// A dead feature is not sent at all.
	if _, _, err := e.Explain(context.Background(), ft, nil); features.ErrorCode(err) != features.EINVALID {
		t.Errorf("no examples: %v, want EINVALID", err)
	}
}
