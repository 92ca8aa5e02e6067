package transformer

import (
	"path/filepath"
	"reflect"
	"testing"

	"saex/internal/compute/kernel"
)

// A BF16 checkpoint stays 16-bit in memory (packed matrices, embeddings
// read in place) and gives exactly what the same values stored as F32 give.
func TestHalfWeightsEqualFloat32(t *testing.T) {
	src := filepath.Join("testdata", "families", "qwen2-bias-bf16")
	m16, err := loadDir(src, func(Config) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if m16.layers[0].qkv.Elem() != kernel.BF16 || m16.layers[1].up.Elem() != kernel.BF16 || m16.wte.u16 == nil || m16.unembedW.u16 == nil {
		t.Fatalf("BF16 checkpoint not kept 16-bit: qkv %v, up %v, embeddings 16-bit %v, lm_head 16-bit %v",
			m16.layers[0].qkv.Elem(), m16.layers[1].up.Elem(), m16.wte.u16 != nil, m16.unembedW.u16 != nil)
	}
	dir := copyCase(t, "qwen2-bias-bf16")
	rewriteTensors(t, dir, "model.safetensors", func(map[string]rawTensor) {})
	m32 := mustLoad(t, dir)
	if m32.layers[0].qkv.Elem() != kernel.F32 || m32.wte.f32 == nil {
		t.Fatal("F32 checkpoint not float32")
	}
	ids := [][]int{{5, 9, 300, 7, 12, 511, 3}, {44}}
	hooks := []string{"blocks.0.attn.hook_z", "blocks.1.mlp.hook_post", "blocks.1.hook_resid_post", "logits"}
	if loaded := mustLoad(t, src); loaded.wte.u16 == nil || loaded.layers[0].qkv.Elem() != kernel.BF16 {
		t.Error("Load widened 16-bit weights")
	}
	a16, err := m16.Forward(ids, hooks)
	if err != nil {
		t.Fatal(err)
	}
	a32, err := m32.Forward(ids, hooks)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		for s := range ids {
			if !reflect.DeepEqual(a16.Get(h, s), a32.Get(h, s)) {
				t.Errorf("%s seq %d: 16-bit and float32 weights differ", h, s)
			}
		}
	}
	if !reflect.DeepEqual(m16.WUT(), m32.WUT()) {
		t.Error("WUT differs")
	}
}
