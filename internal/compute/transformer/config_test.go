package transformer

import (
	"math"
	"strings"
	"testing"
)

// Absent Gemma-2 fields take Gemma2Config's defaults, null ones are off;
// both config forms give the same rotary frequencies; a token id may be a
// list.
func TestConfigForms(t *testing.T) {
	base := `"model_type":"gemma2","vocab_size":8,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"max_position_embeddings":16,"intermediate_size":4`
	c, err := ParseConfig("config.json", []byte(`{`+base+`}`))
	if err != nil || c.AttnSoftcap != 50 || c.FinalSoftcap != 30 || c.SlidingWindow != 4096 || c.AttnScale != 1.0/16 || c.EmbedScale != float64(float32(math.Sqrt(8))) {
		t.Errorf("gemma2 defaults: %+v, %v", c, err)
	}
	c, err = ParseConfig("config.json", []byte(`{`+base+`,"attn_logit_softcapping":null,"final_logit_softcapping":null,"sliding_window":null}`))
	if err != nil || c.AttnSoftcap != 0 || c.FinalSoftcap != 0 || c.SlidingWindow != 0 {
		t.Errorf("gemma2 nulls: %+v, %v", c, err)
	}
	if _, err := ParseConfig("config.json", []byte(`{`+base+`,"sliding_window":2.5}`)); err == nil || !strings.Contains(err.Error(), "sliding_window") {
		t.Errorf("fractional window: %v", err)
	}
	llama := `"model_type":"llama","vocab_size":8,"hidden_size":16,"num_hidden_layers":1,"num_attention_heads":2,"max_position_embeddings":16,"intermediate_size":4`
	old, err1 := ParseConfig("config.json", []byte(`{`+llama+`,"rope_theta":500000,"rope_scaling":{"type":"linear","factor":2},"eos_token_id":[7,3]}`))
	v5, err2 := ParseConfig("config.json", []byte(`{`+llama+`,"rope_parameters":{"rope_type":"linear","factor":2,"rope_theta":500000}}`))
	if err1 != nil || err2 != nil || old.Rope != v5.Rope || old.Rope.Type != "linear" || old.Rope.Theta != 500000 || old.EOSTokenID != 7 {
		t.Errorf("config forms: %+v / %+v, %v %v", old.Rope, v5.Rope, err1, err2)
	}
	neox := `"model_type":"gpt_neox","vocab_size":8,"hidden_size":16,"num_hidden_layers":1,"num_attention_heads":2,"max_position_embeddings":16,"intermediate_size":4`
	c, err = ParseConfig("config.json", []byte(`{`+neox+`,"rope_parameters":{"rope_type":"default","rope_theta":100,"partial_rotary_factor":0.5}}`))
	if err != nil || c.RotaryDim != 4 || c.Rope.Theta != 100 || !c.ParallelResidual || c.Act != GeluErf {
		t.Errorf("neox rope_parameters: %+v, %v", c, err)
	}
	for fam, want := range map[string]bool{"llama": true, "qwen2": false, "qwen3": false, "gemma2": true, "gpt_neox": true} {
		body := strings.Replace(llama, `"model_type":"llama"`, `"model_type":"`+fam+`"`, 1)
		c, err := ParseConfig("config.json", []byte(`{`+body+`,"bos_token_id":1}`))
		if err != nil || c.DefaultPrependBOS != want {
			t.Errorf("%s: DefaultPrependBOS %v, %v", fam, c.DefaultPrependBOS, err)
		}
	}
}

// GPT-NeoX with attention_bias false has no q/k/v and dense biases.
func TestNeoXWithoutAttentionBias(t *testing.T) {
	dir := copyCase(t, "pythia-parallel")
	rewriteTensors(t, dir, "model.safetensors", func(ts map[string]rawTensor) {
		for n := range ts {
			if strings.HasSuffix(n, "query_key_value.bias") || strings.HasSuffix(n, "attention.dense.bias") {
				delete(ts, n)
			}
		}
	})
	m := mustLoad(t, dir)
	if m.layers[0].qkvB != nil || m.layers[1].oB != nil {
		t.Error("biases appeared")
	}
	if _, err := m.Forward([][]int{{3, 4, 5}}, []string{"logits"}); err != nil {
		t.Fatal(err)
	}
}
