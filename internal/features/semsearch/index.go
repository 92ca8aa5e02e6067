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

// blockRows caps the rows packed at once, so that loading needs one block
// of unpacked vectors beside the index, not a second copy of it.
const blockRows = 1 << 16

// Index holds one embedding model's unit-length explanation vectors in
// memory, packed for the kernel in blocks of one source each. It is
// immutable once loaded and safe for concurrent searches.
type Index struct {
	Model   string
	Dims    int
	Version features.EmbeddingsVersion
	blocks  []*block
	rows    int
}

// block is up to blockRows vectors of one source: column j of packed is the
// embedding of explanation ids[j].
type block struct {
	src    *features.EmbeddedSource
	ids    []string
	packed *kernel.Packed
}

// Len returns the number of vectors in the index.
func (ix *Index) Len() int { return ix.rows }

// Load reads model's dims-long embeddings from st into a new index.
func Load(ctx context.Context, st features.EmbeddingStore, model string, dims int) (*Index, error) {
	ix := &Index{Model: model, Dims: dims}
	var cur *features.EmbeddedSource
	var ids []string
	raw := make([]float32, 0, dims*256)
	flush := func() {
		if len(ids) == 0 {
			return
		}
		ix.blocks = append(ix.blocks, &block{src: cur, ids: ids, packed: kernel.PackTransposed(raw, dims, len(ids))})
		ix.rows += len(ids)
		ids, raw = nil, raw[:0]
	}
	ver, err := st.ScanExplanationEmbeddings(ctx, model, dims, func(src *features.EmbeddedSource, id string, vec []float32) error {
		if src != cur || len(ids) == blockRows {
			flush()
			cur = src
		}
		ids = append(ids, id)
		raw = appendUnit(raw, vec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	flush()
	ix.Version = ver
	return ix, nil
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
		total += len(b.ids)
		if k <= 0 {
			continue
		}
		if cap(scores) < len(b.ids) {
			scores = make([]float32, len(b.ids), blockRows)
		}
		scores = scores[:len(b.ids)]
		kernel.MatMul(scores, unit, 1, b.packed, nil)
		for j, c := range scores {
			top.offer(Scored{ExplanationID: b.ids[j], Cosine: c})
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
