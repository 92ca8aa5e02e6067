package sae

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"saex/internal/compute/tensor"
)

// EleutherAI's sae / sparsify libraries save one folder per hookpoint,
// named after it, holding cfg.json (SaeConfig / SparseCoderConfig fields
// plus d_in) and sae.safetensors (the module's state dict):
//
//	encoder.weight [num_latents, d_in]   encoder.bias [num_latents]
//	W_dec          [num_latents, d_in]   b_dec        [d_in]
//
// num_latents is cfg.num_latents, or d_in * expansion_factor when it is 0.
// Encode (sparse_coder.py encode / fused_encoder.py, sae.py pre_acts in the
// older library): pre = relu((x - b_dec) @ encoder.weight^T + encoder.bias),
// then torch.topk(pre, k). That is SAELens's topk architecture with
// apply_b_dec_to_input (top-k of relu equals relu of top-k), so the SAE maps
// onto it with W_enc = encoder.weight^T. Decode: f @ W_dec + b_dec.
// normalize_decoder only keeps W_dec's rows unit-norm during training; it
// changes nothing at inference. multi_topk is a training loss only. signed,
// groupmax, transcode and skip_connection change the math and are refused.
//
// SAELens's sparsify loader differs on two points we do not follow: it sets
// apply_b_dec_to_input = not normalize_decoder, where both libraries always
// subtract b_dec (unless transcoding), and it maps layer_N folders like
// layers.N (see EleutherHook).

// EleutherHook maps an EleutherAI hookpoint (the SAE's folder name: a
// module path of the Hugging Face base model, as the trainer's
// named_modules() sees it) onto a TransformerLens hook name and layer, or
// returns ok = false. The module's forward output is what was trained on:
//
//	layer_N                      blocks.N.hook_resid_pre   (sae before 2024-07-16: hidden_states[N])
//	layers.N, h.N                blocks.N.hook_resid_post  (decoder layer output)
//	layers.N.mlp, h.N.mlp        blocks.N.hook_mlp_out
//	layers.N.self_attn, layers.N.attention, h.N.attn
//	                             blocks.N.hook_attn_out
//	layers.N.mlp.act, h.N.mlp.act
//	                             blocks.N.mlp.hook_post    (non-gated MLPs: GPT-2, NeoX)
//	embed_tokens, embed_in, wte  hook_embed
//
// A leading model., gpt_neox. or transformer. is dropped (the causal-LM
// wrapper's prefix). Gemma-2 differs: its mlp and self_attn modules return
// values before the post-feedforward / post-attention norms, which
// TransformerLens's hook_mlp_out / hook_attn_out include.
func EleutherHook(folder string) (hook string, layer int, ok bool) {
	name := folder
	for _, pre := range []string{"model.", "gpt_neox.", "transformer."} {
		name = strings.TrimPrefix(name, pre)
	}
	switch name {
	case "embed_tokens", "embed_in", "wte":
		return "hook_embed", -1, true
	}
	m := eleutherHookRE.FindStringSubmatch(name)
	if m == nil {
		return "", -1, false
	}
	n, err := strconv.Atoi(m[2])
	if err != nil || n > 1<<20 {
		return "", -1, false
	}
	switch {
	case m[1] == "layer_" && m[3] == "":
		return fmt.Sprintf("blocks.%d.hook_resid_pre", n), n, true
	case m[1] == "layer_":
		return "", -1, false
	}
	suffix := map[string]string{
		"":           "hook_resid_post",
		".mlp":       "hook_mlp_out",
		".self_attn": "hook_attn_out",
		".attention": "hook_attn_out",
		".attn":      "hook_attn_out",
		".mlp.act":   "mlp.hook_post",
	}[m[3]]
	if suffix == "" {
		return "", -1, false
	}
	return fmt.Sprintf("blocks.%d.%s", n, suffix), n, true
}

var eleutherHookRE = regexp.MustCompile(`^(layers\.|h\.|layer_)(\d+)((?:\.[a-z_]+)*)$`)

// loadEleuther reads an EleutherAI sae/sparsify folder.
func loadEleuther(dir, cfgPath string) (*SAE, error) {
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	cfg, err := parseEleuther(cfgPath, filepath.Base(abs), data)
	if err != nil {
		return nil, err
	}
	readRunConfig(&cfg, filepath.Join(filepath.Dir(abs), "config.json"))
	wPath := filepath.Join(dir, "sae.safetensors")
	f, err := tensor.OpenSafetensors(wPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	din, dsae := cfg.DIn, cfg.DSAE
	var w Weights
	get := func(shape []int, names ...string) []float32 {
		if err != nil {
			return nil
		}
		for _, name := range names {
			if _, ok := f.Info(name); ok {
				var v []float32
				v, err = f.Float32(name, shape...)
				return v
			}
		}
		err = fmt.Errorf("%s: tensor %q missing (have %v)", wPath, names[0], f.Names())
		return nil
	}
	if _, ok := f.Info("W_enc"); ok {
		// Some conversions store SAELens's orientation [d_in, num_latents].
		w.WEnc = get([]int{din, dsae}, "W_enc")
	} else if encW := get([]int{dsae, din}, "encoder.weight"); encW != nil {
		w.WEnc = make([]float32, din*dsae)
		for i := 0; i < dsae; i++ {
			for r := 0; r < din; r++ {
				w.WEnc[r*dsae+i] = encW[i*din+r]
			}
		}
	}
	w.BEnc = get([]int{dsae}, "encoder.bias", "b_enc")
	w.WDec = get([]int{dsae, din}, "W_dec")
	w.BDec = get([]int{din}, "b_dec")
	if err != nil {
		return nil, err
	}
	if dt := tensorDType(f, "W_dec"); dt != "" {
		cfg.DType = dt
	}
	s, err := New(cfg, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wPath, err)
	}
	s.Dir = dir
	return s, nil
}

// parseEleuther reads an EleutherAI cfg.json; folder (the SAE folder's
// name) gives the hook.
func parseEleuther(name, folder string, data []byte) (Config, error) {
	raw, err := parseObject(name, data)
	if err != nil {
		return Config{}, err
	}
	p := cfgParser{name: name}
	for _, key := range []string{"d_in", "k"} {
		if !has(raw, key) {
			p.fail(key, "missing")
		}
	}
	c := Config{
		Architecture:         TopK,
		DIn:                  p.int(raw, "d_in", 0),
		K:                    p.int(raw, "k", 0),
		ApplyBDecToInput:     true,
		NormalizeActivations: NormNone,
		ReshapeActivations:   "none",
		PrependBOS:           true,
		DType:                "float32",
		Format:               "eleuther",
		HookLayer:            -1,
	}
	c.DSAE = p.int(raw, "num_latents", 0)
	if c.DSAE < 0 {
		p.fail("num_latents", fmt.Sprintf("%d, want >= 0", c.DSAE))
	}
	if c.DSAE == 0 {
		ef := p.int(raw, "expansion_factor", 32) // SaeConfig default
		if ef <= 0 {
			p.fail("expansion_factor", fmt.Sprintf("%d, want > 0 (num_latents is 0)", ef))
		}
		c.DSAE = c.DIn * ef
	}
	p.bool(raw, "normalize_decoder", true)
	p.bool(raw, "multi_topk", false)
	for _, key := range []string{"signed", "transcode", "skip_connection"} {
		if p.bool(raw, key, false) {
			p.fail(key, "true is not supported")
		}
	}
	if act := p.str(raw, "activation", "topk"); p.err == nil && act != "topk" {
		p.fail("activation", fmt.Sprintf("%q is not supported (want topk)", act))
	}
	if p.err != nil {
		return Config{}, p.err
	}
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	if hook, layer, ok := EleutherHook(folder); ok {
		c.HookName, c.HookLayer = hook, layer
	}
	return c, nil
}

// readRunConfig takes the model name, dataset and context length from the
// training run's config.json next to the hookpoint folders, when there is
// one with those fields (sparsify's RunConfig: model, dataset, ctx_len).
// Anything else there is ignored: the file is optional metadata.
func readRunConfig(c *Config, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var run struct {
		Model   json.RawMessage `json:"model"`
		Dataset json.RawMessage `json:"dataset"`
		CtxLen  json.RawMessage `json:"ctx_len"`
	}
	if json.Unmarshal(data, &run) != nil {
		return
	}
	var model, dataset string
	if json.Unmarshal(run.Model, &model) == nil {
		c.ModelName = model
	}
	if json.Unmarshal(run.Dataset, &dataset) == nil {
		c.DatasetPath = dataset
	}
	var n int
	if json.Unmarshal(run.CtxLen, &n) == nil && n > 0 {
		c.ContextSize = n
	}
}
