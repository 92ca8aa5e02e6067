package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"saex/internal/compute/sae"
	"saex/internal/compute/tensor"
)

const demoSAE = "../../demo/demo-gpt2-4l/saes/blocks.2.hook_resid_pre"

func runGenerateCmd(t *testing.T, args ...string) generateOutput {
	t.Helper()
	out, err := runCmd(t, append([]string{"generate", "--model", demoModelDir}, args...)...)
	if err != nil {
		t.Fatalf("generate %v: %v", args, err)
	}
	var g generateOutput
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("output %.200q: %v", out, err)
	}
	return g
}

func joinIDs(ids []int) string {
	s := make([]string, len(ids))
	for i, v := range ids {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ",")
}

// Greedy generation from token ids equals the numpy reference of the
// transformer package's generation test; the text is the tokenizer's
// decoding of the generated ids only.
func TestGenerateCommandGreedyReference(t *testing.T) {
	data, err := os.ReadFile("../../internal/compute/transformer/testdata/generate/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]struct {
		Prompt []int `json:"prompt"`
		Cases  []struct {
			Label  string `json:"label"`
			Tokens []int  `json:"tokens"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	demo := ref["demo-gpt2-4l"]
	want := demo.Cases[0].Tokens
	g := runGenerateCmd(t, "--token-ids", joinIDs(demo.Prompt), "--n-tokens", fmt.Sprint(len(want)), "--stop-at-eos=false")
	if !slices.Equal(g.TokenIDs, want) {
		t.Fatalf("generated %v, reference %v", g.TokenIDs, want)
	}
	if g.Text == "" {
		t.Fatal("no text")
	}
}

// --steer with an SAE feature equals --vector with the same W_dec row at
// the SAE's hook, changes the text, and sampling repeats with its seed.
func TestGenerateCommandSteering(t *testing.T) {
	prompt := []string{"--text", "The quick brown fox", "--n-tokens", "10"}
	plain := runGenerateCmd(t, prompt...)
	steered := runGenerateCmd(t, append(prompt, "--steer", demoSAE+":5:8")...)
	if slices.Equal(plain.TokenIDs, steered.TokenIDs) {
		t.Fatalf("steering changed nothing: %v", plain.TokenIDs)
	}
	s, err := sae.Load(demoSAE)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Cfg.DIn
	var buf bytes.Buffer
	if err := tensor.WriteSafetensors(&buf, map[string]tensor.Tensor32{"v": {Shape: []int{d}, Data: s.WDec[5*d : 6*d]}}, nil); err != nil {
		t.Fatal(err)
	}
	vf := filepath.Join(t.TempDir(), "v.safetensors")
	if err := os.WriteFile(vf, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// strength 4 x multiplier 2 = 8
	byVector := runGenerateCmd(t, append(prompt, "--steer-hook", s.Cfg.HookName, "--vector", vf+":v:4", "--strength-multiplier", "2")...)
	if !slices.Equal(byVector.TokenIDs, steered.TokenIDs) {
		t.Fatalf("--vector %v differs from --steer %v", byVector.TokenIDs, steered.TokenIDs)
	}
	sampled := append(prompt, "--temperature", "1", "--seed", "7")
	a, b := runGenerateCmd(t, sampled...), runGenerateCmd(t, sampled...)
	if !slices.Equal(a.TokenIDs, b.TokenIDs) || a.Text != b.Text {
		t.Fatalf("same seed, different output: %v vs %v", a, b)
	}
}

func TestGenerateCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--text", "a", "--token-ids", "1"}, "exactly one"},
		{[]string{"--text", "a", "--steer", demoSAE + ":99999:1"}, "out of range"},
		{[]string{"--text", "a", "--steer", demoSAE + ":x:1"}, "not an integer"},
		{[]string{"--text", "a", "--steer", demoSAE + ":1:big"}, "not a number"},
		{[]string{"--text", "a", "--steer", demoSAE + ":1:NaN"}, "not finite"},
		{[]string{"--text", "a", "--vector", "x.safetensors:v:1"}, "--steer-hook"},
		{[]string{"--text", "a", "--n-tokens", "0"}, "n_tokens"},
		{[]string{"--text", "a", "--temperature", "-1"}, "temperature"},
		{[]string{"--token-ids", "1,99999"}, "vocabulary"},
	} {
		_, err := runCmd(t, append([]string{"generate", "--model", demoModelDir}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want an error containing %q, got %v", c.args, c.want, err)
		}
	}
}
