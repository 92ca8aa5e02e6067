package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

// decodeModels are the demo model, the tiny GPT-2 and every family
// checkpoint under testdata/families.
func decodeModels(t *testing.T) map[string]string {
	dirs := map[string]string{"demo-gpt2-4l": demoDir, "tiny-gpt2-random": tinyDir}
	for _, name := range allFamilyCases(t) {
		dirs[name] = filepath.Join("testdata", "families", name)
	}
	return dirs
}

// relDiff is max|a-b| over max(1, max|b|).
func relDiff(a, b []float32) float64 {
	scale := 1.0
	for _, v := range b {
		scale = max(scale, math.Abs(float64(v)))
	}
	return maxAbsDiff(a, b) / scale
}

// Cached decoding (a prefill of part of the sequence, then one token per
// step, then a second multi-token feed) must give the logits a full
// forward of the same tokens gives, to 1e-4, for every family. The
// sequences are long enough to pass Gemma-2's sliding window.
func TestDecoderMatchesForward(t *testing.T) {
	for name, dir := range decodeModels(t) {
		for _, keep16 := range []bool{false, true} { // 16-bit weights as large models keep them
			t.Run(fmt.Sprintf("%s/keep16=%v", name, keep16), func(t *testing.T) {
				testDecoderMatchesForward(t, name, dir, keep16)
			})
		}
	}
}

func testDecoderMatchesForward(t *testing.T, name, dir string, keep16 bool) {
	m, err := loadDir(dir, func(Config) bool { return keep16 })
	if err != nil {
		t.Fatal(err)
	}
	v := m.Cfg.VocabSize
	r := rand.New(rand.NewPCG(7, uint64(len(name))))
	ids := randomIDs(r, min(30, m.Cfg.NPositions), v)
	acts, err := m.Forward([][]int{ids}, []string{"logits"})
	if err != nil {
		t.Fatal(err)
	}
	want := acts.Get("logits", 0)
	dec, err := m.NewDecoder(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 0, len(ids)*v)
	pre, err := dec.FeedAll(ids[:9])
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, pre...)
	for _, id := range ids[9:20] {
		lg, err := dec.Step(id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, lg...)
	}
	rest, err := dec.FeedAll(ids[20:])
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, rest...)
	if d := relDiff(got, want); d > 1e-4 {
		t.Fatalf("cached logits differ from the full forward by %.3g (relative)", d)
	}
	// Prefill returns the last row only.
	dec2, _ := m.NewDecoder(0, nil)
	last, err := dec2.Prefill(ids)
	if err != nil {
		t.Fatal(err)
	}
	if d := relDiff(last, want[(len(ids)-1)*v:]); d > 1e-4 {
		t.Fatalf("Prefill's last logits differ by %.3g", d)
	}
}

func TestDecoderErrors(t *testing.T) {
	m := mustLoad(t, tinyDir)
	dec, err := m.NewDecoder(4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Prefill(nil); err == nil {
		t.Fatal("empty feed accepted")
	}
	if _, err := dec.Prefill([]int{m.Cfg.VocabSize}); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Fatalf("out-of-vocabulary id: %v", err)
	}
	if _, err := dec.Prefill([]int{1, 2, 3, 4, 5}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("over the limit: %v", err)
	}
	if dec.Len() != 0 {
		t.Fatalf("a rejected feed left %d tokens", dec.Len())
	}
}
