package sae

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig checks that no cfg.json makes the parser panic and that
// every accepted config is valid.
func FuzzParseConfig(f *testing.F) {
	paths, _ := filepath.Glob(root + "testdata/golden/sae-formats/*/cfg.json")
	more, _ := filepath.Glob(root + "demo/demo-gpt2-4l/saes/*/cfg.json")
	gemma, _ := filepath.Glob("testdata/formats/gemma-scope-saelens-*/cfg.json")
	for _, p := range append(append(paths, more...), gemma...) {
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

// FuzzParseReleasedConfig feeds the same bytes to the Llama Scope
// hyperparams.json and EleutherAI cfg.json parsers: neither may panic, and
// an accepted config must be valid and carry what encode relies on.
func FuzzParseReleasedConfig(f *testing.F) {
	for _, pat := range []string{"testdata/formats/*/*/hyperparams.json", "testdata/formats/*/*/cfg.json"} {
		paths, _ := filepath.Glob(pat)
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, theta, err := parseLlamaScope("fuzz/hyperparams.json", data); err == nil {
			if err := c.validate(); err != nil {
				t.Fatalf("llama scope: accepted an invalid config: %v", err)
			}
			if c.Architecture != JumpReLU || !(c.InputScale > 0) || c.HookName == "" || math.IsNaN(theta) {
				t.Fatalf("llama scope: accepted %+v (threshold %v)", c, theta)
			}
		}
		if c, err := parseEleuther("fuzz/cfg.json", "layers.3", data); err == nil {
			if err := c.validate(); err != nil {
				t.Fatalf("eleuther: accepted an invalid config: %v", err)
			}
			if c.Architecture != TopK || c.K <= 0 || c.K > c.DSAE || !c.ApplyBDecToInput || c.HookName != "blocks.3.hook_resid_post" {
				t.Fatalf("eleuther: accepted %+v", c)
			}
		}
	})
}
