package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchCommand(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "encode", "--d-in", "16", "--d-sae", "128", "--tokens", "3", "--k", "4", "--threads", "2"},
		{"bench", "encode", "--d-in", "16", "--d-sae", "128", "--tokens", "3", "--k", "0"},
		{"bench", "gemm", "--m", "5", "--k", "7", "--n", "70", "--threads", "1"},
		{"bench", "gemm", "--m", "5", "--k", "7", "--n", "70", "--dtype", "bf16"},
		{"bench", "gemm", "--m", "9", "--k", "7", "--n", "70", "--dtype", "f16", "--threads", "2"},
	} {
		out, err := execEncodeCLI(args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var got map[string]float64
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %q: %v", args, out, err)
		}
		if len(got) != 3 || got["gflops"] <= 0 || got["seconds_per_call"] <= 0 || got["cpu_seconds_per_call"] <= 0 {
			t.Errorf("%v: %v", args, got)
		}
	}
}

func TestBenchCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "want a target"},
		{[]string{"bench", "matmul"}, `unknown target "matmul"`},
		{[]string{"bench", "encode", "--d-in", "8", "--d-sae", "16"}, "--tokens must be a positive integer"},
		{[]string{"bench", "encode", "--d-in", "8", "--d-sae", "16", "--tokens", "2", "--k", "17"}, "field k"},
		{[]string{"bench", "gemm", "--m", "1", "--k", "-1", "--n", "2"}, "--k must be a positive integer"},
		{[]string{"bench", "gemm", "--m", "1", "--k", "1", "--n", "2", "--threads", "-1"}, "--threads"},
		{[]string{"bench", "gemm", "--m", "100000", "--k", "100000", "--n", "2"}, "too large"},
		{[]string{"bench", "gemm", "--m", "1", "--k", "1", "--n", "2", "--dtype", "f64"}, `--dtype "f64"`},
		{[]string{"bench", "forward", "--tokens", "4", "--hook", "logits"}, "--config"},
		{[]string{"bench", "forward", "--config", familyConfig("pythia-parallel"), "--tokens", "4", "--hook", "blocks.0.hook_resid_mid"}, "use_parallel_residual"},
		{[]string{"bench", "forward", "--config", familyConfig("llama3-gqa"), "--tokens", "4", "--hook", "blocks.0.hook_resid_post", "--dtype", "f8"}, "--dtype"},
		{[]string{"bench", "forward", "--config", familyConfig("llama3-gqa"), "--tokens", "400", "--hook", "logits"}, "context of 256"},
		{[]string{"bench", "forward", "--config", "nope.json", "--tokens", "4", "--hook", "logits"}, "nope.json"},
	} {
		if _, err := execEncodeCLI(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

func familyConfig(name string) string {
	return filepath.Join("..", "..", "internal", "compute", "transformer", "testdata", "families", name, "config.json")
}

// bench forward runs random weights of a config's shape and reports time,
// GFLOP/s and peak RSS.
func TestBenchForwardCommand(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "forward", "--config", familyConfig("gemma2-softcap-window"), "--tokens", "16", "--hook", "blocks.1.hook_resid_post", "--threads", "2"},
		{"bench", "forward", "--config", familyConfig("pythia-parallel"), "--tokens", "9", "--hook", "logits", "--dtype", "bf16"},
		{"bench", "forward", "--config", filepath.Join("..", "..", "internal", "compute", "transformer", "testdata", "shapes", "gpt2-small.json"),
			"--tokens", "4", "--hook", "blocks.0.attn.hook_z", "--dtype", "f32"},
	} {
		out, err := execEncodeCLI(args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var got map[string]float64
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %q: %v", args, out, err)
		}
		if len(got) != 4 || got["gflops"] <= 0 || got["seconds_per_call"] <= 0 || got["cpu_seconds_per_call"] <= 0 || got["peak_rss_bytes"] < 1<<20 {
			t.Errorf("%v: %v", args, got)
		}
	}
}
