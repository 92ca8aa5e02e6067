package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Sampling chooses the next token from the logits, as TransformerLens's
// sample_logits does (Neuronpedia's steering server generates through
// it): Temperature 0 is greedy (the first maximum; FreqPenalty is not
// applied then). Otherwise the logits are divided by Temperature, then
// FreqPenalty × (times the token occurs in the context, prompt included)
// is subtracted, then top-k (TopK > 0) and top-p (0 < TopP < 1: the
// smallest set of most likely tokens whose probability reaches TopP) keep
// their tokens, and one is drawn from the softmax of what is left. Seed
// fixes the draws: the same seed gives the same tokens on the same build.
type Sampling struct {
	Temperature float64
	TopK        int
	TopP        float64
	FreqPenalty float64
	Seed        uint64
}

// Validate reports a setting out of range, naming the field.
func (s Sampling) Validate() error {
	switch {
	case math.IsNaN(s.Temperature) || s.Temperature < 0 || math.IsInf(s.Temperature, 0):
		return fmt.Errorf("temperature %v: want a finite number >= 0", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("top_k %d: want >= 0", s.TopK)
	case math.IsNaN(s.TopP) || s.TopP < 0 || s.TopP > 1:
		return fmt.Errorf("top_p %v: want 0..1", s.TopP)
	case math.IsNaN(s.FreqPenalty) || math.IsInf(s.FreqPenalty, 0):
		return fmt.Errorf("freq_penalty %v: want a finite number", s.FreqPenalty)
	}
	return nil
}

// Sampler draws tokens under one Sampling, from its own seeded source.
type Sampler struct {
	s     Sampling
	rng   *rand.Rand
	buf   []float64
	order []int
	count map[int]int
}

// NewSampler returns a Sampler whose draws depend only on s.
func NewSampler(s Sampling) *Sampler {
	return &Sampler{s: s, rng: rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15)), count: map[int]int{}}
}

// Argmax returns the index of the first largest value.
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Next picks the next token from logits ([vocab]) given the context so
// far (prompt and generated tokens).
func (sm *Sampler) Next(logits []float32, context []int) int {
	s := sm.s
	if s.Temperature == 0 {
		return Argmax(logits)
	}
	v := len(logits)
	l := growF64(sm.buf, v)
	sm.buf = l
	for i, x := range logits {
		l[i] = float64(x) / s.Temperature
	}
	if s.FreqPenalty != 0 {
		clear(sm.count)
		for _, id := range context {
			sm.count[id]++
		}
		for id, n := range sm.count {
			if id >= 0 && id < v {
				l[id] -= s.FreqPenalty * float64(n)
			}
		}
	}
	keep := v
	if s.TopK > 0 || (s.TopP > 0 && s.TopP < 1) {
		if cap(sm.order) < v {
			sm.order = make([]int, v)
		}
		ord := sm.order[:v]
		for i := range ord {
			ord[i] = i
		}
		sort.SliceStable(ord, func(a, b int) bool { return l[ord[a]] > l[ord[b]] })
		if s.TopK > 0 {
			keep = min(keep, s.TopK)
		}
		if s.TopP > 0 && s.TopP < 1 {
			mx := l[ord[0]]
			var z float64
			for _, i := range ord[:keep] {
				z += math.Exp(l[i] - mx)
			}
			// Keep tokens while the probability before them is below
			// top_p (the first is always kept).
			var cum float64
			for k, i := range ord[:keep] {
				if k > 0 && cum > s.TopP {
					keep = k
					break
				}
				cum += math.Exp(l[i]-mx) / z
			}
		}
		for _, i := range ord[keep:] {
			l[i] = math.Inf(-1)
		}
	}
	mx := math.Inf(-1)
	for _, x := range l {
		mx = max(mx, x)
	}
	var z float64
	for i, x := range l {
		l[i] = math.Exp(x - mx)
		z += l[i]
	}
	u := sm.rng.Float64() * z
	last := 0
	for i, p := range l {
		if p == 0 {
			continue
		}
		last = i
		if u < p {
			return i
		}
		u -= p
	}
	return last
}

func growF64(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}
