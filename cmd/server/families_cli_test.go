package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"saex/internal/compute/transformer/transformertest"
	"saex/internal/features"
	"saex/internal/store/storetest"
)

// activations and encode run Llama- and Gemma-2-shaped models with their
// real tokenizers: the text's ids are the tokenizer's, BOS in front when
// asked (activations) or when the SAE was trained with it (encode).
func TestCommandsOnOtherFamilies(t *testing.T) {
	const text = "Sparse autoencoders, ça marche? 12345 ✓"
	for _, c := range []struct{ family, tok string }{{"llama", "llama3_1"}, {"gemma2", "gemma3"}} {
		t.Run(c.family, func(t *testing.T) {
			dir, tk := transformertest.Model(t, filepath.Join("..", "..", "testdata", "tokenizers", c.tok), c.family)
			withBOS, _ := tk.EncodeSpecial(text)
			out, err := execEncodeCLI("activations", "--model", dir, "--text", text, "--hook", "blocks.1.hook_resid_post", "--prepend-bos")
			if err != nil {
				t.Fatal(err)
			}
			got := decodeActivations(t, out)
			if !slices.Equal(got.TokenIDs, withBOS) || len(got.Values) != len(withBOS) || len(got.Values[0]) != 32 {
				t.Fatalf("ids %v (want tokenizer(text) = %v), %d rows", got.TokenIDs, withBOS, len(got.Values))
			}
			for _, row := range got.Values {
				for _, x := range row {
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
						t.Fatal("non-finite activation")
					}
				}
			}
			saeDir := transformertest.SAE(t, transformertest.Width, "blocks.1.hook_resid_post")
			out, err = execEncodeCLI("encode", "--sae", saeDir, "--model", dir, "--text", text)
			if err != nil {
				t.Fatal(err)
			}
			var enc struct {
				FeatureActs []json.RawMessage `json:"feature_acts"`
			}
			if err := json.Unmarshal([]byte(out), &enc); err != nil {
				t.Fatal(err)
			}
			if len(enc.FeatureActs) != len(withBOS) {
				t.Errorf("encode: %d rows, want %d (BOS prepended)", len(enc.FeatureActs), len(withBOS))
			}
		})
	}
}

// build makes dashboards for an SAE on a Llama-shaped random model with
// the real Llama 3.1 tokenizer.
func TestBuildCommandOtherFamily(t *testing.T) {
	url := storetest.NewURL(t)
	dir, _ := transformertest.Model(t, filepath.Join("..", "..", "testdata", "tokenizers", "llama3_1"), "llama")
	saeDir := transformertest.SAE(t, transformertest.Width, "blocks.1.hook_resid_post")
	args := []string{"build", "--model", dir, "--model-id", "tiny-llama", "--sae", saeDir,
		"--corpus", demoRoot + "/corpus/eval.jsonl.gz", "--contexts", "8", "--chunk", "4", "--context-size", "32",
		"--database-url", url, "--work-dir", t.TempDir()}
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if !strings.Contains(out, "dashboards built") {
		t.Errorf("no summary line:\n%s", out)
	}
	ctx := context.Background()
	sdb, cleanup, err := openDatabase(ctx, &Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}, dbConfig{DatabaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	srcs, err := sdb.ListSources(ctx, "tiny-llama")
	if err != nil || len(srcs) != 1 {
		t.Fatalf("sources: %v, %v", srcs, err)
	}
	s := srcs[0]
	if s.Build == nil || s.Build.State != features.BuildDone || s.NumFeatures != 64 {
		t.Errorf("source after build: %+v (build %+v)", s, s.Build)
	}
}
