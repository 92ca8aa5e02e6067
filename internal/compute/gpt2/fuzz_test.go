package gpt2

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig feeds config.json variants and hook names to the
// parsers: no panic, and whatever parses is self-consistent.
func FuzzParseConfig(f *testing.F) {
	for _, dir := range []string{tinyDir, demoDir} {
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "blocks.1.hook_resid_pre")
	}
	f.Add([]byte(`{"n_embd":8,"n_head":3}`), "blocks.-1.hook_resid_pre")
	f.Add([]byte(`{}`), "ln_final.hook_normalized")
	f.Fuzz(func(t *testing.T, data []byte, hook string) {
		if c, err := ParseConfig("config.json", data); err == nil {
			if c.NEmbd <= 0 || c.NHead <= 0 || c.NEmbd%c.NHead != 0 || c.NLayer <= 0 || c.VocabSize <= 0 ||
				c.NPositions <= 0 || c.NInner <= 0 || c.LayerNormEpsilon < 0 {
				t.Fatalf("accepted inconsistent config %+v", c)
			}
		}
		if h, err := ParseHook(hook); err == nil {
			if h.String() != hook {
				t.Fatalf("ParseHook(%q).String() = %q", hook, h.String())
			}
		}
	})
}
