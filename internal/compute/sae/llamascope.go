package sae

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"saex/internal/compute/tensor"
)

// Llama Scope (OpenMOSS, fnlp/Llama3_1-8B-Base-L{L}{R,A,M}-{8,32}x) keeps
// one folder per SAE: hyperparams.json and checkpoints/final.safetensors
// with nn.Linear tensors (encoder.weight [d_sae, d_model], encoder.bias,
// decoder.weight [d_model, d_sae], decoder.bias), stored in bf16.
//
// OpenMOSS trains on dataset-wise normalised inputs: x is multiplied by
// s = sqrt(d_model) / dataset_average_activation_norm.in before the encoder
// (lm_saes/sae.py compute_norm_factor and encode, OpenMOSS@5e5527b7), and
// the JumpReLU threshold is one scalar, jump_relu_threshold.
//
// We apply SAELens's treatment, which is what "identical to SAELens" means
// (get_llama_scope_config_from_hf and llama_scope_sae_huggingface_loader,
// then from_pretrained folding the YAML norm_scaling_factor, which equals s):
//
//	W_enc = encoder.weight^T * s      b_enc = encoder.bias
//	W_dec = decoder.weight^T / s      b_dec = decoder.bias / s
//	threshold[i] = jump_relu_threshold * s
//	h = x @ W_enc + b_enc = (s*x) @ encoder.weight^T + encoder.bias
//	f = relu(h) * (h > threshold)      x_hat = f @ W_dec + b_dec
//
// so the reconstruction is in the units of x. OpenMOSS's own loader
// (SparseAutoEncoder.from_pretrained: standardize_parameters_of_dataset_
// activation_scaling, then transform_to_unit_decoder_norm because the
// released hyperparams say sparsity_include_decoder_norm) gives instead
// f_i = n_i*h_i/s, active when n_i*h_i/s > jump_relu_threshold, with
// n_i = ||decoder.weight[:, i]||: the same set as SAELens only where n_i = 1,
// and after SAEDashboard's fold_W_dec_norm the same values on that set. We
// follow SAELens (testdata/formats/README.md has the derivation).
// apply_decoder_bias_to_pre_encoder (false in the released SAEs, ignored by
// SAELens) subtracts decoder.bias from s*x before the encoder, as OpenMOSS
// does. Transcoders (hook_point_out != hook_point_in) are refused.
func loadLlamaScope(dir, hpPath string) (*SAE, error) {
	data, err := os.ReadFile(hpPath)
	if err != nil {
		return nil, err
	}
	cfg, theta, err := parseLlamaScope(hpPath, data)
	if err != nil {
		return nil, err
	}
	wPath := filepath.Join(dir, "checkpoints", "final.safetensors")
	f, err := tensor.OpenSafetensors(wPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	din, dsae := cfg.DIn, cfg.DSAE
	get := func(name string, shape ...int) []float32 {
		if err != nil {
			return nil
		}
		if _, ok := f.Info(name); !ok {
			err = fmt.Errorf("%s: tensor %q missing (have %v)", wPath, name, f.Names())
			return nil
		}
		var v []float32
		v, err = f.Float32(name, shape...)
		return v
	}
	encW := get("encoder.weight", dsae, din)
	encB := get("encoder.bias", dsae)
	decW := get("decoder.weight", din, dsae)
	decB := get("decoder.bias", din)
	if err != nil {
		return nil, err
	}
	if dt := tensorDType(f, "encoder.weight"); dt != "" {
		cfg.DType = dt
	}
	s := cfg.InputScale
	w := Weights{
		WEnc:      make([]float32, din*dsae),
		WDec:      make([]float32, dsae*din),
		BEnc:      encB,
		BDec:      make([]float32, din),
		Threshold: make([]float32, dsae),
	}
	for i := 0; i < dsae; i++ {
		for r := 0; r < din; r++ {
			w.WEnc[r*dsae+i] = float32(float64(encW[i*din+r]) * s)
			w.WDec[i*din+r] = float32(float64(decW[r*dsae+i]) / s)
		}
		w.Threshold[i] = float32(theta * s)
	}
	for r, v := range decB {
		w.BDec[r] = float32(float64(v) / s)
	}
	sae, err := New(cfg, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wPath, err)
	}
	sae.Dir = dir
	return sae, nil
}

// parseLlamaScope reads hyperparams.json into the SAELens configuration of
// the folded SAE and returns the bare jump_relu_threshold.
func parseLlamaScope(name string, data []byte) (Config, float64, error) {
	raw, err := parseObject(name, data)
	if err != nil {
		return Config{}, 0, err
	}
	p := cfgParser{name: name}
	for _, key := range []string{"d_model", "hook_point_in", "jump_relu_threshold", "dataset_average_activation_norm"} {
		if !has(raw, key) {
			p.fail(key, "missing")
		}
	}
	c := Config{
		Architecture:         JumpReLU,
		DIn:                  p.int(raw, "d_model", 0),
		ApplyBDecToInput:     p.bool(raw, "apply_decoder_bias_to_pre_encoder", false),
		NormalizeActivations: NormNone, // folded into the weights
		ReshapeActivations:   "none",
		HookName:             p.str(raw, "hook_point_in", ""),
		ModelName:            "meta-llama/Llama-3.1-8B",
		PrependBOS:           true,
		ContextSize:          1024,
		DatasetPath:          "cerebras/SlimPajama-627B",
		DType:                "bfloat16",
		Format:               "llama-scope",
	}
	c.DSAE = p.int(raw, "d_sae", 0)
	if !has(raw, "d_sae") && p.err == nil {
		if !has(raw, "expansion_factor") {
			p.fail("d_sae", "missing (and no expansion_factor)")
		}
		c.DSAE = c.DIn * p.int(raw, "expansion_factor", 0)
	}
	c.HookLayer = hookLayer(c.HookName)
	if out := p.str(raw, "hook_point_out", c.HookName); p.err == nil && out != c.HookName {
		p.fail("hook_point_out", fmt.Sprintf("%q differs from hook_point_in %q: transcoders are not supported", out, c.HookName))
	}
	if mode := p.str(raw, "norm_activation", "dataset-wise"); p.err == nil && mode != "dataset-wise" {
		p.fail("norm_activation", fmt.Sprintf("%q is not supported (want dataset-wise)", mode))
	}
	theta := p.float(raw, "jump_relu_threshold", 0)
	norms := p.object(raw, "dataset_average_activation_norm")
	if p.err == nil && !has(norms, "in") {
		p.fail("dataset_average_activation_norm.in", "missing")
	}
	normIn := p.float(norms, "in", 0)
	if p.err != nil {
		return Config{}, 0, p.err
	}
	if !(normIn > 0) {
		return Config{}, 0, fmt.Errorf("%s: field dataset_average_activation_norm.in: %v, want > 0", name, normIn)
	}
	if c.DIn > 0 {
		c.InputScale = math.Sqrt(float64(c.DIn)) / normIn
	}
	if err := c.validate(); err != nil {
		return Config{}, 0, fmt.Errorf("%s: %w", name, err)
	}
	if c.HookName == "" {
		return Config{}, 0, fmt.Errorf("%s: field hook_point_in: empty", name)
	}
	return c, theta, nil
}

// tensorDType names a tensor's stored dtype in SAELens's spelling ("" if absent).
func tensorDType(f *tensor.File, name string) string {
	info, ok := f.Info(name)
	if !ok {
		return ""
	}
	switch info.DType {
	case tensor.F32:
		return "float32"
	case tensor.F16:
		return "float16"
	case tensor.BF16:
		return "bfloat16"
	case tensor.F64:
		return "float64"
	}
	return string(info.DType)
}
