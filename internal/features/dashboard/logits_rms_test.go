package dashboard

import (
	"math"
	"path/filepath"
	"testing"

	"saex/internal/compute/transformer"
	"saex/internal/compute/transformer/transformertest"
)

// Under RMSNorm the processed W_U folds in the final norm's weight without
// centring over d_model (TransformerLens's fold_ln for RMS), then centres
// each d_model row over the vocabulary.
func TestProcessedUnembedRMSNorm(t *testing.T) {
	dir, _ := transformertest.Model(t, filepath.Join("..", "..", "..", "testdata", "tokenizers", "qwen3"), "qwen3")
	m, err := transformer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, v := m.Cfg.NEmbd, m.Cfg.VocabSize
	got := processedUnembed(m)
	wut := m.WUT()
	lnw, _ := m.LnFinal()
	for _, j := range []int{0, 7, d - 1} {
		var mean float64
		for tok := range v {
			mean += float64(lnw[j]) * float64(wut[tok*d+j])
		}
		mean /= float64(v)
		for _, tok := range []int{0, 1, 1000, v - 1} {
			want := float64(lnw[j])*float64(wut[tok*d+j]) - mean
			if math.Abs(float64(got[j*v+tok])-want) > 1e-6 {
				t.Errorf("W_U[%d][%d] = %g, want %g", j, tok, got[j*v+tok], want)
			}
		}
	}
}
