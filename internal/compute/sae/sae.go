// Package sae loads sparse autoencoders (SAELens directories, Gemma Scope
// params.npz, Llama Scope and EleutherAI sae/sparsify folders) and encodes activations with them, matching SAELens's
// inference math: standard (ReLU), TopK, JumpReLU and gated architectures,
// b_dec subtraction, and run-time input normalisation.
//
// The sparse encode streams the W_enc product tile by tile through the
// kernel and applies bias, activation and top-k selection per tile, so the
// dense [tokens, d_sae] matrix is never materialised.
package sae

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"saex/internal/compute/kernel"
	"saex/internal/compute/tensor"
)

// SAE is a loaded sparse autoencoder, immutable and safe for concurrent use.
type SAE struct {
	Cfg  Config
	WEnc []float32 // [d_in, d_sae]
	BEnc []float32 // [d_sae]; b_gate for gated SAEs
	WDec []float32 // [d_sae, d_in]; row i is feature i's decoder direction
	BDec []float32 // [d_in]
	// Threshold is JumpReLU's per-feature threshold (nil otherwise).
	Threshold []float32
	// BMag and RMag are the gated SAE's magnitude bias and log scale (nil otherwise).
	BMag, RMag []float32
	// ScalingFactor is a legacy finetuning_scaling_factor applied to the
	// feature activations in decode only (nil when absent or all ones).
	ScalingFactor []float32
	// Sparsity is log10 firing frequency per feature from
	// sparsity.safetensors (nil when absent).
	Sparsity []float32
	// Dir is the directory the SAE was loaded from ("" for New).
	Dir string

	// MaxPerToken caps the features a sparse encode returns per token for
	// non-topk architectures (0: all non-zero features). Set it before use.
	MaxPerToken int

	encPacked *kernel.Packed // W_enc (columns scaled by ||W_dec_i|| for topk rescale)
	encBias   []float32      // b_enc (b_gate for gated), scaled likewise
	magPacked *kernel.Packed // gated: W_enc * exp(r_mag)
	decRows   []float32      // W_dec with row i scaled by ScalingFactor[i] / rescale norm
}

// Weights are the tensors New builds an SAE from; names follow SAELens.
type Weights struct {
	WEnc, BEnc, WDec, BDec []float32
	Threshold              []float32 // jumprelu
	BGate, BMag, RMag      []float32 // gated (BGate instead of BEnc)
	ScalingFactor          []float32 // optional, legacy
}

// Load reads an SAE from dir, recognising each released layout by its files:
//   - SAELens: cfg.json + sae_weights.safetensors (optional sparsity.safetensors),
//     which also covers Gemma Scope as SAELens saves it;
//   - EleutherAI sae/sparsify: cfg.json + sae.safetensors, the folder named
//     after the hookpoint (see EleutherHook);
//   - Llama Scope (OpenMOSS): hyperparams.json + checkpoints/final.safetensors;
//   - Gemma Scope: params.npz, the hook taken from the folder names.
func Load(dir string) (*SAE, error) {
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	cfgPath := filepath.Join(dir, "cfg.json")
	switch {
	case exists("hyperparams.json"):
		return loadLlamaScope(dir, filepath.Join(dir, "hyperparams.json"))
	case exists("cfg.json") && exists("sae.safetensors") && !exists("sae_weights.safetensors"):
		return loadEleuther(dir, cfgPath)
	case exists("cfg.json"):
	case exists("params.npz"):
		return loadGemmaScope(dir, filepath.Join(dir, "params.npz"))
	default:
		if _, err := os.Stat(dir); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: not an SAE directory: no cfg.json (SAELens, EleutherAI), hyperparams.json (Llama Scope) or params.npz (Gemma Scope)", dir)
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(cfgPath, data)
	if err != nil {
		return nil, err
	}
	wPath := filepath.Join(dir, "sae_weights.safetensors")
	f, err := tensor.OpenSafetensors(wPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w, err := readWeights(f, cfg)
	if err != nil {
		return nil, err
	}
	s, err := New(cfg, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wPath, err)
	}
	s.Dir = dir
	spPath := filepath.Join(dir, "sparsity.safetensors")
	if _, err := os.Stat(spPath); err == nil {
		sf, err := tensor.OpenSafetensors(spPath)
		if err != nil {
			return nil, err
		}
		defer sf.Close()
		if s.Sparsity, err = sf.Float32("sparsity", cfg.DSAE); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// readWeights reads the tensors cfg's architecture needs, checking shapes.
// Gemma Scope's lower-case w_ names are accepted as SAELens does.
func readWeights(f *tensor.File, cfg Config) (Weights, error) {
	var err error
	get := func(name string, shape ...int) []float32 {
		if err != nil {
			return nil
		}
		if _, ok := f.Info(name); !ok {
			if alt := "w" + name[1:]; name[0] == 'W' {
				if _, ok := f.Info(alt); ok {
					name = alt
				}
			}
		}
		if _, ok := f.Info(name); !ok {
			err = fmt.Errorf("%s: tensor %q missing (needed by the %s architecture; have %v)", f.Path(), name, cfg.Architecture, f.Names())
			return nil
		}
		var v []float32
		v, err = f.Float32(name, shape...)
		return v
	}
	din, dsae := cfg.DIn, cfg.DSAE
	w := Weights{
		WEnc: get("W_enc", din, dsae),
		WDec: get("W_dec", dsae, din),
		BDec: get("b_dec", din),
	}
	switch cfg.Architecture {
	case Gated:
		w.BGate = get("b_gate", dsae)
		w.BMag = get("b_mag", dsae)
		w.RMag = get("r_mag", dsae)
	case JumpReLU:
		w.BEnc = get("b_enc", dsae)
		w.Threshold = get("threshold", dsae)
	default:
		w.BEnc = get("b_enc", dsae)
	}
	if err != nil {
		return Weights{}, err
	}
	if _, ok := f.Info("scaling_factor"); ok {
		if w.ScalingFactor, err = f.Float32("scaling_factor", dsae); err != nil {
			return Weights{}, err
		}
	}
	return w, nil
}

// New builds an SAE from a configuration and weights held in memory,
// checking every length against cfg, and packs W_enc for the kernel.
func New(cfg Config, w Weights) (*SAE, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	din, dsae := cfg.DIn, cfg.DSAE
	check := func(name string, v []float32, n int) error {
		if len(v) != n {
			return fmt.Errorf("tensor %s: %d values, want %d", name, len(v), n)
		}
		return nil
	}
	errs := []error{
		check("W_enc", w.WEnc, din*dsae),
		check("W_dec", w.WDec, dsae*din),
		check("b_dec", w.BDec, din),
	}
	switch cfg.Architecture {
	case Gated:
		errs = append(errs, check("b_gate", w.BGate, dsae), check("b_mag", w.BMag, dsae), check("r_mag", w.RMag, dsae))
	case JumpReLU:
		errs = append(errs, check("b_enc", w.BEnc, dsae), check("threshold", w.Threshold, dsae))
	default:
		errs = append(errs, check("b_enc", w.BEnc, dsae))
	}
	if w.ScalingFactor != nil {
		errs = append(errs, check("scaling_factor", w.ScalingFactor, dsae))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &SAE{Cfg: cfg, WEnc: w.WEnc, BEnc: w.BEnc, WDec: w.WDec, BDec: w.BDec, Threshold: w.Threshold, BMag: w.BMag, RMag: w.RMag}
	if cfg.Architecture == Gated {
		s.BEnc = w.BGate
	}
	// SAELens drops a legacy scaling_factor that is all ones.
	for _, v := range w.ScalingFactor {
		if v != 1 {
			s.ScalingFactor = w.ScalingFactor
			break
		}
	}

	// Fold per-feature factors into private copies so the hot loops stay
	// plain: topk rescale multiplies pre-activations by ||W_dec_i|| (so
	// W_enc's column i and b_enc[i]) and divides features by it in decode.
	wenc, bias := s.WEnc, s.BEnc
	scale := make([]float64, dsae)
	for i := range scale {
		scale[i] = 1
	}
	folded := false
	if cfg.RescaleActsByDecoderNorm {
		folded = true
		wenc = append([]float32(nil), s.WEnc...)
		bias = append([]float32(nil), s.BEnc...)
		for i := 0; i < dsae; i++ {
			var n2 float64
			for _, v := range s.WDec[i*din : (i+1)*din] {
				n2 += float64(v) * float64(v)
			}
			n := math.Sqrt(n2)
			for r := 0; r < din; r++ {
				wenc[r*dsae+i] = float32(float64(wenc[r*dsae+i]) * n)
			}
			bias[i] = float32(float64(bias[i]) * n)
			if n != 0 {
				scale[i] = 1 / n
			} else {
				scale[i] = 0
			}
		}
	}
	if s.ScalingFactor != nil {
		folded = true
		for i, v := range s.ScalingFactor {
			scale[i] *= float64(v)
		}
	}
	s.encPacked = kernel.Pack(wenc, din, dsae)
	s.encBias = bias
	s.decRows = s.WDec
	if folded {
		s.decRows = make([]float32, len(s.WDec))
		for i := 0; i < dsae; i++ {
			for d := 0; d < din; d++ {
				s.decRows[i*din+d] = float32(float64(s.WDec[i*din+d]) * scale[i])
			}
		}
	}
	if cfg.Architecture == Gated {
		mag := make([]float32, len(s.WEnc))
		for r := 0; r < din; r++ {
			for i := 0; i < dsae; i++ {
				mag[r*dsae+i] = float32(float64(s.WEnc[r*dsae+i]) * math.Exp(float64(s.RMag[i])))
			}
		}
		s.magPacked = kernel.Pack(mag, din, dsae)
	}
	return s, nil
}
