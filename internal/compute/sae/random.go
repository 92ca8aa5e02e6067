package sae

import (
	"math"
	"math/rand/v2"
)

// NewRandom builds an SAE with Gaussian weights (W_enc scaled by
// 1/sqrt(d_in), unit-norm decoder rows) for benchmarks and tests; seed
// makes it reproducible.
func NewRandom(cfg Config, seed uint64) (*SAE, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5ae))
	vec := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
		}
		return v
	}
	din, dsae := cfg.DIn, cfg.DSAE
	w := Weights{
		WEnc: vec(din*dsae, 1/math.Sqrt(float64(din))),
		WDec: vec(dsae*din, 1),
		BDec: vec(din, 0.1),
		BEnc: vec(dsae, 0.1),
	}
	for i := 0; i < dsae; i++ {
		row := w.WDec[i*din : (i+1)*din]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		inv := 1 / math.Sqrt(ss)
		for j := range row {
			row[j] = float32(float64(row[j]) * inv)
		}
	}
	switch cfg.Architecture {
	case JumpReLU:
		w.Threshold = vec(dsae, 0.1)
		for i, v := range w.Threshold {
			w.Threshold[i] = float32(math.Abs(float64(v)))
		}
	case Gated:
		w.BGate, w.BMag, w.RMag, w.BEnc = w.BEnc, vec(dsae, 0.1), vec(dsae, 0.1), nil
	}
	return New(cfg, w)
}
