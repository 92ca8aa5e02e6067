package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// runCmd runs the binary's dispatcher as main does and returns stdout.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	return stdout.String(), err
}

func TestTokenizeCommandMatchesGolden(t *testing.T) {
	data, err := os.ReadFile("../../testdata/golden/tokenizers/demo-gpt2-4l.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Text    string   `json:"text"`
			IDs     []int    `json:"ids"`
			Offsets [][2]int `json:"offsets"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cases[:12] {
		out, err := runCmd(t, "tokenize", "--tokenizer", "../../demo/demo-gpt2-4l/model", "--text", c.Text)
		if err != nil {
			t.Fatalf("%q: %v", c.Text, err)
		}
		var got struct {
			IDs     []int    `json:"ids"`
			Offsets [][2]int `json:"offsets"`
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%q: output %q: %v", c.Text, out, err)
		}
		if !reflect.DeepEqual(got.IDs, c.IDs) || !reflect.DeepEqual(got.Offsets, c.Offsets) {
			t.Errorf("%q: got %v %v, want %v %v", c.Text, got.IDs, got.Offsets, c.IDs, c.Offsets)
		}
	}
	// Empty text prints empty arrays, not null.
	out, err := runCmd(t, "tokenize", "--tokenizer", "../../testdata/gpt2-tokenizer", "--text", "")
	if err != nil || strings.TrimSpace(out) != `{"ids":[],"offsets":[]}` {
		t.Errorf("empty text: %q, %v", out, err)
	}
}

func TestTokenizeCommandErrors(t *testing.T) {
	for _, args := range [][]string{
		{"tokenize", "--text", "x"},
		{"tokenize", "--tokenizer", "../../testdata/gpt2-tokenizer"},
		{"tokenize", "--tokenizer", t.TempDir(), "--text", "x"},
		{"tokenize", "--tokenizer", "../../testdata/gpt2-tokenizer", "--text", "x", "extra"},
	} {
		if out, err := runCmd(t, args...); err == nil || out != "" {
			t.Errorf("%v: err %v, stdout %q", args, err, out)
		}
	}
}

// Real Llama 3.1 and Qwen3 files: without --no-special the ids are
// tokenizer(text)["input_ids"] (Llama prepends <|begin_of_text|>, Qwen
// nothing), with it add_special_tokens=False; the goldens come from
// Hugging Face's tokenizers.
func TestTokenizeCommandNoSpecial(t *testing.T) {
	for _, name := range []string{"llama3_1", "qwen3"} {
		data, err := os.ReadFile("../../testdata/golden/tokenizers/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var g struct {
			Cases []struct {
				Text         string   `json:"text"`
				IDs          []int    `json:"ids"`
				IDsNoSpecial []int    `json:"ids_no_special"`
				Offsets      [][2]int `json:"offsets"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatal(err)
		}
		dir := "../../testdata/tokenizers/" + name
		for _, c := range g.Cases[:3] {
			for _, noSpecial := range []bool{false, true} {
				args := []string{"tokenize", "--tokenizer", dir, "--text", c.Text}
				want := c.IDs
				if noSpecial {
					args = append(args, "--no-special")
					want = c.IDsNoSpecial
				}
				out, err := runCmd(t, args...)
				if err != nil {
					t.Fatalf("%s %q: %v", name, c.Text, err)
				}
				var got tokenizeOutput
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("%s: output %q: %v", name, out, err)
				}
				if !reflect.DeepEqual(got.IDs, want) || len(got.Offsets) != len(want) {
					t.Errorf("%s %q no-special=%v: got %v, want %v", name, c.Text, noSpecial, got.IDs, want)
				}
				if !noSpecial && !reflect.DeepEqual(got.Offsets, c.Offsets) {
					t.Errorf("%s %q: offsets %v, want %v", name, c.Text, got.Offsets, c.Offsets)
				}
			}
		}
	}
}
