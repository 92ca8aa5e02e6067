package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"saex/internal/compute/tensor"
)

const demoModelDir = "../../demo/demo-gpt2-4l/model"

type activationsJSON struct {
	TokenIDs []int       `json:"token_ids"`
	Hook     string      `json:"hook"`
	Values   [][]float32 `json:"values"`
}

func decodeActivations(t *testing.T, out string) activationsJSON {
	t.Helper()
	var got activationsJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("output %.200q: %v", out, err)
	}
	return got
}

// The demo reference's prompt 0 with BOS, by text and by ids, must match
// the golden residuals.
func TestActivationsCommandMatchesReference(t *testing.T) {
	ref, err := tensor.OpenSafetensors("../../testdata/golden/demo-reference/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	raw, err := ref.Int64("p0.tokens")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Float32("p0.blocks.2.hook_resid_pre")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(raw))
	for i, v := range raw {
		ids[i] = fmt.Sprint(v)
	}
	const hook = "blocks.2.hook_resid_pre"
	for _, args := range [][]string{
		{"--text", "The quick brown fox jumps over the lazy dog.", "--prepend-bos"},
		{"--token-ids", strings.Join(ids, ",")},
	} {
		out, err := runCmd(t, append([]string{"activations", "--model", demoModelDir, "--hook", hook}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		got := decodeActivations(t, out)
		if got.Hook != hook || len(got.TokenIDs) != len(raw) || len(got.Values) != len(raw) {
			t.Fatalf("%v: hook %q, %d ids, %d rows; want %d", args, got.Hook, len(got.TokenIDs), len(got.Values), len(raw))
		}
		maxErr := 0.0
		for r, row := range got.Values {
			if got.TokenIDs[r] != int(raw[r]) {
				t.Fatalf("%v: token %d = %d, want %d", args, r, got.TokenIDs[r], raw[r])
			}
			if len(row) != 256 {
				t.Fatalf("row %d has %d values", r, len(row))
			}
			for j, v := range row {
				maxErr = max(maxErr, math.Abs(float64(v-want[r*256+j])))
			}
		}
		if maxErr > 1e-3 {
			t.Errorf("%v: max abs error %g", args, maxErr)
		}
	}
}

func TestActivationsCommandErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--hook", "logits", "--token-ids", "1"},      // no model
		{"--model", demoModelDir, "--token-ids", "1"}, // no hook
		{"--model", demoModelDir, "--hook", "logits"}, // no input
		{"--model", demoModelDir, "--hook", "logits", "--text", "a", "--token-ids", "1"},
		{"--model", demoModelDir, "--hook", "blocks.9.hook_resid_pre", "--token-ids", "1"},
		{"--model", demoModelDir, "--hook", "blocks.0.hook_nope", "--token-ids", "1"},
		{"--model", demoModelDir, "--hook", "logits", "--token-ids", "1,x"},
		{"--model", demoModelDir, "--hook", "logits", "--token-ids", "4096"},
		{"--model", demoModelDir, "--hook", "logits", "--token-ids", strings.Repeat("1,", 256) + "1"}, // > n_positions
		{"--model", t.TempDir(), "--hook", "logits", "--token-ids", "1"},
	} {
		if out, err := runCmd(t, append([]string{"activations"}, args...)...); err == nil || out != "" {
			t.Errorf("%v: err %v, stdout %.80q", args, err, out)
		}
	}
}
