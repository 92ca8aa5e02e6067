package transformer

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig feeds config.json variants and hook names to the
// parsers: no panic, and whatever parses is self-consistent.
func FuzzParseConfig(f *testing.F) {
	dirs := []string{tinyDir, demoDir}
	for _, fam := range familyCases {
		dirs = append(dirs, filepath.Join("testdata", "families", fam))
	}
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "blocks.1.hook_resid_pre")
	}
	f.Add([]byte(`{"n_embd":8,"n_head":3}`), "blocks.-1.hook_resid_pre")
	f.Add([]byte(`{}`), "ln_final.hook_normalized")
	f.Add([]byte(`{"model_type":"llama","vocab_size":8,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"max_position_embeddings":4,"intermediate_size":4,"rope_parameters":{"rope_type":"linear","factor":2,"rope_theta":100}}`), "logits")
	f.Fuzz(func(t *testing.T, data []byte, hook string) {
		if c, err := ParseConfig("config.json", data); err == nil {
			if c.NEmbd <= 0 || c.NHead <= 0 || c.NKVHead <= 0 || c.NHead%c.NKVHead != 0 || c.HeadDim <= 0 ||
				c.NLayer <= 0 || c.VocabSize <= 0 || c.NPositions <= 0 || c.NInner <= 0 || c.NormEps < 0 ||
				(!c.LearnedPositions && (c.RotaryDim <= 0 || c.RotaryDim%2 != 0 || c.RotaryDim > c.HeadDim)) {
				t.Fatalf("accepted inconsistent config %+v", c)
			}
			if !c.LearnedPositions {
				for _, v := range invFreq(c.RotaryDim, c.Rope) {
					if !(v > 0) {
						t.Fatalf("config %+v: inverse frequency %g", c, v)
					}
				}
			}
		}
		if h, err := ParseHook(hook); err == nil {
			if h.String() != hook {
				t.Fatalf("ParseHook(%q).String() = %q", hook, h.String())
			}
		}
	})
}
