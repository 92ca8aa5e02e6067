package transformer

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"saex/internal/compute/tensor"
)

const root = "../../.."

var (
	tinyDir = filepath.Join(root, "testdata", "golden", "tiny-gpt2-random")
	demoDir = filepath.Join(root, "demo", "demo-gpt2-4l", "model")
	demoRef = filepath.Join(root, "testdata", "golden", "demo-reference", "reference.safetensors")
)

func mustLoad(t testing.TB, dir string) *Model {
	t.Helper()
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func openRef(t testing.TB, path string) *tensor.File {
	t.Helper()
	f, err := tensor.OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func refTokens(t testing.TB, f *tensor.File, name string) []int {
	t.Helper()
	raw, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, len(raw))
	for i, v := range raw {
		ids[i] = int(v)
	}
	return ids
}

// compare checks got against the reference tensor with an absolute
// tolerance of rel*max(1, max|ref|) (or abs when rel is 0) and returns the
// maximum error.
func compare(t *testing.T, what string, got, want []float32, rel, abs float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return math.Inf(1)
	}
	maxRef, maxErr := 0.0, 0.0
	for i := range want {
		maxRef = max(maxRef, math.Abs(float64(want[i])))
		maxErr = max(maxErr, math.Abs(float64(got[i])-float64(want[i])))
	}
	tol := abs
	if rel > 0 {
		tol = rel * max(1, maxRef)
	}
	if !(maxErr <= tol) {
		t.Errorf("%s: max abs error %.3g > tolerance %.3g (max|ref| %.3g)", what, maxErr, tol, maxRef)
	} else {
		t.Logf("%s: max abs error %.3g (tolerance %.3g, max|ref| %.3g)", what, maxErr, tol, maxRef)
	}
	return maxErr
}

func TestTinyRandomHiddenStates(t *testing.T) {
	m := mustLoad(t, tinyDir)
	ref := openRef(t, filepath.Join(tinyDir, "reference.safetensors"))
	hooks := []string{"blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "ln_final.hook_normalized"}
	var batch [][]int
	for c := 0; ; c++ {
		if _, ok := ref.Info(fmt.Sprintf("c%d.tokens", c)); !ok {
			break
		}
		batch = append(batch, refTokens(t, ref, fmt.Sprintf("c%d.tokens", c)))
	}
	if len(batch) < 2 {
		t.Fatalf("reference has %d cases", len(batch))
	}
	// One batched call, so the row bookkeeping across sequences is tested.
	acts, err := m.Forward(batch, hooks)
	if err != nil {
		t.Fatal(err)
	}
	for c := range batch {
		for i, h := range hooks {
			want, err := ref.Float32(fmt.Sprintf("c%d.hidden_states.%d", c, i))
			if err != nil {
				t.Fatal(err)
			}
			compare(t, fmt.Sprintf("c%d %s", c, h), acts.Get(h, c), want, 1e-4, 0)
		}
	}
}

func TestDemoReference(t *testing.T) {
	m := mustLoad(t, demoDir)
	ref := openRef(t, demoRef)
	hooks := []string{"blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.2.hook_resid_pre",
		"blocks.3.hook_resid_pre", "blocks.3.hook_resid_post", "ln_final.hook_normalized", "logits"}
	for p := 0; ; p++ {
		name := fmt.Sprintf("p%d", p)
		if _, ok := ref.Info(name + ".tokens"); !ok {
			if p < 6 {
				t.Fatalf("reference has %d prompts", p)
			}
			break
		}
		ids := refTokens(t, ref, name+".tokens")
		if ids[0] != m.Cfg.BOSTokenID {
			t.Fatalf("%s starts with %d, want BOS %d", name, ids[0], m.Cfg.BOSTokenID)
		}
		acts, err := m.Forward([][]int{ids}, hooks)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hooks {
			key := name + "." + h
			switch h {
			case "ln_final.hook_normalized":
				key = name + ".ln_final"
			case "logits":
				key = name + ".logits"
			}
			want, err := ref.Float32(key)
			if err != nil {
				t.Fatal(err)
			}
			got := acts.Get(h, 0)
			if h == "logits" {
				if len(want) < len(got) { // last position only
					got = got[len(got)-len(want):]
				}
				compare(t, key, got, want, 0, 2e-3)
				continue
			}
			compare(t, key, got, want, 1e-4, 0)
		}
	}
}
