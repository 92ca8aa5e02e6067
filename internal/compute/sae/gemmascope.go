package sae

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"saex/internal/compute/tensor"
)

// Gemma Scope (google/gemma-scope-{2b,9b,27b}-{pt,it}-{res,mlp,att}) ships
// one params.npz per folder layer_L/width_W/average_l0_N (or "canonical";
// embedding SAEs live under embedding/). The file holds only tensors, so the
// configuration is what SAELens's gemma_2 loader builds
// (sae_lens/loading/pretrained_sae_loaders.py, get_gemma_2_config_from_hf):
// JumpReLU, no b_dec subtraction, no normalisation, prepend_bos, context
// 1024, and the hook from the release and folder names:
//
//	…-res + layer_L        blocks.L.hook_resid_post
//	…-res + embedding/     hook_embed (W_enc /= sqrt(d_in), W_dec *= sqrt(d_in) on load)
//	…-mlp + layer_L        blocks.L.hook_mlp_out
//	…-att + layer_L        blocks.L.attn.hook_z (inputs flattened [T, heads*d_head])
//
// The same SAE saved by SAELens (cfg.json + sae_weights.safetensors, with
// W_enc, W_dec, b_enc, b_dec, threshold) is an ordinary SAELens directory.

var (
	gemmaReleaseRE = regexp.MustCompile(`gemma-scope-(2b|9b|27b)-(pt|it)-(res|mlp|att)`)
	gemmaKindRE    = regexp.MustCompile(`-(res|mlp|att)(?:-canonical)?$`)
	gemmaLayerRE   = regexp.MustCompile(`^layer_(\d+)$`)
)

// gemmaScopeHook derives the model name, hook and layer from the folders of
// a params.npz path, as SAELens's gemma_2 loader does from the release and
// folder names; hook is "" when the path does not say.
func gemmaScopeHook(path string) (model, hook string, layer int, embedding bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	layer = -1
	kind := ""
	for _, part := range strings.Split(filepath.ToSlash(abs), "/") {
		if m := gemmaReleaseRE.FindStringSubmatch(part); m != nil {
			model = "gemma-2-" + m[1]
			if m[2] == "it" {
				model += "-it"
			}
		}
		if m := gemmaKindRE.FindStringSubmatch(part); m != nil {
			kind = m[1]
		}
		if m := gemmaLayerRE.FindStringSubmatch(part); m != nil {
			layer, _ = strconv.Atoi(m[1])
		}
		if part == "embedding" {
			embedding = true
		}
	}
	switch {
	case embedding && kind == "res":
		hook, layer = "hook_embed", -1
	case layer < 0:
	case kind == "res":
		hook = fmt.Sprintf("blocks.%d.hook_resid_post", layer)
	case kind == "mlp":
		hook = fmt.Sprintf("blocks.%d.hook_mlp_out", layer)
	case kind == "att":
		hook = fmt.Sprintf("blocks.%d.attn.hook_z", layer)
	}
	return model, hook, layer, embedding
}

// loadGemmaScope reads a Gemma Scope params.npz with the configuration
// SAELens's gemma_2 loader gives it.
func loadGemmaScope(dir, path string) (*SAE, error) {
	f, err := tensor.OpenNPZ(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, ok := f.Info("W_enc")
	if !ok {
		info, ok = f.Info("w_enc")
	}
	if !ok {
		return nil, fmt.Errorf("%s: member W_enc.npy missing (have %v)", path, f.Names())
	}
	if len(info.Shape) != 2 || info.Shape[0] <= 0 || info.Shape[1] <= 0 {
		return nil, fmt.Errorf("%s: tensor W_enc has shape %v, want [d_in, d_sae]", path, info.Shape)
	}
	cfg := Config{
		Architecture: JumpReLU, DIn: info.Shape[0], DSAE: info.Shape[1],
		NormalizeActivations: NormNone, ReshapeActivations: "none",
		PrependBOS: true, ContextSize: 1024, DType: "float32", HookLayer: -1,
		DatasetPath: "monology/pile-uncopyrighted", Format: "gemma-scope",
	}
	var embedding bool
	cfg.ModelName, cfg.HookName, cfg.HookLayer, embedding = gemmaScopeHook(path)
	if strings.HasSuffix(cfg.HookName, "hook_z") {
		cfg.ReshapeActivations = "hook_z"
	}
	w, err := readWeights(f, cfg)
	if err != nil {
		return nil, err
	}
	if embedding {
		// The embedding SAEs were trained at a scale sqrt(d_model) (Gemma's
		// embedding multiplier) away from hook_embed; SAELens rescales the
		// weights on load, and so do we.
		r := math.Sqrt(float64(cfg.DIn))
		for i, v := range w.WEnc {
			w.WEnc[i] = float32(float64(v) / r)
		}
		for i, v := range w.WDec {
			w.WDec[i] = float32(float64(v) * r)
		}
	}
	s, err := New(cfg, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Dir = dir
	return s, nil
}
