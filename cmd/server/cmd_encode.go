package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"saex/internal/compute/sae"
	"saex/internal/compute/tensor"
	"saex/internal/compute/tokenizer"
	"saex/internal/compute/transformer"
)

func init() {
	register("encode", "encode activations (--input tensor, or --model and --text) with an SAE; prints feature activations as JSON", runEncode)
}

// sparseJSON is one token's features; keep the field names.
type sparseJSON struct {
	Indices []int32   `json:"indices"`
	Values  []float32 `json:"values"`
}

// encodeOutput is the JSON shape external checks rely on: FeatureActs is
// []sparseJSON, or [][]float32 with --dense.
type encodeOutput struct {
	FeatureActs    any          `json:"feature_acts"`
	Reconstruction *[][]float32 `json:"reconstruction,omitempty"`
}

func runEncode(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "encode")
	saeDir := fs.String("sae", "", "SAE directory: SAELens (cfg.json, sae_weights.safetensors) or one holding a Gemma Scope params.npz")
	modelDir := fs.String("model", "", "Hugging Face model directory of a supported family; the SAE's hook is read from it (needs --text)")
	text := fs.String("text", "", "text to run through --model (BOS prepended when the SAE's cfg says prepend_bos)")
	input := fs.String("input", "", "safetensors file holding activations [tokens, d_in] (needs --tensor)")
	name := fs.String("tensor", "", "tensor name in --input")
	dense := fs.Bool("dense", false, "print dense feature activations [tokens][d_sae] instead of indices and values")
	recon := fs.Bool("reconstruct", false, "also print the SAE reconstruction [tokens][d_in]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *saeDir == "":
		return errors.New("encode: --sae is required")
	case fs.NArg() > 0:
		return fmt.Errorf("encode: unexpected argument %q (quote the --text value)", fs.Arg(0))
	}
	fromModel, fromInput := *modelDir != "" || flagPassed(fs, "text"), *input != "" || *name != ""
	switch {
	case fromModel == fromInput:
		return errors.New("encode: give either --model and --text, or --input and --tensor")
	case fromModel && (*modelDir == "" || !flagPassed(fs, "text")):
		return errors.New("encode: --model and --text go together")
	case fromInput && (*input == "" || *name == ""):
		return errors.New("encode: --input and --tensor go together")
	}
	s, err := sae.Load(*saeDir)
	if err != nil {
		return err
	}
	var x []float32
	if fromInput {
		x, err = readActivations(*input, *name, s.Cfg.DIn)
	} else {
		x, err = modelActivations(*modelDir, *text, s)
	}
	if err != nil {
		return err
	}
	t := len(x) / s.Cfg.DIn
	enc, err := s.Encode(x, t)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	out := encodeOutput{}
	if *dense {
		d := s.Densify(enc.Features)
		out.FeatureActs = rows(d, t, s.Cfg.DSAE)
	} else {
		acts := make([]sparseJSON, t)
		for i, f := range enc.Features {
			acts[i] = sparseJSON{Indices: append([]int32{}, f.Indices...), Values: append([]float32{}, f.Values...)}
		}
		out.FeatureActs = acts
	}
	if *recon {
		r, err := s.DecodeSparse(enc.Features, enc.Norms)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		rr := rows(r, t, s.Cfg.DIn)
		out.Reconstruction = &rr
	}
	if err := checkFinite(out); err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(out)
}

// rows splits a row-major [t, w] matrix into t rows (never nil).
func rows(v []float32, t, w int) [][]float32 {
	out := make([][]float32, t)
	for r := range out {
		out[r] = v[r*w : (r+1)*w]
	}
	return out
}

// readActivations reads tensor name from a safetensors file: [tokens, d_in]
// (any leading dims are flattened; a [d_in] vector is one token).
func readActivations(path, name string, din int) ([]float32, error) {
	f, err := tensor.OpenSafetensors(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, ok := f.Info(name)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q (have %v)", path, name, f.Names())
	}
	if len(info.Shape) == 0 || info.Shape[len(info.Shape)-1] != din {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, want [tokens, %d] (the SAE's d_in)", path, name, info.Shape, din)
	}
	x, err := f.Float32(name)
	if err != nil {
		return nil, err
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s: tensor %q: non-finite value %v at token %d, element %d", path, name, v, i/din, i%din)
		}
	}
	return x, nil
}

// modelActivations tokenizes text, prepends BOS when the SAE was trained
// with it, and records the SAE's hook in the model.
func modelActivations(dir, text string, s *sae.SAE) ([]float32, error) {
	if s.Cfg.HookName == "" {
		return nil, fmt.Errorf("encode: the SAE in %s names no hook; use --input", s.Dir)
	}
	h, err := transformer.ParseHook(s.Cfg.HookName)
	if err != nil {
		return nil, fmt.Errorf("encode: SAE hook: %w", err)
	}
	model, err := transformer.Load(dir)
	if err != nil {
		return nil, err
	}
	if err := model.CheckHook(h); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if w := model.HookWidth(h); w != s.Cfg.DIn {
		return nil, fmt.Errorf("encode: hook %s of %s has width %d but the SAE's d_in is %d", s.Cfg.HookName, dir, w, s.Cfg.DIn)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	ids, _ := tok.Encode(text)
	if s.Cfg.PrependBOS {
		if model.Cfg.BOSTokenID < 0 {
			return nil, fmt.Errorf("encode: the SAE prepends BOS but %s/config.json has no bos_token_id", dir)
		}
		ids = append([]int{model.Cfg.BOSTokenID}, ids...)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	acts, err := model.Forward([][]int{ids}, []string{s.Cfg.HookName})
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return append([]float32(nil), acts.GetHook(h, 0)...), nil
}

// checkFinite rejects NaN and Inf before encoding JSON, with a clearer
// message than encoding/json's.
func checkFinite(out encodeOutput) error {
	bad := func(v []float32) bool {
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return true
			}
		}
		return false
	}
	switch fa := out.FeatureActs.(type) {
	case []sparseJSON:
		for i, r := range fa {
			if bad(r.Values) {
				return fmt.Errorf("encode: token %d: non-finite feature activation (check the SAE weights)", i)
			}
		}
	case [][]float32:
		for i, r := range fa {
			if bad(r) {
				return fmt.Errorf("encode: token %d: non-finite feature activation (check the SAE weights)", i)
			}
		}
	}
	if out.Reconstruction == nil {
		return nil
	}
	for i, r := range *out.Reconstruction {
		if bad(r) {
			return fmt.Errorf("encode: token %d: non-finite reconstruction (check the SAE weights)", i)
		}
	}
	return nil
}
