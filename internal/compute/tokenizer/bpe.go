package tokenizer

import (
	"container/heap"
	"sync"
)

// merge is one BPE merge rule: the pair it applies to has this rank
// (lower merges first) and produces token id result.
type merge struct {
	rank   int32
	result int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// piece is one token of an encoded pre-tokenizer piece: its id and the
// byte range it covers inside the piece.
type piece struct {
	id         int32
	start, end int32
}

// bpe holds the merge table and a cache of already-encoded pieces.
type bpe struct {
	byteIDs [256]int32 // id of each single byte's token, -1 if the vocab lacks it
	merges  map[uint64]merge

	mu    sync.RWMutex
	cache map[string][]piece
}

// maxCache bounds the piece cache; when full it is simply dropped, which
// is cheap and keeps memory flat on adversarial input.
const maxCache = 1 << 16

// maxCachedLen keeps very long pieces (a megabyte of one letter) out of
// the cache.
const maxCachedLen = 256

// encode runs byte-pair merging on one pre-tokenized piece.
func (m *bpe) encode(s string) []piece {
	if len(s) <= maxCachedLen {
		m.mu.RLock()
		ps, ok := m.cache[s]
		m.mu.RUnlock()
		if ok {
			return ps
		}
	}
	ps := m.merge(s)
	if len(s) <= maxCachedLen {
		m.mu.Lock()
		if len(m.cache) >= maxCache {
			m.cache = make(map[string][]piece)
		}
		m.cache[s] = ps
		m.mu.Unlock()
	}
	return ps
}

// candidate is a possible merge of the symbol at left with its right
// neighbour; it is stale once either symbol has changed.
type candidate struct {
	rank    int32
	left    int32 // index of the left symbol (also its original position)
	leftID  int32
	rightID int32
	result  int32
}

type candidates []candidate

func (h candidates) Len() int { return len(h) }
func (h candidates) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].left < h[j].left
}
func (h candidates) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *candidates) Push(x any)   { *h = append(*h, x.(candidate)) }
func (h *candidates) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge repeatedly applies the lowest-ranked applicable merge, the
// leftmost first among equal ranks, exactly as Hugging Face's BPE model
// does (a priority queue over (rank, position)), in O(n log n) so that a
// huge single piece cannot stall the server. Bytes whose single-byte
// token is missing from the vocabulary are dropped, as Hugging Face does
// for a BPE model without unk_token.
func (m *bpe) merge(s string) []piece {
	syms := make([]piece, 0, len(s))
	for i := 0; i < len(s); i++ {
		if id := m.byteIDs[s[i]]; id >= 0 {
			syms = append(syms, piece{id: id, start: int32(i), end: int32(i + 1)})
		}
	}
	if len(syms) < 2 {
		return syms
	}
	n := len(syms)
	prev := make([]int32, n)
	next := make([]int32, n)
	alive := make([]bool, n)
	var h candidates
	for i := range syms {
		prev[i], next[i], alive[i] = int32(i-1), int32(i+1), true
		if i+1 < n {
			if mg, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
				h = append(h, candidate{mg.rank, int32(i), syms[i].id, syms[i+1].id, mg.result})
			}
		}
	}
	next[n-1] = -1
	heap.Init(&h)
	push := func(l int32) {
		if l < 0 || next[l] < 0 {
			return
		}
		r := next[l]
		if mg, ok := m.merges[pairKey(syms[l].id, syms[r].id)]; ok {
			heap.Push(&h, candidate{mg.rank, l, syms[l].id, syms[r].id, mg.result})
		}
	}
	for h.Len() > 0 {
		c := heap.Pop(&h).(candidate)
		l := c.left
		if !alive[l] || syms[l].id != c.leftID || next[l] < 0 {
			continue
		}
		r := next[l]
		if syms[r].id != c.rightID {
			continue
		}
		// Merge r into l.
		syms[l].id = c.result
		syms[l].end = syms[r].end
		alive[r] = false
		next[l] = next[r]
		if next[r] >= 0 {
			prev[next[r]] = l
		}
		push(prev[l])
		push(l)
	}
	out := make([]piece, 0, n)
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}
