package autointerp

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"

	"saex/internal/features"
)

// Context is one text window shown to the model: tokens (display pieces)
// and the feature's activation on each (zeros for a non-activating one).
type Context struct {
	Tokens []string
	Values []float32
}

// Text is the context as plain text.
func (c Context) Text() string {
	var b strings.Builder
	for _, t := range c.Tokens {
		b.WriteString(features.TokenLabel(t))
	}
	return b.String()
}

// Max is the largest activation in the context.
func (c Context) Max() float32 {
	var m float32
	for _, v := range c.Values {
		m = max(m, v)
	}
	return m
}

// Sampling says how many contexts of each kind are used.
type Sampling struct {
	Window      int // tokens per context around its peak (default 32, as Delphi's example_ctx_len)
	Explain     int // activating contexts shown to the explainer (default 15)
	Test        int // held-out activating contexts per scorer (default 5)
	NonActivate int // non-activating contexts per scorer (default 5)
}

func (s Sampling) withDefaults() Sampling {
	if s.Window <= 0 {
		s.Window = 32
	}
	if s.Explain <= 0 {
		s.Explain = 15
	}
	if s.Test <= 0 {
		s.Test = 5
	}
	if s.NonActivate <= 0 {
		s.NonActivate = 5
	}
	return s
}

// Split is a feature's activating contexts divided between the explainer
// and the scorers: the scorers never see a context the explainer saw.
type Split struct {
	Explain []Context
	Test    []Context
}

// SplitExamples windows the feature's activating examples (best first) and
// holds out every third one, up to s.Test, for scoring; the explainer gets
// the rest, up to s.Explain. Examples whose text repeats are used once.
func SplitExamples(ft *features.Feature, s Sampling) Split {
	s = s.withDefaults()
	acts := make([]*features.Activation, 0, len(ft.Activations))
	for _, a := range ft.Activations {
		if a != nil && a.MaxValue > 0 && len(a.Tokens) == len(a.Values) && len(a.Tokens) > 0 {
			acts = append(acts, a)
		}
	}
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].MaxValue > acts[j].MaxValue })
	var out Split
	seen := map[string]bool{}
	n := 0
	for _, a := range acts {
		c := window(a.Tokens, a.Values, peak(a), s.Window)
		key := c.Text()
		if seen[key] {
			continue
		}
		seen[key] = true
		if n%3 == 2 && len(out.Test) < s.Test {
			out.Test = append(out.Test, c)
		} else if len(out.Explain) < s.Explain {
			out.Explain = append(out.Explain, c)
		}
		n++
	}
	return out
}

func peak(a *features.Activation) int {
	if a.MaxValueTokenIndex >= 0 && a.MaxValueTokenIndex < len(a.Values) {
		return a.MaxValueTokenIndex
	}
	best := 0
	for i, v := range a.Values {
		if v > a.Values[best] {
			best = i
		}
	}
	return best
}

// window cuts n tokens around position p: three quarters before it, as the
// tokens leading up to a peak say most about why it fires.
func window(tokens []string, values []float32, p, n int) Context {
	if len(tokens) <= n {
		return Context{Tokens: tokens, Values: values}
	}
	start := max(0, p-n*3/4)
	end := min(len(tokens), start+n)
	start = max(0, end-n)
	return Context{Tokens: tokens[start:end], Values: values[start:end]}
}

// NonActivating picks up to n contexts from other features' examples
// (candidates: random features of the source and, as Delphi's "neighbours"
// source does, decoder-cosine neighbours, whose contexts look similar) that
// share no text with the feature's own examples. Their values are zeroed:
// the dashboards store only each feature's own activations, so a context is
// taken as non-activating for this feature when it is not among its
// examples (with a sparse feature, a 32-token window rarely fires it).
func NonActivating(ft *features.Feature, candidates []*features.Feature, n, window_ int, seed uint64) []Context {
	if window_ <= 0 {
		window_ = 32
	}
	own := map[string]bool{}
	for _, a := range ft.Activations {
		if a != nil {
			own[strings.Join(a.Tokens, "")] = true
		}
	}
	var pool []Context
	seen := map[string]bool{}
	for _, c := range candidates {
		if c == nil || c.Index == ft.Index {
			continue
		}
		for _, a := range c.Activations {
			if a == nil || len(a.Tokens) == 0 || len(a.Tokens) != len(a.Values) {
				continue
			}
			full := strings.Join(a.Tokens, "")
			if own[full] || seen[full] || overlaps(full, own) {
				continue
			}
			seen[full] = true
			w := window(a.Tokens, make([]float32, len(a.Tokens)), peak(a), window_)
			pool = append(pool, w)
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x5ae))
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	return pool[:min(n, len(pool))]
}

// overlaps reports whether text shares a long stretch with any of the
// feature's own example texts (the same document cut differently).
func overlaps(text string, own map[string]bool) bool {
	if len(text) < 40 {
		return false
	}
	probe := text[len(text)/2-20 : len(text)/2+20]
	for o := range own {
		if strings.Contains(o, probe) {
			return true
		}
	}
	return false
}

// Seed derives a per-feature random seed, so reruns pick the same contexts.
func Seed(key features.FeatureKey, salt string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key.String() + "\x00" + salt))
	return h.Sum64()
}

// CandidateIndexes returns the features whose examples serve as
// non-activating contexts for key: its decoder-cosine neighbours (element
// 0 is the feature itself) and a few random ones of the source.
func CandidateIndexes(ft *features.Feature, numFeatures, random int) []int {
	var out []int
	seen := map[int]bool{ft.Index: true}
	for _, i := range ft.TopkCosSimIndices {
		if !seen[i] && len(out) < 4 {
			seen[i] = true
			out = append(out, i)
		}
	}
	if numFeatures > 1 {
		r := rand.New(rand.NewPCG(Seed(ft.Key(), "random-negatives"), 1))
		want := len(out) + random
		for tries := 0; tries < 4*random && len(out) < want; tries++ {
			i := r.IntN(numFeatures)
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	return out
}
