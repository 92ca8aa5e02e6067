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

// SynthOptions sizes a synthetic export.
type SynthOptions struct {
	ModelID, SourceID string
	Features          int // default 24,576 (gpt2-small/6-res-jb)
	Examples          int // per feature, default 50
	Tokens            int // per example, default 128
	Vocab             int // default 50,257 (GPT-2)
	Seed              uint64
	// Profile "" is a dashboard like gpt2-small/6-res-jb's (every feature
	// with Examples examples); ProfileWide is a wide SAE's mix (WideMix).
	Profile string
}

func (o *SynthOptions) defaults() {
	if o.ModelID == "" {
		o.ModelID = "gpt2-small"
	}
	if o.SourceID == "" {
		o.SourceID = "6-res-jb"
	}
	if o.Features == 0 {
		o.Features = 24576
	}
	if o.Examples == 0 {
		o.Examples = 50
	}
	if o.Tokens == 0 {
		o.Tokens = 128
	}
	if o.Vocab == 0 {
		o.Vocab = 50257
	}
}

var synthWords = strings.Fields(`the of code angular brigade python numbers dates years names cities
	punctuation quotes brackets loops functions errors french german verbs plural nouns adjectives
	colors animals music sports legal medical chemistry math variables commas newlines spaces`)

// GenerateSynthetic writes a Neuronpedia export with realistic shapes:
// per feature 50-bin histograms, 10+10 logits, 3-row alignment tables, 25
// cosine neighbours, one explanation, and Examples examples of Tokens
// tokens drawn Zipf-like from a GPT-2-sized vocabulary with about 10% of
// values non-zero (as SAE features are sparse), quantile bins like
// SAEDashboard's (20 top, then 5 groups of 5 or more). It returns the
// number of example rows written.
func GenerateSynthetic(root string, o SynthOptions) (int, error) {
	o.defaults()
	switch o.Profile {
	case "":
	case ProfileWide:
		return generateWide(root, o)
	default:
		return 0, fmt.Errorf("unknown synthetic profile %q", o.Profile)
	}
	vocab := make([]string, o.Vocab)
	for i := range vocab {
		// GPT-2-like pieces: a leading space on most, 3-8 characters.
		s := strconv.FormatInt(int64(i)*7919%1000003, 36)
		if i%4 != 0 {
			s = " " + s
		}
		vocab[i] = s
	}
	vocab[0] = "<|endoftext|>"
	rng := newSynthRNG(rand.NewPCG(o.Seed, 0x5ae), rand.NewPCG(o.Seed, 1), vocab)
	created := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)
	const creator = "clkht01d40000jv08hvalcvly"
	setName := o.SourceID
	if _, s, ok := strings.Cut(o.SourceID, "-"); ok {
		setName = s
	}
	meta := &Meta{
		Model: &features.Model{ID: o.ModelID, DisplayName: o.ModelID, DisplayNameShort: o.ModelID, CreatorID: creator,
			Dimension: 768, Layers: 12, NeuronsPerLayer: 3072, Visibility: "PUBLIC", CreatedAt: created, UpdatedAt: created},
		SourceSet: &features.SourceSet{ModelID: o.ModelID, Name: setName, Description: "synthetic", Type: "sae",
			CreatorName: "saex", CreatorID: creator, HasDashboards: true, Visibility: "PUBLIC", CreatedAt: created},
		Source: &features.Source{ID: o.SourceID, ModelID: o.ModelID, SetName: setName, CreatorID: creator,
			HasDashboards: true, Visibility: "PUBLIC", CreatedAt: created},
	}
	w, err := NewWriter(root, meta)
	if err != nil {
		return 0, err
	}
	rows := 0
	for idx := 0; idx < o.Features; idx++ {
		maxAct := roundDP(1+rng.Float64()*40, 3)
		dead := rng.IntN(50) == 0
		if dead {
			maxAct = 0
		}
		f := &features.Feature{ModelID: o.ModelID, SourceID: o.SourceID, Index: idx, SourceSetName: setName,
			CreatorID: creator, CreatedAt: created, MaxActApprox: maxAct, FracNonzero: roundDP(rng.Float64()*0.01, 6)}
		f.TopkCosSimIndices, f.TopkCosSimValues = append([]int{idx}, rng.ints(24, o.Features)...), append([]float64{1}, rng.values(24, 0.3)...)
		f.NeuronAlignmentIndices, f.NeuronAlignmentValues, f.NeuronAlignmentL1 = rng.ints(3, 768), rng.values(3, 0.1), rng.values(3, 0.01)
		f.CorrelatedNeuronsIndices, f.CorrelatedNeuronsPearson, f.CorrelatedNeuronsL1 = rng.ints(3, 3072), rng.values(3, 0.1), rng.values(3, 0.01)
		f.NegStr, f.NegValues, f.PosStr, f.PosValues = rng.tokens(10), rng.values(10, 0.5), rng.tokens(10), rng.values(10, 1)
		f.FreqHistHeights, f.FreqHistValues = rng.values(50, 100), rng.values(50, 10)
		f.LogitsHistHeights, f.LogitsHistValues = rng.values(50, 5000), rng.values(50, 0.5)
		for j := 0; j < o.Examples; j++ {
			a := &features.Activation{ID: fmt.Sprintf("c%08dx%015d", idx, j), ModelID: o.ModelID, SourceID: o.SourceID,
				Index: idx, Tokens: rng.tokens(o.Tokens), Values: make([]float32, o.Tokens), CreatorID: creator, CreatedAt: created}
			a.Tokens[0] = vocab[0]
			top := j < 20
			var lo, hi float64
			if top {
				lo, hi = maxAct*0.6, maxAct
			} else {
				q := (j - 20) / max(1, (o.Examples-20)/5)
				lo, hi = maxAct*float64(q)/5, maxAct*float64(q+1)/5
			}
			if !dead {
				peak := 1 + rng.IntN(o.Tokens-1)
				for k := 1; k < o.Tokens; k++ {
					if k == peak || rng.IntN(10) == 0 {
						a.Values[k] = float32(roundDP(lo+rng.Float64()*(hi-lo)*0.999, 3))
					}
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
			if top {
				bm, bc := -1.0, -1.0
				a.BinMin, a.BinMax, a.BinContains = &bm, &maxAct, &bc
			} else {
				bl, bh, bc := roundDP(lo, 3), roundDP(hi, 3), roundDP(rng.Float64()*0.1, 4)
				a.BinMin, a.BinMax, a.BinContains = &bl, &bh, &bc
			}
			f.Activations = append(f.Activations, a)
			rows++
		}
		desc := synthWords[rng.IntN(len(synthWords))] + " " + synthWords[rng.IntN(len(synthWords))] + " in " + synthWords[rng.IntN(len(synthWords))]
		f.Explanations = []*features.Explanation{{ID: fmt.Sprintf("x%08dy%015d", idx, 0), ModelID: o.ModelID, SourceID: o.SourceID,
			Index: idx, Description: desc, TypeName: "oai_token-act-pair", ExplanationModelName: "gpt-4o-mini",
			AuthorID: creator, CreatedAt: created}}
		if err := w.Add(f); err != nil {
			w.Close()
			return rows, err
		}
	}
	return rows, w.Close()
}

// synthRNG draws the random parts of synthetic rows, for both profiles:
// values and indexes from one seeded stream, tokens Zipf-distributed over
// a vocabulary from a second, so that the two profiles' exports stay
// reproducible from their seeds.
type synthRNG struct {
	*rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

// newSynthRNG draws values from src and tokens of vocab from tokSrc, Zipf
// with s=1.07 and v=2 (a few pieces common, most rare, like real text).
func newSynthRNG(src, tokSrc rand.Source, vocab []string) *synthRNG {
	return &synthRNG{Rand: rand.New(src), zipf: rand.NewZipf(rand.New(tokSrc), 1.07, 2, uint64(len(vocab)-1)), vocab: vocab}
}

// values returns n normal draws times scale, rounded to 3 decimals as
// exports print them.
func (g *synthRNG) values(n int, scale float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = roundDP(g.NormFloat64()*scale, 3)
	}
	return out
}

// ints returns n uniform draws from [0, hi).
func (g *synthRNG) ints(n, hi int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = g.IntN(hi)
	}
	return out
}

// tokens returns n vocabulary pieces.
func (g *synthRNG) tokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = g.vocab[g.zipf.Uint64()]
	}
	return out
}

// roundDP rounds v to dp decimal places.
func roundDP(v float64, dp int) float64 { p := math.Pow10(dp); return math.Round(v*p) / p }
