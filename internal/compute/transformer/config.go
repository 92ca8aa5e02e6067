package transformer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Family is a model architecture saex can run.
type Family string

// The supported families, by Hugging Face model_type.
const (
	GPT2   Family = "gpt2"
	Llama  Family = "llama"
	Qwen2  Family = "qwen2"
	Qwen3  Family = "qwen3"
	Gemma2 Family = "gemma2"
	NeoX   Family = "gpt_neox"
)

// architectureFamily maps config.json "architectures" entries to a family,
// for configs that lack model_type.
var architectureFamily = map[string]Family{
	"GPT2LMHeadModel": GPT2, "GPT2Model": GPT2,
	"LlamaForCausalLM": Llama, "LlamaModel": Llama,
	"Qwen2ForCausalLM": Qwen2, "Qwen2Model": Qwen2,
	"Qwen3ForCausalLM": Qwen3, "Qwen3Model": Qwen3,
	"Gemma2ForCausalLM": Gemma2, "Gemma2Model": Gemma2,
	"GPTNeoXForCausalLM": NeoX, "GPTNeoXModel": NeoX,
}

// Activation is the MLP nonlinearity.
type Activation string

// Supported activations (Hugging Face names in the comments).
const (
	GeluTanh Activation = "gelu_tanh" // gelu_new, gelu_pytorch_tanh, gelu_fast
	GeluErf  Activation = "gelu"      // exact erf GELU
	SiLU     Activation = "silu"      // silu, swish
)

// Config is a model's architecture, resolved from its config.json into
// the switches of the one forward pass (see the package doc). Field names
// follow GPT-2's config where both exist: NEmbd is hidden_size, NInner is
// intermediate_size, NPositions is max_position_embeddings.
type Config struct {
	Family     Family
	VocabSize  int
	NPositions int // context length (n_positions / max_position_embeddings)
	NEmbd      int // d_model
	NLayer     int
	NHead      int // query heads
	NKVHead    int // key/value heads (grouped-query attention when < NHead)
	HeadDim    int // per-head width; may differ from NEmbd/NHead (Qwen3, Gemma-2)
	NInner     int // MLP width
	// RMSNorm selects RMSNorm (no mean, no bias) over LayerNorm;
	// NormPlusOne scales by (1 + w) (Gemma).
	RMSNorm     bool
	NormPlusOne bool
	NormEps     float64
	Act         Activation
	// GatedMLP: mlp.hook_post = act(x·gate) * (x·up) (Llama, Qwen, Gemma).
	GatedMLP bool
	// LearnedPositions: GPT-2's wpe; otherwise rotary embeddings on the
	// first RotaryDim dims of each query and key head.
	LearnedPositions bool
	RotaryDim        int
	Rope             RopeConfig
	// ParallelResidual: attention and MLP both read the block input
	// (GPT-NeoX); there is no hook_resid_mid then.
	ParallelResidual bool
	// QKNorm: per-head RMSNorm of queries and keys before RoPE (Qwen3).
	QKNorm bool
	// SandwichNorms: norms after attention and after the MLP (Gemma-2).
	SandwichNorms bool
	// AttnScale multiplies query·key (1/sqrt(head_dim), or Gemma-2's
	// query_pre_attn_scalar^-0.5); ScaleAttnByInverseLayerIdx divides it
	// further by layer+1 (a GPT-2 option).
	AttnScale                  float64
	ScaleAttnByInverseLayerIdx bool
	// AttnSoftcap and FinalSoftcap: c·tanh(x/c) on attention logits and
	// on output logits; 0 is off.
	AttnSoftcap  float64
	FinalSoftcap float64
	// SlidingWindow limits attention to the last SlidingWindow positions on
	// even layers (Gemma-2); 0 is off.
	SlidingWindow int
	// EmbedScale multiplies the token embeddings (Gemma: sqrt(d_model)).
	EmbedScale        float64
	TieWordEmbeddings bool
	// BOSTokenID and EOSTokenID are -1 when the config has none.
	BOSTokenID int
	EOSTokenID int
	// DefaultPrependBOS says whether text is run with BOS prepended when
	// nothing else (an SAE's prepend_bos) decides: as the family's
	// tokenizer(text) does for Gemma and Llama, as TransformerLens does for
	// GPT-2 and Pythia; Qwen's tokenizers add no BOS. False when there is
	// no bos_token_id.
	DefaultPrependBOS bool
	// TorchDtype is torch_dtype (or dtype), e.g. "bfloat16"; "" if absent.
	TorchDtype string
}

// DHead is the per-head width.
func (c Config) DHead() int { return c.HeadDim }

// qDim and kvDim are the widths of all query heads and of all key (or
// value) heads.
func (c Config) qDim() int  { return c.NHead * c.HeadDim }
func (c Config) kvDim() int { return c.NKVHead * c.HeadDim }

// RopeConfig is the rotary embedding's frequencies.
type RopeConfig struct {
	Theta float64
	// Type is "default", "linear" or "llama3".
	Type   string
	Factor float64
	// llama3 only.
	LowFreqFactor, HighFreqFactor float64
	OriginalMaxPositions          int
}

// rawConfig holds every config.json field any family uses; pointers tell
// absent from zero.
type rawConfig struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures"`

	VocabSize             *int `json:"vocab_size"`
	NPositions            *int `json:"n_positions"`
	MaxPositionEmbeddings *int `json:"max_position_embeddings"`
	NEmbd                 *int `json:"n_embd"`
	HiddenSize            *int `json:"hidden_size"`
	NLayer                *int `json:"n_layer"`
	NumHiddenLayers       *int `json:"num_hidden_layers"`
	NHead                 *int `json:"n_head"`
	NumAttentionHeads     *int `json:"num_attention_heads"`
	NumKeyValueHeads      *int `json:"num_key_value_heads"`
	HeadDim               *int `json:"head_dim"`
	NInner                *int `json:"n_inner"`
	IntermediateSize      *int `json:"intermediate_size"`

	LayerNormEpsilon *float64 `json:"layer_norm_epsilon"`
	LayerNormEps     *float64 `json:"layer_norm_eps"`
	RMSNormEps       *float64 `json:"rms_norm_eps"`

	ActivationFunction *string `json:"activation_function"`
	HiddenAct          *string `json:"hidden_act"`
	HiddenActivation   *string `json:"hidden_activation"`

	RopeTheta      *float64        `json:"rope_theta"`
	RopeScaling    json.RawMessage `json:"rope_scaling"`
	RopeParameters json.RawMessage `json:"rope_parameters"`
	RotaryPct      *float64        `json:"rotary_pct"`
	PartialRotary  *float64        `json:"partial_rotary_factor"`
	RotaryEmbBase  *float64        `json:"rotary_emb_base"`

	UseParallelResidual   *bool           `json:"use_parallel_residual"`
	QueryPreAttnScalar    *float64        `json:"query_pre_attn_scalar"`
	AttnLogitSoftcapping  json.RawMessage `json:"attn_logit_softcapping"` // null (off) differs from absent (default)
	FinalLogitSoftcapping json.RawMessage `json:"final_logit_softcapping"`
	SlidingWindow         json.RawMessage `json:"sliding_window"`
	UseSlidingWindow      *bool           `json:"use_sliding_window"`

	BOSTokenID        json.RawMessage `json:"bos_token_id"`
	EOSTokenID        json.RawMessage `json:"eos_token_id"`
	TieWordEmbeddings *bool           `json:"tie_word_embeddings"`
	TorchDtype        *string         `json:"torch_dtype"`
	Dtype             *string         `json:"dtype"`

	ScaleAttnWeights           *bool `json:"scale_attn_weights"`
	ScaleAttnByInverseLayerIdx *bool `json:"scale_attn_by_inverse_layer_idx"`
	AddCrossAttention          bool  `json:"add_cross_attention"`
}

// rawRope is rope_scaling (old form) or rope_parameters (transformers 5,
// which also carries rope_theta and partial_rotary_factor).
type rawRope struct {
	RopeType             *string  `json:"rope_type"`
	Type                 *string  `json:"type"`
	RopeTheta            *float64 `json:"rope_theta"`
	Factor               *float64 `json:"factor"`
	LowFreqFactor        *float64 `json:"low_freq_factor"`
	HighFreqFactor       *float64 `json:"high_freq_factor"`
	OriginalMaxPositions *int     `json:"original_max_position_embeddings"`
	PartialRotaryFactor  *float64 `json:"partial_rotary_factor"`
}

// LoadConfig reads and validates a config.json.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(path, data)
}

// configError names the file and field of a bad config.
func configError(name, format string, args ...any) error {
	return fmt.Errorf("transformer: %s: "+format, append([]any{name}, args...)...)
}

// ParseConfig parses and validates a Hugging Face config.json of any
// supported family; name (the file) is used in error messages.
func ParseConfig(name string, data []byte) (Config, error) {
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return Config{}, configError(name, "%v", err)
	}
	fam, err := detectFamily(name, &r)
	if err != nil {
		return Config{}, err
	}
	p := configParser{name: name, r: &r}
	c := Config{Family: fam, BOSTokenID: -1, EOSTokenID: -1}
	c.VocabSize = p.positive("vocab_size", r.VocabSize)
	c.NPositions = p.positive("max_position_embeddings", r.NPositions, r.MaxPositionEmbeddings)
	c.NEmbd = p.positive("hidden_size", r.NEmbd, r.HiddenSize)
	c.NLayer = p.positive("num_hidden_layers", r.NLayer, r.NumHiddenLayers)
	c.NHead = p.positive("num_attention_heads", r.NHead, r.NumAttentionHeads)
	if p.err != nil {
		return Config{}, p.err
	}
	if fam == GPT2 {
		p.gpt2(&c)
	} else {
		p.rotaryFamily(&c)
	}
	c.BOSTokenID = p.tokenID("bos_token_id", r.BOSTokenID)
	c.EOSTokenID = p.tokenID("eos_token_id", r.EOSTokenID)
	c.DefaultPrependBOS = c.BOSTokenID >= 0 && fam != Qwen2 && fam != Qwen3
	if r.TorchDtype != nil {
		c.TorchDtype = *r.TorchDtype
	} else if r.Dtype != nil {
		c.TorchDtype = *r.Dtype
	}
	if p.err != nil {
		return Config{}, p.err
	}
	return c, checkSizes(name, c)
}

func detectFamily(name string, r *rawConfig) (Family, error) {
	if r.ModelType != "" {
		switch f := Family(r.ModelType); f {
		case GPT2, Llama, Qwen2, Qwen3, Gemma2, NeoX:
			return f, nil
		}
		return "", configError(name, "model_type %q is not supported (want gpt2, llama, qwen2, qwen3, gemma2 or gpt_neox)", r.ModelType)
	}
	for _, a := range r.Architectures {
		if f, ok := architectureFamily[a]; ok {
			return f, nil
		}
	}
	if len(r.Architectures) > 0 {
		return "", configError(name, "architectures %q are not supported and model_type is missing", r.Architectures)
	}
	return GPT2, nil // old GPT-2 configs carry neither
}

// configParser reads fields, keeping the first error.
type configParser struct {
	name string
	r    *rawConfig
	err  error
}

func (p *configParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = configError(p.name, format, args...)
	}
}

// positive returns the first present value of the aliases of field, which
// must be > 0; a missing field is an error.
func (p *configParser) positive(field string, vals ...*int) int {
	for _, v := range vals {
		if v != nil {
			if *v <= 0 {
				p.fail("%s = %d, want > 0", field, *v)
				return 0
			}
			return *v
		}
	}
	p.fail("%s is missing", field)
	return 0
}

// optPositive is positive with a default for an absent field.
func (p *configParser) optPositive(field string, def int, v *int) int {
	if v == nil {
		return def
	}
	return p.positive(field, v)
}

func (p *configParser) eps(field string, def float64, vals ...*float64) float64 {
	for _, v := range vals {
		if v != nil {
			if !(*v >= 0 && *v < 1) {
				p.fail("%s = %g, want in [0, 1)", field, *v)
			}
			return *v
		}
	}
	return def
}

// optNumber reads a number >= 0 that may be absent (def) or null (0).
func (p *configParser) optNumber(field string, raw json.RawMessage, def float64) float64 {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return def
	}
	if string(raw) == "null" {
		return 0
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil || !(v >= 0) || math.IsInf(v, 0) {
		p.fail("%s = %s, want a number >= 0 or null", field, raw)
		return 0
	}
	return v
}

// tokenID reads an id that may be null, a number or a list (Llama 3.1's
// eos_token_id); a list gives its first entry.
func (p *configParser) tokenID(field string, raw json.RawMessage) int {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return -1
	}
	var id int
	if err := json.Unmarshal(raw, &id); err == nil {
		return id
	}
	var ids []int
	if err := json.Unmarshal(raw, &ids); err == nil {
		if len(ids) == 0 {
			return -1
		}
		return ids[0]
	}
	p.fail("%s = %s, want a token id or a list of them", field, raw)
	return -1
}

func (p *configParser) gpt2(c *Config) {
	r := p.r
	c.NKVHead = c.NHead
	if c.NEmbd%c.NHead != 0 {
		p.fail("n_embd %d is not a multiple of n_head %d", c.NEmbd, c.NHead)
		return
	}
	c.HeadDim = c.NEmbd / c.NHead
	c.NInner = 4 * c.NEmbd
	if r.NInner != nil {
		c.NInner = p.positive("n_inner", r.NInner)
	}
	c.NormEps = p.eps("layer_norm_epsilon", 1e-5, r.LayerNormEpsilon)
	c.Act = p.activation("activation_function", "gelu_new", r.ActivationFunction)
	c.LearnedPositions = true
	c.TieWordEmbeddings = r.TieWordEmbeddings == nil || *r.TieWordEmbeddings
	c.AttnScale = 1
	if r.ScaleAttnWeights == nil || *r.ScaleAttnWeights {
		c.AttnScale = 1 / math.Sqrt(float64(c.HeadDim))
	}
	c.ScaleAttnByInverseLayerIdx = r.ScaleAttnByInverseLayerIdx != nil && *r.ScaleAttnByInverseLayerIdx
	c.EmbedScale = 1
	if r.AddCrossAttention {
		p.fail("add_cross_attention is not supported")
	}
}

func (p *configParser) activation(field, def string, vals ...*string) Activation {
	name := def
	for _, v := range vals {
		if v != nil {
			name = *v
			break
		}
	}
	switch name {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return GeluTanh
	case "gelu":
		return GeluErf
	case "silu", "swish":
		return SiLU
	}
	p.fail("%s %q is not supported (want gelu_new, gelu_pytorch_tanh, gelu or silu)", field, name)
	return ""
}

// rotaryFamily reads the fields of the RoPE families.
func (p *configParser) rotaryFamily(c *Config) {
	r := p.r
	c.NKVHead = p.optPositive("num_key_value_heads", c.NHead, r.NumKeyValueHeads)
	if c.NHead%max(c.NKVHead, 1) != 0 {
		p.fail("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NHead, c.NKVHead)
	}
	if r.HeadDim == nil && c.NEmbd%c.NHead != 0 {
		p.fail("hidden_size %d is not a multiple of num_attention_heads %d (and head_dim is not given)", c.NEmbd, c.NHead)
	}
	c.HeadDim = p.optPositive("head_dim", c.NEmbd/c.NHead, r.HeadDim)
	c.NInner = p.positive("intermediate_size", r.IntermediateSize)
	c.EmbedScale = 1
	c.AttnScale = 1 / math.Sqrt(float64(c.HeadDim))
	c.RotaryDim = c.HeadDim
	theta := 10000.0
	if r.RopeTheta != nil {
		theta = *r.RopeTheta
	}
	switch c.Family {
	case NeoX:
		c.NormEps = p.eps("layer_norm_eps", 1e-5, r.LayerNormEps)
		c.Act = p.activation("hidden_act", "gelu", r.HiddenAct)
		c.ParallelResidual = r.UseParallelResidual == nil || *r.UseParallelResidual
		c.TieWordEmbeddings = r.TieWordEmbeddings != nil && *r.TieWordEmbeddings
		if r.RotaryEmbBase != nil {
			theta = *r.RotaryEmbBase
		}
		if c.NKVHead != c.NHead {
			p.fail("num_key_value_heads %d: gpt_neox has no grouped-query attention", c.NKVHead)
		}
	default:
		c.RMSNorm = true
		c.GatedMLP = true
		c.NormEps = p.eps("rms_norm_eps", 1e-6, r.RMSNormEps)
		c.Act = p.activation("hidden_act", "silu", r.HiddenActivation, r.HiddenAct)
		c.TieWordEmbeddings = r.TieWordEmbeddings != nil && *r.TieWordEmbeddings
		c.QKNorm = c.Family == Qwen3
		if r.UseSlidingWindow != nil && *r.UseSlidingWindow && c.Family != Gemma2 {
			p.fail("use_sliding_window true is not supported for %s", c.Family)
		}
	}
	if c.Family == Gemma2 {
		p.gemma2(c)
	}
	partial := 1.0
	if r.RotaryPct != nil {
		partial = *r.RotaryPct
	}
	if r.PartialRotary != nil {
		partial = *r.PartialRotary
	}
	c.Rope = p.rope(theta, &partial)
	if !(partial > 0 && partial <= 1) {
		p.fail("rotary_pct = %g, want in (0, 1]", partial)
		return
	}
	c.RotaryDim = int(float64(c.HeadDim) * partial) // as transformers truncates
	if c.RotaryDim%2 != 0 || c.RotaryDim == 0 {
		p.fail("rotary_pct %g gives %d rotary dims of head_dim %d, want a positive even number", partial, c.RotaryDim, c.HeadDim)
	}
}

func (p *configParser) gemma2(c *Config) {
	r := p.r
	c.NormPlusOne = true
	c.SandwichNorms = true
	c.EmbedScale = float64(float32(math.Sqrt(float64(c.NEmbd)))) // a float32 tensor in transformers
	c.TieWordEmbeddings = r.TieWordEmbeddings == nil || *r.TieWordEmbeddings
	c.Act = p.activation("hidden_activation", "gelu_pytorch_tanh", r.HiddenActivation, r.HiddenAct)
	// Absent fields take Gemma2Config's defaults; null turns a soft-cap
	// or the window off.
	scalar := 256.0
	if r.QueryPreAttnScalar != nil {
		scalar = *r.QueryPreAttnScalar
	}
	if !(scalar > 0) || math.IsInf(scalar, 0) {
		p.fail("query_pre_attn_scalar = %g, want > 0", scalar)
		return
	}
	c.AttnScale = 1 / math.Sqrt(scalar)
	c.AttnSoftcap = p.optNumber("attn_logit_softcapping", r.AttnLogitSoftcapping, 50)
	c.FinalSoftcap = p.optNumber("final_logit_softcapping", r.FinalLogitSoftcapping, 30)
	if w := p.optNumber("sliding_window", r.SlidingWindow, 4096); w != 0 {
		if w != math.Trunc(w) || w < 1 || w > 1<<30 {
			p.fail("sliding_window = %g, want a positive integer", w)
			return
		}
		c.SlidingWindow = int(w)
	}
}

// rope reads the rotary frequencies from rope_parameters (transformers 5)
// or rope_theta + rope_scaling; partial is updated from
// rope_parameters.partial_rotary_factor.
func (p *configParser) rope(theta float64, partial *float64) RopeConfig {
	field, raw := "rope_scaling", p.r.RopeScaling
	if len(bytes.TrimSpace(p.r.RopeParameters)) > 0 && string(bytes.TrimSpace(p.r.RopeParameters)) != "null" {
		field, raw = "rope_parameters", p.r.RopeParameters
	}
	rc := RopeConfig{Theta: theta, Type: "default", Factor: 1}
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		var rr rawRope
		if err := json.Unmarshal(raw, &rr); err != nil {
			p.fail("%s: %v", field, err)
			return rc
		}
		if rr.RopeTheta != nil {
			rc.Theta = *rr.RopeTheta
		}
		if rr.PartialRotaryFactor != nil {
			*partial = *rr.PartialRotaryFactor
		}
		if rr.Type != nil {
			rc.Type = *rr.Type
		}
		if rr.RopeType != nil {
			rc.Type = *rr.RopeType
		}
		if rr.Factor != nil {
			rc.Factor = *rr.Factor
		}
		switch rc.Type {
		case "default":
		case "linear":
			if !(rc.Factor > 0) {
				p.fail("%s.factor = %g, want > 0", field, rc.Factor)
			}
		case "llama3":
			if rr.Factor == nil || rr.LowFreqFactor == nil || rr.HighFreqFactor == nil || rr.OriginalMaxPositions == nil {
				p.fail("%s: rope_type llama3 needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings", field)
				return rc
			}
			rc.LowFreqFactor, rc.HighFreqFactor, rc.OriginalMaxPositions = *rr.LowFreqFactor, *rr.HighFreqFactor, *rr.OriginalMaxPositions
			if !(rc.Factor > 0) || !(rc.LowFreqFactor > 0) || !(rc.HighFreqFactor > rc.LowFreqFactor) || rc.OriginalMaxPositions <= 0 {
				p.fail("%s: llama3 wants factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0", field)
			}
		default:
			p.fail("%s: rope_type %q is not supported (want default, linear or llama3)", field, rc.Type)
		}
	}
	if !(rc.Theta > 1) || math.IsInf(rc.Theta, 0) {
		p.fail("rope_theta = %g, want > 1", rc.Theta)
	}
	return rc
}

// checkSizes guards against absurd sizes in a corrupt file before anything
// is allocated.
func checkSizes(name string, c Config) error {
	const maxElems = 1 << 34
	d := int64(c.NEmbd)
	if int64(c.VocabSize)*d > maxElems || int64(c.NLayer)*d*int64(c.NInner) > maxElems ||
		int64(c.NLayer)*d*int64(c.qDim()+2*c.kvDim()) > maxElems || int64(c.NPositions)*d > maxElems ||
		c.HeadDim > 1<<14 || c.NHead > 1<<14 {
		return configError(name, "model dimensions are implausibly large")
	}
	return nil
}
