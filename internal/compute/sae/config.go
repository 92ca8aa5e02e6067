package sae

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Architectures this package encodes.
const (
	Standard = "standard"
	TopK     = "topk"
	JumpReLU = "jumprelu"
	Gated    = "gated"
)

// Input normalisation modes (cfg.json normalize_activations).
const (
	NormNone              = "none"
	NormConstantRescale   = "constant_norm_rescale"
	NormLayerNorm         = "layer_norm"
	NormExpectedAvgOnlyIn = "expected_average_only_in" // a no-op at run time, as in SAELens
)

// Config is an SAE's configuration after SAELens's defaulting rules
// (pre-6.0 flat configs are converted as handle_pre_6_0_config does).
type Config struct {
	Architecture             string // standard, topk, jumprelu or gated
	DIn, DSAE                int
	K                        int // topk only
	ApplyBDecToInput         bool
	NormalizeActivations     string
	ReshapeActivations       string // "none" or "hook_z" (inputs are taken already flattened)
	RescaleActsByDecoderNorm bool   // topk only

	HookName      string
	HookLayer     int // -1 when the hook name has no layer
	HookHeadIndex *int
	ModelName     string
	PrependBOS    bool
	ContextSize   int // 0 when unknown
	DatasetPath   string
	NeuronpediaID string
	// CenterWritingWeights is metadata.model_from_pretrained_kwargs
	// .center_writing_weights: the SAE was trained on a TransformerLens model
	// whose residual writes are mean-centred, so residual-stream inputs are
	// centred before encoding (see CentersInput).
	CenterWritingWeights bool
	DType                string // cfg dtype ("float32", "bfloat16", ...); computation is float32 regardless
	SAELensVersion       string
	// Format says where the SAE came from: "saelens", "gemma-scope",
	// "llama-scope" or "eleuther".
	Format string
	// InputScale is the dataset-wise input scale sqrt(d_model)/norm_in that
	// a Llama Scope SAE applies, already folded into the weights as SAELens
	// folds it (W_enc*s, W_dec/s, b_dec/s, threshold*s); 0 when none.
	InputScale float64
}

// CentersInput reports whether Encode subtracts each input row's mean:
// CenterWritingWeights is set and the hook reads a residual-stream write
// (TransformerLens centres W_E, W_pos, W_O and W_out, so only those
// activations are mean-free in the model the SAE was trained on).
func (c Config) CentersInput() bool {
	if !c.CenterWritingWeights {
		return false
	}
	for _, s := range []string{"hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out", "hook_embed", "hook_pos_embed"} {
		if strings.HasSuffix(c.HookName, s) {
			return true
		}
	}
	return false
}

var layerRE = regexp.MustCompile(`\.(\d+)\.`)

// hookLayer derives the layer from a TransformerLens hook name as SAELens
// 6.x does (regex `\.(\d+)\.`), or -1.
func hookLayer(hook string) int {
	m := layerRE.FindStringSubmatch(hook)
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return n
}

// ParseConfig parses a SAELens cfg.json (6.x with "metadata", or the flat
// pre-6.0 form) and applies SAELens's defaults. name is used in errors.
func ParseConfig(name string, data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Config{}, fmt.Errorf("%s: not a JSON object: %w", name, err)
	}
	if raw == nil {
		return Config{}, fmt.Errorf("%s: not a JSON object", name)
	}
	p := cfgParser{name: name}
	var meta map[string]json.RawMessage
	if m, ok := raw["metadata"]; ok && string(m) != "null" {
		if err := json.Unmarshal(m, &meta); err != nil {
			return Config{}, fmt.Errorf("%s: field metadata: must be an object: %w", name, err)
		}
	}
	version := p.str(raw, "sae_lens_version", "")
	if version == "" {
		version = p.str(meta, "sae_lens_version", "")
	}
	var c Config
	if version == "" || versionLess(version, 6) {
		c = p.pre6(raw)
	} else {
		c = p.v6(raw, meta)
	}
	if p.err != nil {
		return Config{}, p.err
	}
	c.SAELensVersion = version
	c.Format = "saelens"
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// versionLess reports whether a version string's major number is < major
// (so "5.9.1" < 6 and "6.0.0-rc.0" is not).
func versionLess(v string, major int) bool {
	v = strings.TrimPrefix(v, "v")
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	n, err := strconv.Atoi(v[:end])
	return err != nil || n < major
}

// pre6 converts a flat pre-6.0 config (handle_pre_6_0_config).
func (p *cfgParser) pre6(raw map[string]json.RawMessage) Config {
	c := Config{
		DIn:                      p.int(raw, "d_in", 0),
		DSAE:                     p.int(raw, "d_sae", 0),
		DType:                    p.str(raw, "dtype", "float32"),
		ApplyBDecToInput:         p.bool(raw, "apply_b_dec_to_input", true),
		Architecture:             p.str(raw, "architecture", Standard),
		RescaleActsByDecoderNorm: p.bool(raw, "rescale_acts_by_decoder_norm", false),
		ModelName:                p.str(raw, "model_name", ""),
		PrependBOS:               p.bool(raw, "prepend_bos", true),
		ContextSize:              p.int(raw, "context_size", 0),
		DatasetPath:              p.str(raw, "dataset_path", ""),
		NeuronpediaID:            p.str(raw, "neuronpedia_id", ""),
	}
	c.HookName = p.str(raw, "hook_name", p.str(raw, "hook_point", ""))
	c.HookHeadIndex = p.optInt(raw, "hook_head_index", p.optInt(raw, "hook_point_head_index", nil))
	c.HookLayer = p.int(raw, "hook_layer", p.int(raw, "hook_point_layer", hookLayer(c.HookName)))
	act := p.str(raw, "activation_fn", p.str(raw, "activation_fn_str", "relu"))
	if act == TopK {
		var kw map[string]json.RawMessage
		if m, ok := raw["activation_fn_kwargs"]; ok && string(m) != "null" {
			if err := json.Unmarshal(m, &kw); err != nil {
				p.fail("activation_fn_kwargs", "must be an object")
			}
		}
		if _, ok := kw["k"]; ok {
			c.Architecture = TopK
			c.K = p.int(kw, "k", 0)
		}
	}
	if c.Architecture == TopK && c.K == 0 {
		c.K = p.int(raw, "k", 100)
	}
	switch v := raw["normalize_activations"]; {
	case v == nil, string(v) == "null", string(v) == "false":
		c.NormalizeActivations = NormNone
	case string(v) == "true":
		c.NormalizeActivations = NormExpectedAvgOnlyIn
	default:
		c.NormalizeActivations = p.str(raw, "normalize_activations", NormNone)
	}
	c.ReshapeActivations = "none"
	if strings.Contains(c.HookName, "hook_z") {
		c.ReshapeActivations = "hook_z"
	}
	c.CenterWritingWeights = p.centerWriting(raw)
	return c
}

// v6 reads the 6.x form: architecture fields at the top, the rest in metadata.
func (p *cfgParser) v6(raw, meta map[string]json.RawMessage) Config {
	c := Config{
		DIn:                      p.int(raw, "d_in", 0),
		DSAE:                     p.int(raw, "d_sae", 0),
		DType:                    p.str(raw, "dtype", "float32"),
		ApplyBDecToInput:         p.bool(raw, "apply_b_dec_to_input", true),
		NormalizeActivations:     p.str(raw, "normalize_activations", NormNone),
		ReshapeActivations:       p.str(raw, "reshape_activations", "none"),
		Architecture:             p.str(raw, "architecture", Standard),
		RescaleActsByDecoderNorm: p.bool(raw, "rescale_acts_by_decoder_norm", false),
	}
	if c.Architecture == TopK {
		c.K = p.int(raw, "k", 100) // TopKSAEConfig default
	}
	// Metadata keys live in "metadata"; tolerate them at the top level too.
	get := func(key string) map[string]json.RawMessage {
		if _, ok := meta[key]; ok {
			return meta
		}
		return raw
	}
	c.ModelName = p.str(get("model_name"), "model_name", "")
	c.HookName = p.str(get("hook_name"), "hook_name", "")
	c.HookHeadIndex = p.optInt(get("hook_head_index"), "hook_head_index", nil)
	c.HookLayer = hookLayer(c.HookName)
	c.PrependBOS = p.bool(get("prepend_bos"), "prepend_bos", true)
	c.ContextSize = p.int(get("context_size"), "context_size", 0)
	c.DatasetPath = p.str(get("dataset_path"), "dataset_path", "")
	c.NeuronpediaID = p.str(get("neuronpedia_id"), "neuronpedia_id", "")
	c.CenterWritingWeights = p.centerWriting(get("model_from_pretrained_kwargs"))
	return c
}

func (c Config) validate() error {
	switch c.Architecture {
	case Standard, JumpReLU, Gated:
	case TopK:
		if c.K <= 0 || c.K > c.DSAE {
			return fmt.Errorf("field k: %d is not in [1, d_sae=%d]", c.K, c.DSAE)
		}
	default:
		return fmt.Errorf("field architecture: unknown architecture %q (supported: standard, topk, jumprelu, gated)", c.Architecture)
	}
	if c.DIn <= 0 {
		return fmt.Errorf("field d_in: %d, want > 0", c.DIn)
	}
	if c.DSAE <= 0 {
		return fmt.Errorf("field d_sae: %d, want > 0", c.DSAE)
	}
	switch c.NormalizeActivations {
	case NormNone, NormConstantRescale, NormLayerNorm, NormExpectedAvgOnlyIn:
	default:
		return fmt.Errorf("field normalize_activations: unknown mode %q", c.NormalizeActivations)
	}
	switch c.ReshapeActivations {
	case "none", "hook_z":
	default:
		return fmt.Errorf("field reshape_activations: unknown mode %q", c.ReshapeActivations)
	}
	if c.RescaleActsByDecoderNorm && c.Architecture != TopK {
		return fmt.Errorf("field rescale_acts_by_decoder_norm: only supported for topk, not %s", c.Architecture)
	}
	return nil
}

// cfgParser reads typed fields, remembering the first error (which names
// the file and field).
type cfgParser struct {
	name string
	err  error
}

func (p *cfgParser) fail(field, msg string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: field %s: %s", p.name, field, msg)
	}
}

func present(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	v, ok := m[key]
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

func (p *cfgParser) str(m map[string]json.RawMessage, key, def string) string {
	v, ok := present(m, key)
	if !ok {
		return def
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		p.fail(key, "must be a string, got "+string(v))
	}
	return s
}

func (p *cfgParser) bool(m map[string]json.RawMessage, key string, def bool) bool {
	v, ok := present(m, key)
	if !ok {
		return def
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		p.fail(key, "must be true or false, got "+string(v))
	}
	return b
}

func (p *cfgParser) int(m map[string]json.RawMessage, key string, def int) int {
	v, ok := present(m, key)
	if !ok {
		return def
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil || v[0] == '"' { // json.Number also takes "12"
		p.fail(key, "must be an integer, got "+string(v))
		return def
	}
	i, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil {
		// Accept integral floats such as 24576.0, which Python writers emit.
		f, ferr := n.Float64()
		if ferr != nil || f != float64(int64(f)) || f < -1<<31 || f >= 1<<31 {
			p.fail(key, "must be an integer, got "+string(v))
			return def
		}
		i = int64(f)
	}
	return int(i)
}

func (p *cfgParser) optInt(m map[string]json.RawMessage, key string, def *int) *int {
	if _, ok := present(m, key); !ok {
		return def
	}
	n := p.int(m, key, 0)
	return &n
}

// centerWriting reads model_from_pretrained_kwargs.center_writing_weights.
func (p *cfgParser) centerWriting(m map[string]json.RawMessage) bool {
	v, ok := present(m, "model_from_pretrained_kwargs")
	if !ok {
		return false
	}
	var kw map[string]json.RawMessage
	if err := json.Unmarshal(v, &kw); err != nil {
		p.fail("model_from_pretrained_kwargs", "must be an object")
		return false
	}
	return p.bool(kw, "center_writing_weights", false)
}

// float reads a finite number.
func (p *cfgParser) float(m map[string]json.RawMessage, key string, def float64) float64 {
	v, ok := present(m, key)
	if !ok {
		return def
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil || v[0] == '"' {
		p.fail(key, "must be a number, got "+string(v))
		return def
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		p.fail(key, "must be a finite number, got "+string(v))
		return def
	}
	return f
}

// object reads a nested JSON object (nil when absent).
func (p *cfgParser) object(m map[string]json.RawMessage, key string) map[string]json.RawMessage {
	v, ok := present(m, key)
	if !ok {
		return nil
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(v, &o); err != nil {
		p.fail(key, "must be an object, got "+string(v))
		return nil
	}
	return o
}

// has reports whether key is present and not null.
func has(m map[string]json.RawMessage, key string) bool {
	_, ok := present(m, key)
	return ok
}

// parseObject decodes a JSON object keeping numbers as json.Number.
func parseObject(name string, data []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", name, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%s: not a JSON object", name)
	}
	return raw, nil
}
