package gpt2

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config is the part of a Hugging Face GPT-2 config.json the forward pass
// needs, with defaults and aliases resolved.
type Config struct {
	VocabSize  int // vocab_size
	NPositions int // n_positions (alias max_position_embeddings)
	NEmbd      int // n_embd (alias hidden_size), d_model
	NLayer     int // n_layer (alias num_hidden_layers)
	NHead      int // n_head (alias num_attention_heads)
	NInner     int // n_inner, 4*n_embd when null
	// LayerNormEpsilon is layer_norm_epsilon (default 1e-5).
	LayerNormEpsilon float64
	// ActivationFunction is gelu_new (also gelu_pytorch_tanh, gelu_fast:
	// the same tanh formula) or gelu (exact erf).
	ActivationFunction string
	// BOSTokenID is bos_token_id, or -1 when the config has none.
	BOSTokenID int
	// EOSTokenID is eos_token_id, or -1 when the config has none.
	EOSTokenID int
	// TieWordEmbeddings: logits use wte^T (default true, as for GPT-2).
	TieWordEmbeddings bool
	// ScaleAttnWeights divides scores by sqrt(d_head) (default true);
	// ScaleAttnByInverseLayerIdx further divides by layer index + 1.
	ScaleAttnWeights           bool
	ScaleAttnByInverseLayerIdx bool
}

// DHead is the per-head width n_embd / n_head.
func (c Config) DHead() int { return c.NEmbd / c.NHead }

type rawConfig struct {
	ModelType                  string   `json:"model_type"`
	VocabSize                  *int     `json:"vocab_size"`
	NPositions                 *int     `json:"n_positions"`
	MaxPositionEmbeddings      *int     `json:"max_position_embeddings"`
	NEmbd                      *int     `json:"n_embd"`
	HiddenSize                 *int     `json:"hidden_size"`
	NLayer                     *int     `json:"n_layer"`
	NumHiddenLayers            *int     `json:"num_hidden_layers"`
	NHead                      *int     `json:"n_head"`
	NumAttentionHeads          *int     `json:"num_attention_heads"`
	NInner                     *int     `json:"n_inner"`
	LayerNormEpsilon           *float64 `json:"layer_norm_epsilon"`
	ActivationFunction         *string  `json:"activation_function"`
	BOSTokenID                 *int     `json:"bos_token_id"`
	EOSTokenID                 *int     `json:"eos_token_id"`
	TieWordEmbeddings          *bool    `json:"tie_word_embeddings"`
	ScaleAttnWeights           *bool    `json:"scale_attn_weights"`
	ScaleAttnByInverseLayerIdx *bool    `json:"scale_attn_by_inverse_layer_idx"`
	AddCrossAttention          bool     `json:"add_cross_attention"`
}

// LoadConfig reads and validates a GPT-2 config.json.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and validates the contents of a GPT-2 config.json;
// name is used in error messages only.
func ParseConfig(name string, data []byte) (Config, error) {
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return Config{}, fmt.Errorf("gpt2: %s: %w", name, err)
	}
	if r.ModelType != "" && r.ModelType != "gpt2" {
		return Config{}, fmt.Errorf("gpt2: %s: model_type %q is not supported (want gpt2)", name, r.ModelType)
	}
	pick := func(field string, vals ...*int) (int, error) {
		for _, v := range vals {
			if v != nil {
				if *v <= 0 {
					return 0, fmt.Errorf("gpt2: %s: %s = %d, want > 0", name, field, *v)
				}
				return *v, nil
			}
		}
		return 0, fmt.Errorf("gpt2: %s: %s is missing", name, field)
	}
	var err error
	c := Config{LayerNormEpsilon: 1e-5, ActivationFunction: "gelu_new", BOSTokenID: -1, EOSTokenID: -1,
		TieWordEmbeddings: true, ScaleAttnWeights: true}
	if c.VocabSize, err = pick("vocab_size", r.VocabSize); err != nil {
		return Config{}, err
	}
	if c.NPositions, err = pick("n_positions", r.NPositions, r.MaxPositionEmbeddings); err != nil {
		return Config{}, err
	}
	if c.NEmbd, err = pick("n_embd", r.NEmbd, r.HiddenSize); err != nil {
		return Config{}, err
	}
	if c.NLayer, err = pick("n_layer", r.NLayer, r.NumHiddenLayers); err != nil {
		return Config{}, err
	}
	if c.NHead, err = pick("n_head", r.NHead, r.NumAttentionHeads); err != nil {
		return Config{}, err
	}
	c.NInner = 4 * c.NEmbd
	if r.NInner != nil {
		if c.NInner, err = pick("n_inner", r.NInner); err != nil {
			return Config{}, err
		}
	}
	if c.NEmbd%c.NHead != 0 {
		return Config{}, fmt.Errorf("gpt2: %s: n_embd %d is not a multiple of n_head %d", name, c.NEmbd, c.NHead)
	}
	if r.LayerNormEpsilon != nil {
		if *r.LayerNormEpsilon < 0 {
			return Config{}, fmt.Errorf("gpt2: %s: layer_norm_epsilon %g is negative", name, *r.LayerNormEpsilon)
		}
		c.LayerNormEpsilon = *r.LayerNormEpsilon
	}
	if r.ActivationFunction != nil {
		c.ActivationFunction = *r.ActivationFunction
	}
	switch c.ActivationFunction {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu":
	default:
		return Config{}, fmt.Errorf("gpt2: %s: activation_function %q is not supported (want gelu_new or gelu)", name, c.ActivationFunction)
	}
	if r.BOSTokenID != nil {
		c.BOSTokenID = *r.BOSTokenID
	}
	if r.EOSTokenID != nil {
		c.EOSTokenID = *r.EOSTokenID
	}
	if r.TieWordEmbeddings != nil {
		c.TieWordEmbeddings = *r.TieWordEmbeddings
	}
	if r.ScaleAttnWeights != nil {
		c.ScaleAttnWeights = *r.ScaleAttnWeights
	}
	if r.ScaleAttnByInverseLayerIdx != nil {
		c.ScaleAttnByInverseLayerIdx = *r.ScaleAttnByInverseLayerIdx
	}
	if r.AddCrossAttention {
		return Config{}, fmt.Errorf("gpt2: %s: add_cross_attention is not supported", name)
	}
	// Guard against absurd sizes in a corrupt file before allocating.
	const maxElems = 1 << 33
	if int64(c.VocabSize)*int64(c.NEmbd) > maxElems || int64(c.NLayer)*int64(c.NEmbd)*int64(c.NInner) > maxElems ||
		int64(c.NPositions)*int64(c.NEmbd) > maxElems {
		return Config{}, fmt.Errorf("gpt2: %s: model dimensions are implausibly large", name)
	}
	return c, nil
}
