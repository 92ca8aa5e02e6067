package npexport

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"saex/internal/features"
)

// ProfileWide is the SynthOptions.Profile of a wide SAE (Gemma Scope's
// 1,048,576-feature width): most features rare or dead, so the payload is
// dominated by feature rows rather than examples. See WideMix.
const ProfileWide = "wide"

// WideMix is the share of each kind of feature in the wide profile and the
// examples each gets. Features cycle through the kinds by a seeded draw, so
// any window of indices holds about these shares:
//   - dead (20 %): max activation 0, density 0, no examples, no
//     explanation, empty histograms;
//   - rare (40 %): density 1e-7 to 1e-5, RareExamples examples (top group
//     only), one explanation;
//   - live (40 %): density 1e-5 to 1e-2, SynthOptions.Examples examples
//     (half top group, half in 5 interval bins), one explanation.
var WideMix = struct {
	DeadShare, RareShare float64
	RareExamples         int
}{DeadShare: 0.2, RareShare: 0.4, RareExamples: 4}

// explanation vocabulary of the wide profile: synthWords first (the words
// searches use), then made-up words, drawn Zipf-like so that common words
// match thousands of explanations and rare ones a handful.
const wideExplWords = 5000

func generateWide(root string, o SynthOptions) (int, error) {
	wordZipf := rand.NewZipf(rand.New(rand.NewPCG(o.Seed, 3)), 1.1, 8, wideExplWords-1)
	vocab := make([]string, o.Vocab)
	for i := range vocab {
		s := strconv.FormatInt(int64(i)*7919%1000003, 36)
		if i%4 != 0 {
			s = "▁" + s // SentencePiece's word boundary, as Gemma's pieces
		}
		vocab[i] = s
	}
	vocab[0], vocab[1] = "<bos>", "<eos>"
	rng := newSynthRNG(rand.NewPCG(o.Seed, 0x1de), rand.NewPCG(o.Seed, 2), vocab)
	words := make([]string, wideExplWords)
	for i := range words {
		if i < len(synthWords) {
			words[i] = synthWords[i]
		} else {
			words[i] = "w" + strconv.FormatInt(int64(i)*104729%1000003, 36)
		}
	}
	created := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)
	const creator = "clkht01d40000jv08hvalcvly"
	setName := o.SourceID
	if _, s, ok := strings.Cut(o.SourceID, "-"); ok {
		setName = s
	}
	meta := &Meta{
		Model: &features.Model{ID: o.ModelID, DisplayName: o.ModelID, DisplayNameShort: o.ModelID, CreatorID: creator,
			Dimension: 2304, Layers: 26, NeuronsPerLayer: 9216, Visibility: "PUBLIC", CreatedAt: created, UpdatedAt: created},
		SourceSet: &features.SourceSet{ModelID: o.ModelID, Name: setName, Description: "synthetic wide SAE", Type: "sae",
			CreatorName: "saex", CreatorID: creator, HasDashboards: true, Visibility: "PUBLIC", CreatedAt: created},
		Source: &features.Source{ID: o.SourceID, ModelID: o.ModelID, SetName: setName, CreatorID: creator,
			HasDashboards: true, Visibility: "PUBLIC", CreatedAt: created, NumFeatures: o.Features},
	}
	w, err := NewWriter(root, meta)
	if err != nil {
		return 0, err
	}
	rows := 0
	for idx := 0; idx < o.Features; idx++ {
		kind := rng.Float64()
		dead, rare := kind < WideMix.DeadShare, kind >= WideMix.DeadShare && kind < WideMix.DeadShare+WideMix.RareShare
		f := &features.Feature{ModelID: o.ModelID, SourceID: o.SourceID, Index: idx, SourceSetName: setName,
			CreatorID: creator, CreatedAt: created}
		f.TopkCosSimIndices, f.TopkCosSimValues = append([]int{idx}, rng.ints(24, o.Features)...), append([]float64{1}, rng.values(24, 0.3)...)
		f.NeuronAlignmentIndices, f.NeuronAlignmentValues, f.NeuronAlignmentL1 = rng.ints(3, 2304), rng.values(3, 0.1), rng.values(3, 0.01)
		f.CorrelatedNeuronsIndices, f.CorrelatedNeuronsPearson, f.CorrelatedNeuronsL1 = rng.ints(3, 9216), rng.values(3, 0.1), rng.values(3, 0.01)
		f.NegStr, f.NegValues, f.PosStr, f.PosValues = rng.tokens(10), rng.values(10, 0.5), rng.tokens(10), rng.values(10, 1)
		f.LogitsHistHeights, f.LogitsHistValues = rng.values(50, 5000), rng.values(50, 0.5)
		nEx := o.Examples
		switch {
		case dead:
			nEx = 0
		case rare:
			nEx = WideMix.RareExamples
			f.FracNonzero = roundDP(math.Pow(10, -7+2*rng.Float64()), 9)
		default:
			f.FracNonzero = roundDP(math.Pow(10, -5+3*rng.Float64()), 9)
		}
		if !dead {
			f.MaxActApprox = roundDP(1+rng.Float64()*40, 3)
			f.FreqHistHeights, f.FreqHistValues = rng.values(50, 100), rng.values(50, 10)
		}
		maxAct := f.MaxActApprox
		top := nEx
		if !rare {
			top = nEx / 2
		}
		for j := 0; j < nEx; j++ {
			a := &features.Activation{ID: fmt.Sprintf("c%08dx%015d", idx, j), ModelID: o.ModelID, SourceID: o.SourceID,
				Index: idx, Tokens: rng.tokens(o.Tokens), Values: make([]float32, o.Tokens), CreatorID: creator, CreatedAt: created}
			a.Tokens[0] = vocab[0]
			var lo, hi float64
			if j < top {
				lo, hi = maxAct*0.6, maxAct
			} else {
				q := (j - top) * 5 / max(1, nEx-top)
				lo, hi = maxAct*float64(q)/5, maxAct*float64(q+1)/5
			}
			peak := 1 + rng.IntN(o.Tokens-1)
			for k := 1; k < o.Tokens; k++ {
				if k == peak || rng.IntN(10) == 0 {
					a.Values[k] = float32(roundDP(lo+rng.Float64()*(hi-lo)*0.999, 3))
				}
			}
			for k, v := range a.Values {
				if k == 0 || float64(v) > a.MaxValue {
					a.MaxValue, a.MaxValueTokenIndex = float64(v), k
				}
				if k == 0 || float64(v) < a.MinValue {
					a.MinValue = float64(v)
				}
			}
			if j < top {
				bm, bc := -1.0, -1.0
				a.BinMin, a.BinMax, a.BinContains = &bm, &f.MaxActApprox, &bc
			} else {
				bl, bh, bc := roundDP(lo, 3), roundDP(hi, 3), roundDP(rng.Float64()*0.1, 4)
				a.BinMin, a.BinMax, a.BinContains = &bl, &bh, &bc
			}
			f.Activations = append(f.Activations, a)
			rows++
		}
		if !dead {
			n := 3 + rng.IntN(4)
			desc := words[wordZipf.Uint64()]
			for k := 1; k < n; k++ {
				desc += " " + words[wordZipf.Uint64()]
			}
			f.Explanations = []*features.Explanation{{ID: fmt.Sprintf("x%08dy%015d", idx, 0), ModelID: o.ModelID, SourceID: o.SourceID,
				Index: idx, Description: desc, TypeName: "oai_token-act-pair", ExplanationModelName: "gpt-4o-mini",
				AuthorID: creator, CreatedAt: created}}
		}
		if err := w.Add(f); err != nil {
			w.Close()
			return rows, err
		}
	}
	return rows, w.Close()
}
