package tensor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shardedDir writes a two-shard checkpoint (BF16 and F32 tensors) with its
// index into a new folder and returns the folder.
func shardedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), writeRaw(t, map[string]rawT{
		"embed.weight": {BF16, []int{2, 2}, halfBytes([]uint16{0x3f80, 0x4000, 0x4040, 0x4080})},
		"l0.weight":    {F32, []int{2}, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}},
	}, 0))
	writeFile(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), writeRaw(t, map[string]rawT{
		"l1.weight": {F16, []int{1, 2}, halfBytes([]uint16{0x3c00, 0xc000})},
	}, 0))
	writeFile(t, filepath.Join(dir, IndexFileName), []byte(`{"metadata": {"total_size": 20},
 "weight_map": {"embed.weight": "model-00001-of-00002.safetensors", "l0.weight": "model-00001-of-00002.safetensors",
  "l1.weight": "model-00002-of-00002.safetensors"}}`))
	return dir
}

func TestCheckpointSharded(t *testing.T) {
	dir := shardedDir(t)
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := strings.Join(c.Names(), ","); got != "embed.weight,l0.weight,l1.weight" {
		t.Errorf("Names = %s", got)
	}
	if len(c.Shards()) != 2 || c.Path() != filepath.Join(dir, IndexFileName) {
		t.Errorf("Shards = %v, Path = %s", c.Shards(), c.Path())
	}
	if info, ok := c.Info("l1.weight"); !ok || info.DType != F16 || !equalShape(info.Shape, []int{1, 2}) {
		t.Errorf("Info(l1.weight) = %+v %v", info, ok)
	}
	emb, dt, err := c.Uint16s("embed.weight", 2, 2)
	if err != nil || dt != BF16 || emb[3] != 0x4080 {
		t.Errorf("Uint16s(embed.weight) = %x %s %v", emb, dt, err)
	}
	row := make([]float32, 2)
	Widen(row, emb[2:4], dt)
	if row[0] != 3 || row[1] != 4 {
		t.Errorf("embedding row 1 = %v, want [3 4]", row)
	}
	if v, err := c.Float32("l1.weight"); err != nil || v[0] != 1 || v[1] != -2 {
		t.Errorf("Float32(l1.weight) = %v %v", v, err)
	}
	if v, err := c.Float32("l0.weight", 2); err != nil || v[1] != 2 {
		t.Errorf("Float32(l0.weight) = %v %v", v, err)
	}
	if err := c.Release("embed.weight"); err != nil {
		t.Error(err)
	}
	_, err = c.Float32("l9.weight")
	wantErr(t, "unknown tensor", err, IndexFileName, `"l9.weight"`, "any shard")
	_, err = c.Float32("l1.weight", 2, 1)
	wantErr(t, "wrong shape", err, "model-00002-of-00002.safetensors", `"l1.weight"`)
	c.Close()
	_, err = c.Float32("l1.weight")
	wantErr(t, "closed", err, "closed")
}

func TestCheckpointSingle(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, SingleFileName), writeRaw(t, map[string]rawT{
		"w": {BF16, []int{1}, halfBytes([]uint16{0x3f80})},
	}, 0))
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.Float32("w"); err != nil || v[0] != 1 || len(c.Shards()) != 1 {
		t.Errorf("Float32(w) = %v %v", v, err)
	}
	_, err = OpenCheckpoint(t.TempDir())
	wantErr(t, "empty folder", err, IndexFileName, SingleFileName)
}

// TestCheckpointMalformed: every broken index or shard fails on open with
// the file and the field or tensor named.
func TestCheckpointMalformed(t *testing.T) {
	cases := []struct {
		name  string
		index string           // replaces the index when non-empty
		edit  func(dir string) // breaks a shard
		want  []string         // substrings of the error
	}{
		{name: "not json", index: `{"weight_map": `, want: []string{IndexFileName, "JSON"}},
		{name: "array", index: `[]`, want: []string{IndexFileName, "JSON object"}},
		{name: "no weight_map", index: `{"metadata": {}}`, want: []string{"weight_map", "missing"}},
		{name: "weight_map not object", index: `{"weight_map": ["a"]}`, want: []string{"weight_map", "object"}},
		{name: "empty weight_map", index: `{"weight_map": {}}`, want: []string{"weight_map", "empty"}},
		{name: "shard not string", index: `{"weight_map": {"a": 3}}`, want: []string{"weight_map", `"a"`, "shard file name"}},
		{name: "shard escapes", index: `{"weight_map": {"a": "../x.safetensors"}}`, want: []string{`"a"`, "../x.safetensors", "folder"}},
		{name: "duplicate", index: `{"weight_map": {"a": "x", "a": "y"}}`, want: []string{`"a"`, "twice"}},
		{name: "metadata not object", index: `{"metadata": 3, "weight_map": {"a": "x"}}`, want: []string{"metadata"}},
		{name: "missing shard", index: `{"weight_map": {"l0.weight": "model-00001-of-00002.safetensors", "x": "gone.safetensors"}}`,
			want: []string{IndexFileName, "gone.safetensors", "missing"}},
		{name: "tensor not in shard", index: `{"weight_map": {"l0.weight": "model-00002-of-00002.safetensors"}}`,
			want: []string{IndexFileName, `"l0.weight"`, "model-00002-of-00002.safetensors", "no such tensor"}},
		{name: "truncated shard", edit: func(dir string) {
			p := filepath.Join(dir, "model-00001-of-00002.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-3], 0o644)
		}, want: []string{"model-00001-of-00002.safetensors", "l0.weight", "out of range"}},
		{name: "garbage shard", edit: func(dir string) {
			os.WriteFile(filepath.Join(dir, "model-00002-of-00002.safetensors"), []byte("abc"), 0o644)
		}, want: []string{"model-00002-of-00002.safetensors", "truncated"}},
	}
	for _, tc := range cases {
		dir := shardedDir(t)
		if tc.index != "" {
			writeFile(t, filepath.Join(dir, IndexFileName), []byte(tc.index))
		}
		if tc.edit != nil {
			tc.edit(dir)
		}
		c, err := OpenCheckpoint(dir)
		if err == nil {
			c.Close()
		}
		wantErr(t, tc.name, err, tc.want...)
	}
}

func wantErr(t *testing.T, what string, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: error %q does not mention %q", what, err, s)
		}
	}
}
