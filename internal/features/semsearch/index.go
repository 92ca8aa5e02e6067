// Package semsearch ranks explanations by the cosine similarity of their
// embeddings to a query's: in memory with saex's GEMV kernel by default, or
// in PostgreSQL with pgvector when the server has it, chosen at start-up.
package semsearch

import (
	"context"
	"math"
	"slices"
	"strings"

	"saex/internal/compute/kernel"
	"saex/internal/features"
)

// blockRows caps the rows of one block, and pendingBytes the unpacked
// vectors a load holds while it groups rows by source, so that loading
// needs little beside the index itself whatever order the rows come in.
const (
	blockRows    = 1 << 16
	pendingBytes = 256 << 20
)

// Index holds one embedding model's unit-length explanation vectors in
// memory, packed for the kernel in blocks of one source each. A loaded
// Index is never changed: Update returns a new one sharing its blocks, so
// searches on the old one may run on.
type Index struct {
	Model   string
	Dims    int
	Version features.EmbeddingsVersion // of the store when last read
	blocks  []*block
	live    int   // rows not dead
	dead    int   // rows replaced or dropped since the last full load
	seqSum  int64 // of live rows
	maxSeq  int64
	// pos finds a row by explanation ID; built by the first Update and
	// shared with (and changed for) the indexes Update derives.
	pos map[string]rowRef
}

// rowRef is where a row lives: block and column.
type rowRef struct{ block, col int32 }

// block is up to blockRows vectors of one source: column j of packed is the
// embedding of explanation ids[j], stored with seq seqs[j]. dead marks the
// columns replaced since (nil when none).
type block struct {
	src    *features.EmbeddedSource
	ids    []string
	seqs   []int64
	packed *kernel.Packed
	dead   []bool
	nDead  int
}

// Len returns the number of live vectors in the index.
func (ix *Index) Len() int { return ix.live }

// consistent reports whether the index holds exactly the rows of the
// store version it last read (a writer that committed out of seq order,
// or a deletion, leaves it short).
func (ix *Index) consistent() bool {
	return int64(ix.live) == ix.Version.Count && ix.seqSum == ix.Version.SeqSum
}

// fragmented reports whether so much was replaced, or added in small
// blocks (each update adds at least one per source it touches; a GEMV call
// costs a few microseconds however small), that a full load is due.
func (ix *Index) fragmented() bool {
	return ix.dead*4 > ix.live || len(ix.blocks) > 2*(ix.live/blockRows)+1024
}

// pending is a source's rows not yet packed.
type pending struct {
	ids  []string
	seqs []int64
	raw  []float32
}

// builder groups scanned rows by source into packed blocks.
type builder struct {
	ix   *Index
	open map[*features.EmbeddedSource]*pending
	held int // bytes of unpacked vectors in open
}

func (b *builder) flush(src *features.EmbeddedSource) {
	p := b.open[src]
	ix := b.ix
	bl := &block{src: src, ids: p.ids, seqs: p.seqs, packed: kernel.PackTransposed(p.raw, ix.Dims, len(p.ids))}
	if ix.pos != nil {
		for j, id := range p.ids {
			ix.pos[id] = rowRef{int32(len(ix.blocks)), int32(j)}
		}
	}
	ix.blocks = append(ix.blocks, bl)
	for _, q := range p.seqs {
		ix.seqSum += q
		ix.maxSeq = max(ix.maxSeq, q)
	}
	ix.live += len(p.ids)
	b.held -= 4 * len(p.raw)
	delete(b.open, src)
}

func (b *builder) add(src *features.EmbeddedSource, id string, seq int64, vec []float32) {
	p := b.open[src]
	if p == nil {
		p = &pending{}
		b.open[src] = p
	}
	p.ids = append(p.ids, id)
	p.seqs = append(p.seqs, seq)
	p.raw = appendUnit(p.raw, vec)
	b.held += 4 * len(vec)
	if len(p.ids) == blockRows {
		b.flush(src)
	}
	for b.held > pendingBytes { // rows of many sources interleaved: pack the biggest
		var big *features.EmbeddedSource
		for s, q := range b.open {
			if big == nil || len(q.ids) > len(b.open[big].ids) {
				big = s
			}
		}
		b.flush(big)
	}
}

func (b *builder) finish() {
	for src := range b.open {
		b.flush(src)
	}
}

// Load reads model's dims-long embeddings from st into a new index.
func Load(ctx context.Context, st features.EmbeddingStore, model string, dims int) (*Index, error) {
	ix := &Index{Model: model, Dims: dims}
	b := &builder{ix: ix, open: map[*features.EmbeddedSource]*pending{}}
	ver, err := st.ScanExplanationEmbeddings(ctx, model, dims, 0, func(src *features.EmbeddedSource, id string, seq int64, vec []float32) error {
		b.add(src, id, seq, vec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.finish()
	ix.Version = ver
	return ix, nil
}

// Update reads the rows written since ix was read (seq above the highest
// it holds) and returns a new index with them: a replaced row is marked
// dead in its old block and added anew. ix stays valid for searches
// running on it but must not be updated again (its position map now
// belongs to the new index). The result may be inconsistent (see
// consistent); then a full Load is due.
func (ix *Index) Update(ctx context.Context, st features.EmbeddingStore) (*Index, error) {
	if ix.pos == nil {
		ix.pos = make(map[string]rowRef, ix.live)
		for bi, bl := range ix.blocks {
			for j, id := range bl.ids {
				if bl.dead == nil || !bl.dead[j] {
					ix.pos[id] = rowRef{int32(bi), int32(j)}
				}
			}
		}
	}
	nx := *ix
	nx.blocks = slices.Clone(ix.blocks)
	cloned := map[int32]bool{}
	b := &builder{ix: &nx, open: map[*features.EmbeddedSource]*pending{}}
	ver, err := st.ScanExplanationEmbeddings(ctx, ix.Model, ix.Dims, ix.maxSeq, func(src *features.EmbeddedSource, id string, seq int64, vec []float32) error {
		if ref, ok := nx.pos[id]; ok {
			bl := nx.blocks[ref.block]
			if !cloned[ref.block] {
				c := *bl
				c.dead = make([]bool, len(bl.ids))
				copy(c.dead, bl.dead)
				bl, nx.blocks[ref.block], cloned[ref.block] = &c, &c, true
			}
			if !bl.dead[ref.col] {
				bl.dead[ref.col] = true
				bl.nDead++
				nx.live--
				nx.dead++
				nx.seqSum -= bl.seqs[ref.col]
			}
			delete(nx.pos, id)
		}
		b.add(src, id, seq, vec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.finish()
	nx.Version = ver
	return &nx, nil
}

// appendUnit appends v scaled to unit length (a zero vector stays zero and
// so is similar to nothing).
func appendUnit(dst, v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	scale := float32(0)
	if ss > 0 {
		scale = float32(1 / math.Sqrt(ss))
	}
	for _, x := range v {
		dst = append(dst, x*scale)
	}
	return dst
}

// Scored is one explanation and its cosine similarity to the query.
type Scored struct {
	ExplanationID string
	Cosine        float32
}

// better orders hits: higher similarity first, then explanation ID.
func better(a, b Scored) bool {
	return a.Cosine > b.Cosine || a.Cosine == b.Cosine && a.ExplanationID < b.ExplanationID
}

// Search returns hits [offset, offset+limit) of the explanations passing
// q's filters, best first, and how many passed. query must have ix.Dims
// values; it is scaled to unit length, so a hit's score is its cosine
// similarity. One GEMV per block passing the filters: a pass over those
// vectors at memory speed.
func (ix *Index) Search(q features.ExplanationQuery, query []float32) ([]Scored, int) {
	unit := appendUnit(make([]float32, 0, len(query)), query)
	k := q.Offset + q.Limit
	if k < q.Offset {
		k = math.MaxInt
	}
	top := topK{k: k}
	total := 0
	var scores []float32
	for _, b := range ix.blocks {
		if !b.src.Matches(q) {
			continue
		}
		total += len(b.ids) - b.nDead
		if k <= 0 {
			continue
		}
		if cap(scores) < len(b.ids) {
			scores = make([]float32, len(b.ids), blockRows)
		}
		scores = scores[:len(b.ids)]
		kernel.MatMul(scores, unit, 1, b.packed, nil)
		for j, c := range scores {
			if b.dead == nil || !b.dead[j] {
				top.offer(Scored{ExplanationID: b.ids[j], Cosine: c})
			}
		}
	}
	hits := top.sorted()
	if q.Offset >= len(hits) {
		return nil, total
	}
	return hits[q.Offset:], total
}

// topK keeps the k best hits offered, in a min-heap whose root is the worst
// kept, so that most offers cost one comparison.
type topK struct {
	k int
	h []Scored
}

func (t *topK) offer(s Scored) {
	if len(t.h) < t.k {
		t.h = append(t.h, s)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !better(t.h[p], t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if t.k == 0 || !better(s, t.h[0]) {
		return
	}
	t.h[0] = s
	for i := 0; ; {
		w, l, r := i, 2*i+1, 2*i+2
		if l < len(t.h) && better(t.h[w], t.h[l]) {
			w = l
		}
		if r < len(t.h) && better(t.h[w], t.h[r]) {
			w = r
		}
		if w == i {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

func (t *topK) sorted() []Scored {
	slices.SortFunc(t.h, func(a, b Scored) int {
		switch {
		case better(a, b):
			return -1
		case better(b, a):
			return 1
		}
		return strings.Compare(a.ExplanationID, b.ExplanationID)
	})
	return t.h
}
