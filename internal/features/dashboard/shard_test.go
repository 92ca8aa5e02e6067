package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// memPartials keeps a distributed build's partials in memory, as the
// jobs package keeps them in PostgreSQL.
type memPartials struct {
	contexts map[int][]byte
	codes    map[string][][]byte // "source/shard"
}

func (m *memPartials) Contexts(_ context.Context, s int) ([]byte, error) {
	c, ok := m.contexts[s]
	if !ok {
		return nil, fmt.Errorf("no contexts for shard %d", s)
	}
	return c, nil
}

func (m *memPartials) Codes(_ context.Context, source string, s int) ([][]byte, error) {
	c, ok := m.codes[fmt.Sprintf("%s/%d", source, s)]
	if !ok {
		return nil, fmt.Errorf("no codes for %s shard %d", source, s)
	}
	return c, nil
}

// TestShardMergeMatchesBuild computes the shards of a build in a random
// order, merges the sources in a random order, and checks every written
// feature equals Build's.
func TestShardMergeMatchesBuild(t *testing.T) {
	d := loadDemo(t)
	ctx := context.Background()
	opts := func() Options {
		return Options{ModelID: "demo-gpt2-4l", Model: d.model, Tokenizer: d.tok, ModelDir: demoDir + "/model",
			Sources: d.sources, Corpus: demoCorpus, MaxContexts: 60, ChunkContexts: 8, BatchFeatures: 1024,
			WorkDir: t.TempDir(), Writer: newMemWriter(), Dataset: "demo corpus (eval split)"}
	}
	ref := opts()
	if _, err := Build(ctx, ref); err != nil {
		t.Fatal(err)
	}

	o := opts()
	p, err := Prepare(ctx, o, 3) // 8 chunks: shards of 3, 3 and 2 chunks
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.UpToDate || p.Plan.Contexts != 60 || p.Plan.Shards() != 3 {
		t.Fatalf("plan %+v (up to date %v): want 60 contexts in 3 shards", p.Plan, p.UpToDate)
	}
	seed := uint64(rand.Int64())
	t.Logf("order seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	parts := &memPartials{contexts: map[int][]byte{}, codes: map[string][][]byte{}}
	for _, s := range rng.Perm(p.Plan.Shards()) {
		cs, err := p.ShardContexts(s)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := ComputeShard(ctx, o, p.Plan, s, cs)
		if err != nil {
			t.Fatal(err)
		}
		parts.contexts[s] = cs
		for si, src := range o.Sources {
			var per [][]byte
			for _, c := range sp.Codes {
				per = append(per, c[si])
			}
			parts.codes[fmt.Sprintf("%s/%d", src.ID, s)] = per
		}
	}
	for _, si := range rng.Perm(len(o.Sources)) {
		res, _, err := Merge(ctx, o, p.Plan, o.Sources[si].ID, parts)
		if err != nil {
			t.Fatal(err)
		}
		if res.Hash == "" || res.Contexts != 60 {
			t.Errorf("merge of %s: %+v", o.Sources[si].ID, res)
		}
	}
	want, got := ref.Writer.(*memWriter), o.Writer.(*memWriter)
	if !reflect.DeepEqual(want.cps, got.cps) {
		t.Errorf("checkpoints differ: %d from Build, %d from the merges", len(want.cps), len(got.cps))
	}
	for _, src := range o.Sources {
		if len(got.feats[src.ID]) != 4096 {
			t.Fatalf("%s: %d features merged", src.ID, len(got.feats[src.ID]))
		}
		diffs := 0
		for f := range 4096 {
			if !reflect.DeepEqual(want.feats[src.ID][f], got.feats[src.ID][f]) {
				if diffs < 2 {
					t.Errorf("%s feature %d differs from Build's", src.ID, f)
				}
				diffs++
			}
		}
		if diffs > 0 {
			t.Errorf("%s: %d features differ", src.ID, diffs)
		}
	}
	// A merge finds its batches written and does nothing more.
	res, _, err := Merge(ctx, o, p.Plan, o.Sources[0].ID, parts)
	if err != nil || !res.UpToDate {
		t.Errorf("second merge: %+v, %v", res, err)
	}
}

// TestShardBadInput checks that damaged stored partials give errors
// naming what is wrong, never a panic.
func TestShardBadInput(t *testing.T) {
	d := loadDemo(t)
	ctx := context.Background()
	o := Options{ModelID: "demo-gpt2-4l", Model: d.model, Tokenizer: d.tok, ModelDir: demoDir + "/model",
		Sources: d.sources[:1], Corpus: demoCorpus, MaxContexts: 16, ChunkContexts: 8,
		WorkDir: t.TempDir(), Writer: newMemWriter()}
	p, err := Prepare(ctx, o, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	good, err := p.ShardContexts(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)-3], "truncated"},
		{"one short", good[:4+4*128], "stored, want 8"},
		{"bad id", append(EncodeContexts([][]int32{{0, 1 << 30}}), good[4+4*128:]...), "outside the vocabulary"},
		{"long", EncodeContexts([][]int32{make([]int32, 200)}), "length 200"},
	} {
		_, err := ComputeShard(ctx, o, p.Plan, 0, c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	if _, err := ComputeShard(ctx, o, p.Plan, 5, good); err == nil || !strings.Contains(err.Error(), "shard 5 outside") {
		t.Errorf("shard out of range: %v", err)
	}
	parts := &memPartials{contexts: map[int][]byte{0: good}, codes: map[string][][]byte{
		o.Sources[0].ID + "/0": {{1, 2, 3}}}}
	p2 := p.Plan
	p2.Contexts = 8
	if _, _, err := Merge(ctx, o, p2, o.Sources[0].ID, parts); err == nil || !strings.Contains(err.Error(), "short section") {
		t.Errorf("damaged codes: %v", err)
	}
	if _, _, err := Merge(ctx, o, p2, "no-such-source", parts); err == nil || !strings.Contains(err.Error(), "no-such-source") {
		t.Errorf("unknown source: %v", err)
	}
}

// FuzzDecodeContexts feeds arbitrary bytes to the decoder of stored
// contexts: an error or contexts that re-encode to the input, never a
// panic.
func FuzzDecodeContexts(f *testing.F) {
	f.Add(EncodeContexts([][]int32{{0, 1, 2}, {0, 5}}), 2)
	f.Add(EncodeContexts([][]int32{{0}}), 1)
	f.Add([]byte{1, 0, 0}, 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, data []byte, want int) {
		cs, err := DecodeContexts(data, want, 8, 100)
		if err != nil {
			return
		}
		if len(cs) != want || !bytes.Equal(EncodeContexts(cs), data) {
			t.Fatalf("decoded %d contexts that do not re-encode to the input", len(cs))
		}
	})
}
