package sae

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig checks that no cfg.json makes the parser panic and that
// every accepted config is valid.
func FuzzParseConfig(f *testing.F) {
	paths, _ := filepath.Glob(root + "testdata/golden/sae-formats/*/cfg.json")
	more, _ := filepath.Glob(root + "demo/demo-gpt2-4l/saes/*/cfg.json")
	for _, p := range append(paths, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz/cfg.json", data)
		if err != nil {
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		if c.DIn <= 0 || c.DSAE <= 0 || (c.Architecture == TopK && (c.K <= 0 || c.K > c.DSAE)) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
