package transformer

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"saex/internal/compute/kernel"
)

// familyCases are the checkpoints under testdata/families: the shared
// fixtures (../shared/fixtures/families, made by np_families.py) and the
// extra cases made by testdata/families/make_extra.py (see FIXTURES.md
// there).
var familyCases = []string{"llama3-gqa", "qwen2-bias", "qwen3-qknorm", "gemma2-softcap-window", "pythia-parallel"}

// extraFamilyCases are found by listing testdata/families: every
// directory with a reference.json.
func allFamilyCases(t testing.TB) []string {
	ents, err := os.ReadDir(filepath.Join("testdata", "families"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("testdata", "families", e.Name(), "reference.json")); err == nil {
			out = append(out, e.Name())
		}
	}
	if len(out) < len(familyCases) {
		t.Fatalf("testdata/families has %d cases, want at least %d", len(out), len(familyCases))
	}
	return out
}

type familyRef struct {
	Family string `json:"family"`
	Cases  []struct {
		Index int      `json:"index"`
		Hooks []string `json:"hooks"`
	} `json:"cases"`
}

// Every hook of every family fixture must match the float64 numpy
// reference to 1e-4 of max(1, max|ref|), all cases in one batched call.
func TestFamilyReferences(t *testing.T) {
	t.Logf("kernel %s", kernel.Impl())
	for _, name := range allFamilyCases(t) {
		for _, keep16 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keep16=%v", name, keep16), func(t *testing.T) {
				testFamilyReference(t, name, keep16)
			})
		}
	}
}

// testFamilyReference checks one case, loaded with 16-bit weights kept
// 16-bit or widened (the same for F32 checkpoints).
func testFamilyReference(t *testing.T, name string, keep16 bool) {
	dir := filepath.Join("testdata", "families", name)
	m, err := loadDir(dir, func(Config) bool { return keep16 })
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta familyRef
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	if string(m.Cfg.Family) != meta.Family {
		t.Errorf("family %s, reference says %s", m.Cfg.Family, meta.Family)
	}
	ref := openRef(t, filepath.Join(dir, "reference.safetensors"))
	var batch [][]int
	hooks := map[string]bool{}
	for _, c := range meta.Cases {
		batch = append(batch, refTokens(t, ref, fmt.Sprintf("c%d.tokens", c.Index)))
		for _, h := range c.Hooks {
			hooks[h] = true
		}
	}
	var names []string
	for h := range hooks {
		names = append(names, h)
	}
	if len(names) < 3*m.Cfg.NLayer {
		t.Fatalf("reference has only %d hooks", len(names))
	}
	acts, err := m.Forward(batch, names)
	if err != nil {
		t.Fatal(err)
	}
	for ci, c := range meta.Cases {
		for _, h := range c.Hooks {
			want, err := ref.Float32(fmt.Sprintf("c%d.%s", c.Index, h))
			if err != nil {
				t.Fatal(err)
			}
			compare(t, fmt.Sprintf("c%d %s", c.Index, h), acts.Get(h, ci), want, 1e-4, 0)
		}
	}
}

// The reference tests again with the AVX2 and pure-Go kernels (and
// element-wise helpers), each in a child test process, since the choice is
// made once per process from SAEX_KERNEL.
func TestFamilyReferencesEveryKernel(t *testing.T) {
	if os.Getenv("SAEX_KERNEL") != "" {
		t.Skip("child process")
	}
	impls := []string{"purego"}
	switch kernel.Impl() {
	case "avx512":
		impls = append(impls, "avx2")
	case "purego":
		impls = nil // -tags purego: this process already ran pure Go
	}
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^(TestFamilyReferences|TestTinyRandomHiddenStates|TestDemoReference)$", "-test.v")
			cmd.Env = append(os.Environ(), "SAEX_KERNEL="+impl)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "kernel "+impl) {
				t.Fatalf("SAEX_KERNEL=%s: %v\n%s", impl, err, out)
			}
		})
	}
}
