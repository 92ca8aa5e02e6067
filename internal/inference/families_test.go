package inference

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"saex/internal/compute/transformer/transformertest"
)

// The prompt engine runs Llama-, Gemma-2- and Qwen-shaped models with their
// real tokenizers: with an SAE that prepends BOS the tokens are
// tokenizer(text) with BOS in front; the model alone gets BOS as its
// family's tokenizer adds it (Llama, Gemma) or none (Qwen).
func TestEngineOtherFamilies(t *testing.T) {
	const text = "Features of a sparse autoencoder: 42 × ✓"
	for _, c := range []struct {
		family, tok string
		bos         bool
	}{{"llama", "llama3_1", true}, {"gemma2", "gemma3", true}, {"qwen3", "qwen3", false}} {
		t.Run(c.family, func(t *testing.T) {
			dir, tk := transformertest.Model(t, filepath.Join("..", "..", "testdata", "tokenizers", c.tok), c.family)
			e := NewEngine(NewScheduler(2, -1), 0)
			if err := e.AddModel("m", dir); err != nil {
				t.Fatal(err)
			}
			ids, _ := tk.Encode(text)
			alone, err := e.RunPrompt(context.Background(), "m", nil, text)
			if err != nil {
				t.Fatal(err)
			}
			want := ids
			if c.bos {
				want, _ = tk.EncodeSpecial(text)
			}
			if !slices.Equal(alone.TokenIDs, want) || alone.HasBOS != c.bos {
				t.Errorf("model alone: ids %v (BOS %v), want %v", alone.TokenIDs, alone.HasBOS, want)
			}
			if err := e.AddSource("m", "1-res", transformertest.SAE(t, transformertest.Width, "blocks.1.hook_resid_post")); err != nil {
				t.Fatal(err)
			}
			res, err := e.RunPrompt(context.Background(), "m", []string{"1-res"}, text)
			if err != nil {
				t.Fatal(err)
			}
			if res.TokenIDs[0] == ids[0] || !slices.Equal(res.TokenIDs[1:], ids) || !res.HasBOS || len(res.Sources) != 1 {
				t.Fatalf("with a prepend_bos SAE: ids %v, HasBOS %v, %d sources", res.TokenIDs, res.HasBOS, len(res.Sources))
			}
			t.Logf("%s: %d tokens, %+v", c.family, len(res.TokenIDs), res.Sources[0].SourceID)
		})
	}
}
