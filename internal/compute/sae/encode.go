package sae

import (
	"fmt"
	"math"

	"saex/internal/compute/kernel"
)

// Sparse is one token's active features, sorted by value descending, ties
// broken by the lower index.
type Sparse struct {
	Indices []int32
	Values  []float32
}

// Norm is one token's input-normalisation state, kept so a reconstruction
// can be mapped back: norm_in(x) = (x - Shift) * InScale and
// norm_out(y) = y*OutScale + Shift. It is the identity for "none".
type Norm struct {
	Shift, InScale, OutScale float32
}

// Encoding is the sparse code of a batch of tokens plus what Decode needs
// to undo the input normalisation.
type Encoding struct {
	Features []Sparse
	Norms    []Norm
}

func (s *SAE) checkInput(x []float32, t int) error {
	if t < 0 || len(x) != t*s.Cfg.DIn {
		return fmt.Errorf("sae: input has %d values, want tokens*d_in = %d*%d", len(x), t, s.Cfg.DIn)
	}
	return nil
}

// prepare applies SAELens's process_sae_in row by row (after centring
// when CentersInput): sae_in = norm_in(x) - b_dec*apply_b_dec_to_input.
func (s *SAE) prepare(x []float32, t int) ([]float32, []Norm) {
	return s.prepareInto(make([]float32, len(x)), x, t)
}

// prepareInto is prepare writing sae_in into in (len(x) values).
func (s *SAE) prepareInto(in, x []float32, t int) ([]float32, []Norm) {
	din := s.Cfg.DIn
	norms := make([]Norm, t)
	center := s.Cfg.CentersInput()
	if !center && s.Cfg.NormalizeActivations == NormNone {
		// Only b_dec to subtract: a float32 subtraction gives what the
		// float64 path below does (the difference of two float32 rounded
		// once from float64 is the correctly rounded float32 difference).
		for r := range norms {
			norms[r] = Norm{InScale: 1, OutScale: 1}
		}
		if !s.Cfg.ApplyBDecToInput {
			copy(in, x)
			return in, norms
		}
		b := s.BDec[:din]
		for r := 0; r < t; r++ {
			src, dst := x[r*din:(r+1)*din], in[r*din:(r+1)*din]
			for i, v := range src {
				dst[i] = v - b[i]
			}
		}
		return in, norms
	}
	row64 := make([]float64, din)
	for r := 0; r < t; r++ {
		src := x[r*din : (r+1)*din]
		for i, v := range src {
			row64[i] = float64(v)
		}
		if center {
			subMean(row64)
		}
		n := Norm{InScale: 1, OutScale: 1}
		switch s.Cfg.NormalizeActivations {
		case NormConstantRescale:
			var ss float64
			for _, v := range row64 {
				ss += v * v
			}
			if ss > 0 { // a zero row stays zero instead of becoming NaN
				c := math.Sqrt(float64(din)) / math.Sqrt(ss)
				n = Norm{InScale: float32(c), OutScale: float32(1 / c)}
				for i := range row64 {
					row64[i] *= c
				}
			}
		case NormLayerNorm:
			mu := subMean(row64)
			var ss float64
			for _, v := range row64 {
				ss += v * v
			}
			std := 0.0
			if din > 1 {
				std = math.Sqrt(ss / float64(din-1)) // unbiased, as torch.std
			}
			inv := 1 / (std + 1e-5)
			for i := range row64 {
				row64[i] *= inv
			}
			n = Norm{Shift: float32(mu), InScale: float32(inv), OutScale: float32(std)}
		}
		norms[r] = n
		dst := in[r*din : (r+1)*din]
		for i, v := range row64 {
			if s.Cfg.ApplyBDecToInput {
				v -= float64(s.BDec[i])
			}
			dst[i] = float32(v)
		}
	}
	return in, norms
}

// subMean centres v in place and returns the mean it removed.
func subMean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	mu := sum / float64(len(v))
	for i := range v {
		v[i] -= mu
	}
	return mu
}

// Encode computes the sparse features of x ([t, d_in], row-major) and the
// per-token normalisation state. TopK SAEs return at most K features per
// token; the others return every non-zero feature (at most MaxPerToken
// when set). Zero activations are never listed.
func (s *SAE) Encode(x []float32, t int) (*Encoding, error) {
	if err := s.checkInput(x, t); err != nil {
		return nil, err
	}
	// sae_in lives only for this call: its buffer is reused, which saves
	// clearing (and often faulting in) fresh pages on every encode.
	buf := getFloats(len(x))
	defer putFloats(buf)
	in, norms := s.prepareInto(*buf, x, t)
	limit := s.MaxPerToken
	if s.Cfg.Architecture == TopK {
		limit = s.Cfg.K
	}
	var feats []Sparse
	if s.Cfg.Architecture == Gated {
		feats = s.encodeGated(in, t, limit)
	} else {
		feats = s.encodeFused(in, t, limit)
	}
	return &Encoding{Features: feats, Norms: norms}, nil
}

// EncodeSparse is Encode without the normalisation state.
func (s *SAE) EncodeSparse(x []float32, t int) ([]Sparse, error) {
	e, err := s.Encode(x, t)
	if err != nil {
		return nil, err
	}
	return e.Features, nil
}

// EncodeDense returns the feature activations as a dense [t, d_sae] matrix.
// It ignores MaxPerToken.
func (s *SAE) EncodeDense(x []float32, t int) ([]float32, error) {
	capped := *s
	capped.MaxPerToken = 0
	feats, err := capped.EncodeSparse(x, t)
	if err != nil {
		return nil, err
	}
	return s.Densify(feats), nil
}

// Densify scatters sparse features into a dense [len(f), d_sae] matrix.
func (s *SAE) Densify(f []Sparse) []float32 {
	dsae := s.Cfg.DSAE
	out := make([]float32, len(f)*dsae)
	for r, sp := range f {
		for j, idx := range sp.Indices {
			out[r*dsae+int(idx)] = sp.Values[j]
		}
	}
	return out
}

// PreActivations returns the dense [t, d_sae] pre-activations
// sae_in @ W_enc + b_enc (b_gate for gated SAEs; scaled by ||W_dec_i||
// for topk with rescale_acts_by_decoder_norm), as SAELens's
// hook_sae_acts_pre records them.
func (s *SAE) PreActivations(x []float32, t int) ([]float32, error) {
	if err := s.checkInput(x, t); err != nil {
		return nil, err
	}
	out := make([]float32, t*s.Cfg.DSAE)
	if t == 0 {
		return out, nil
	}
	in, _ := s.prepare(x, t)
	kernel.MatMul(out, in, t, s.encPacked, s.encBias)
	return out, nil
}

// Reconstruct encodes x and decodes the features back to [t, d_in],
// undoing the input normalisation.
func (s *SAE) Reconstruct(x []float32, t int) ([]float32, error) {
	capped := *s
	capped.MaxPerToken = 0
	e, err := capped.Encode(x, t)
	if err != nil {
		return nil, err
	}
	return s.DecodeSparse(e.Features, e.Norms)
}

// DecodeSparse computes f @ W_dec + b_dec per token and applies norm_out;
// norms may be nil (identity), else one per token.
func (s *SAE) DecodeSparse(f []Sparse, norms []Norm) ([]float32, error) {
	if norms != nil && len(norms) != len(f) {
		return nil, fmt.Errorf("sae: decode: %d norms for %d tokens", len(norms), len(f))
	}
	din, dsae := s.Cfg.DIn, s.Cfg.DSAE
	out := make([]float32, len(f)*din)
	acc := make([]float64, din)
	for r, sp := range f {
		if len(sp.Values) != len(sp.Indices) {
			return nil, fmt.Errorf("sae: decode: token %d has %d indices but %d values", r, len(sp.Indices), len(sp.Values))
		}
		for i, b := range s.BDec {
			acc[i] = float64(b)
		}
		for j, idx := range sp.Indices {
			if idx < 0 || int(idx) >= dsae {
				return nil, fmt.Errorf("sae: decode: token %d: feature index %d out of range [0, %d)", r, idx, dsae)
			}
			v := float64(sp.Values[j])
			if v == 0 {
				continue
			}
			row := s.decRows[int(idx)*din : (int(idx)+1)*din]
			for i, w := range row {
				acc[i] += v * float64(w)
			}
		}
		n := Norm{OutScale: 1}
		if norms != nil {
			n = norms[r]
		}
		dst := out[r*din : (r+1)*din]
		for i, v := range acc {
			dst[i] = float32(v*float64(n.OutScale) + float64(n.Shift))
		}
	}
	return out, nil
}

// Decode decodes a dense [t, d_sae] feature matrix (zeros are skipped).
func (s *SAE) Decode(f []float32, t int, norms []Norm) ([]float32, error) {
	dsae := s.Cfg.DSAE
	if t < 0 || len(f) != t*dsae {
		return nil, fmt.Errorf("sae: decode: %d values, want tokens*d_sae = %d*%d", len(f), t, dsae)
	}
	sp := make([]Sparse, t)
	for r := range sp {
		for j, v := range f[r*dsae : (r+1)*dsae] {
			if v != 0 {
				sp[r].Indices = append(sp[r].Indices, int32(j))
				sp[r].Values = append(sp[r].Values, v)
			}
		}
	}
	return s.DecodeSparse(sp, norms)
}

// encodeGated computes the two gated products in row chunks (bounding the
// dense scratch) and keeps (gate > 0) * relu(magnitude).
func (s *SAE) encodeGated(in []float32, t, limit int) []Sparse {
	din, dsae := s.Cfg.DIn, s.Cfg.DSAE
	const chunk = 64
	out := make([]Sparse, t)
	g := make([]float32, min(chunk, t)*dsae)
	m := make([]float32, len(g))
	var c collector
	c.init(limit, 1)
	for r0 := 0; r0 < t; r0 += chunk {
		rows := min(chunk, t-r0)
		a := in[r0*din : (r0+rows)*din]
		kernel.MatMul(g[:rows*dsae], a, rows, s.encPacked, s.encBias)
		kernel.MatMul(m[:rows*dsae], a, rows, s.magPacked, s.BMag)
		for r := 0; r < rows; r++ {
			c.reset()
			gr, mr := g[r*dsae:(r+1)*dsae], m[r*dsae:(r+1)*dsae]
			for j, gv := range gr {
				if gv > 0 && mr[j] > 0 {
					c.add(0, mr[j], int32(j))
				}
			}
			out[r0+r] = c.sparse(0)
		}
	}
	return out
}

// encodeFused streams sae_in @ W_enc through the kernel and, per tile, adds
// the bias, applies the activation and keeps candidates in per-worker,
// per-row collectors, merged at the end.
func (s *SAE) encodeFused(in []float32, t, limit int) []Sparse {
	if t == 0 {
		return []Sparse{}
	}
	workers := kernel.Threads()
	cols := getCollectors(workers)
	defer putCollectors(cols)
	for w := range cols {
		cols[w].init(limit, t)
	}
	shareThresholds(cols)
	bias, thr := s.encBias, s.Threshold
	jump := s.Cfg.Architecture == JumpReLU
	kernel.MatMulTiles(in, t, s.encPacked, func(w, row0, rows, col0, ncols int, tile []float32, ld int) {
		c := &cols[w]
		b := bias[col0 : col0+ncols]
		for r := 0; r < rows; r++ {
			tr := tile[r*ld : r*ld+ncols]
			if jump {
				th := thr[col0 : col0+ncols]
				for j, v := range tr {
					v += b[j]
					if v > th[j] && v > 0 {
						c.add(row0+r, v, int32(col0+j))
					}
				}
				continue
			}
			c.addRow(row0+r, tr, b, int32(col0))
		}
	})
	return mergeRows(cols, t, limit)
}
