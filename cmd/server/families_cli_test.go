package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
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

// TestBuildSkipsSpecialTokens builds dashboards over a corpus full of a
// special token that is not BOS (Llama 3's <|eot_id|>): like BOS, it must
// never carry an example's activation (dashboards skip every special
// token, as SAEDashboard and Neuronpedia leave them out).
func TestBuildSkipsSpecialTokens(t *testing.T) {
	url := storetest.NewURL(t)
	dir, _ := transformertest.Model(t, filepath.Join("..", "..", "testdata", "tokenizers", "llama3_1"), "llama")
	saeDir := transformertest.SAE(t, transformertest.Width, "blocks.1.hook_resid_post")
	corpus := filepath.Join(t.TempDir(), "corpus.txt")
	var text strings.Builder
	for i := range 200 {
		fmt.Fprintf(&text, "turn %d: the quick brown fox<|eot_id|> jumps<|eot_id|>\n", i)
	}
	if err := os.WriteFile(corpus, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"build", "--model", dir, "--model-id", "tiny-llama", "--sae", saeDir,
		"--corpus", corpus, "--contexts", "8", "--chunk", "4", "--context-size", "32",
		"--database-url", url, "--work-dir", t.TempDir()}
	if out, err := runCLI(t, args...); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
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
	specials, examples := 0, 0
	for i := range srcs[0].NumFeatures {
		f, err := sdb.GetFeature(ctx, features.FeatureKey{ModelID: "tiny-llama", SourceID: srcs[0].ID, Index: i}, features.FeatureOptions{})
		if err != nil {
			continue // a dead feature has no row to read
		}
		for _, a := range f.Activations {
			examples++
			for p, tok := range a.Tokens {
				if tok != "<|eot_id|>" && tok != "<|begin_of_text|>" {
					continue
				}
				specials++
				if a.Values[p] != 0 {
					t.Fatalf("feature %d: special token %q at %d carries %g", i, tok, p, a.Values[p])
				}
			}
		}
	}
	if examples == 0 || specials == 0 {
		t.Fatalf("nothing checked: %d examples, %d special positions", examples, specials)
	}
}
