package dashboard

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSpillRoundTrip(t *testing.T) {
	a := &codes{off: []int32{0, 2, 2, 3}, idx: []int32{7, 65535, 3}, val: []float32{1.5, 0.25, 3}}
	b := &codes{off: []int32{0, 0, 1, 1}, idx: []int32{70000}, val: []float32{2}}
	for _, width := range []int{2, 4} {
		cs := []*codes{a, b}
		if width == 2 {
			cs = []*codes{a, {off: []int32{0, 0, 0, 0}}}
		}
		path := filepath.Join(t.TempDir(), "chunk.bin")
		var scratch []byte
		if err := writeChunk(path, chunkHeader{chunk: 3, first: 12, contexts: 1, tokens: 3, idxWidth: width}, cs, &scratch); err != nil {
			t.Fatal(err)
		}
		got := []*codes{{}, {}}
		h, err := readChunk(path, 2, nil, got, &scratch)
		if err != nil {
			t.Fatal(err)
		}
		if h.chunk != 3 || h.first != 12 || h.contexts != 1 || h.tokens != 3 {
			t.Errorf("header %+v", h)
		}
		for i := range cs {
			if !reflect.DeepEqual(got[i].off, cs[i].off) || len(got[i].idx) != len(cs[i].idx) ||
				(len(cs[i].idx) > 0 && (!reflect.DeepEqual(got[i].idx, cs[i].idx) || !reflect.DeepEqual(got[i].val, cs[i].val))) {
				t.Errorf("width %d, SAE %d: %+v, want %+v", width, i, got[i], cs[i])
			}
		}
		// Damage: a flipped byte, a truncation, a wrong SAE count.
		data, _ := os.ReadFile(path)
		flipped := append([]byte(nil), data...)
		flipped[len(flipped)-1] ^= 1
		os.WriteFile(path, flipped, 0o644)
		if _, err := readChunk(path, 2, nil, got, &scratch); err == nil || !strings.Contains(err.Error(), "checksum") {
			t.Errorf("flipped byte: %v", err)
		}
		os.WriteFile(path, data[:len(data)-3], 0o644)
		if _, err := readChunk(path, 2, nil, got, &scratch); err == nil {
			t.Error("truncated chunk accepted")
		}
		os.WriteFile(path, data, 0o644)
		if _, err := readChunk(path, 3, nil, []*codes{{}, {}, {}}, &scratch); err == nil {
			t.Error("wrong SAE count accepted")
		}
		os.WriteFile(path, []byte("short"), 0o644)
		if _, err := readChunk(path, 2, nil, got, &scratch); err == nil {
			t.Error("garbage accepted")
		}
	}
}

// TestDamagedSpillIsRecomputed: a spill chunk damaged between runs is
// recomputed, and the result equals a clean build's.
func TestDamagedSpillIsRecomputed(t *testing.T) {
	d := loadDemo(t)
	work := t.TempDir()
	opts := func(w *memWriter) Options {
		return Options{ModelID: "demo-gpt2-4l", Model: d.model, Tokenizer: d.tok, ModelDir: demoDir + "/model",
			Sources: d.sources[2:], Corpus: demoCorpus, MaxContexts: 12, ChunkContexts: 4, WorkDir: work, Writer: w}
	}
	// A first build keeps its spill, as an interrupted one would.
	o := opts(newMemWriter())
	o.KeepSpill = true
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	chunks, _ := filepath.Glob(filepath.Join(work, "demo-gpt2-4l", "*", "chunk-000001.bin"))
	if len(chunks) != 1 {
		t.Fatalf("spill chunk 1: %v", chunks)
	}
	data, _ := os.ReadFile(chunks[0])
	data[len(data)/2] ^= 0xFF
	os.WriteFile(chunks[0], data, 0o644)

	// A fresh writer has no checkpoints, so the rerun goes through the spill.
	w := newMemWriter()
	res, err := Build(context.Background(), opts(w))
	if err != nil {
		t.Fatal(err)
	}
	if res.Timing.ChunksComputed != 1 || res.Timing.ChunksFromSpill != 2 {
		t.Errorf("rerun: %d computed, %d from the spill; want 1 and 2", res.Timing.ChunksComputed, res.Timing.ChunksFromSpill)
	}
	clean := newMemWriter()
	o = opts(clean)
	o.WorkDir = t.TempDir()
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	src := d.sources[2].ID
	for f := 0; f < 4096; f++ {
		if !reflect.DeepEqual(w.feats[src][f], clean.feats[src][f]) {
			t.Fatalf("feature %d differs after recomputing a damaged chunk", f)
		}
	}
}
