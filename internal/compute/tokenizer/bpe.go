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

	// chars is set for models whose symbols are characters rather than
	// byte-level bytes (SentencePiece-style BPE, e.g. Gemma); the fields
	// below it are used only then, except ignoreMerges.
	chars        bool
	vocab        map[string]int // the model's own vocabulary (no added tokens)
	unk          int32          // id of unk_token, -1 if none
	fuseUnk      bool
	byteFallback bool
	fallbackIDs  [256]int32 // id of "<0xNN>" for each byte, -1 if missing
	ignoreMerges bool       // a piece that is itself a vocabulary entry is one token

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

// merge splits s into its initial symbols and merges them.
func (m *bpe) merge(s string) []piece {
	if m.ignoreMerges {
		key := s
		if !m.chars {
			key = byteLevelEncode(s)
		}
		if id, ok := m.vocab[key]; ok {
			return []piece{{id: int32(id), start: 0, end: int32(len(s))}}
		}
	}
	if m.chars {
		return m.mergeSymbols(m.charSymbols(s))
	}
	syms := make([]piece, 0, len(s))
	for i := 0; i < len(s); i++ {
		if id := m.byteIDs[s[i]]; id >= 0 {
			syms = append(syms, piece{id: id, start: int32(i), end: int32(i + 1)})
		}
	}
	if len(syms) < len(s) {
		cumulative(syms)
	}
	return m.mergeSymbols(syms)
}

// cumulative re-places symbols end to end from 0, as Hugging Face's Word
// does (it keeps lengths, not positions): when a character was dropped or
// byte-fallback tokens went before a pending unknown, offsets follow
// Hugging Face's and stay in order.
func cumulative(syms []piece) {
	pos := int32(0)
	for i := range syms {
		n := syms[i].end - syms[i].start
		syms[i].start, syms[i].end = pos, pos+n
		pos += n
	}
}

// charSymbols returns the initial symbols of s for a character-level
// model, as Hugging Face's BPE builds them: each character's own token;
// else, with byte_fallback, one "<0xNN>" token per byte when all exist;
// else unk_token (consecutive unknowns fused into one with fuse_unk);
// else the character is dropped.
func (m *bpe) charSymbols(s string) []piece {
	syms := make([]piece, 0, len(s))
	unk := piece{id: -1}
	for i := 0; i < len(s); {
		_, w := runeAt(s, i)
		if id, ok := m.vocab[s[i:i+w]]; ok {
			if unk.id >= 0 {
				syms = append(syms, unk)
				unk.id = -1
			}
			syms = append(syms, piece{id: int32(id), start: int32(i), end: int32(i + w)})
			i += w
			continue
		}
		if m.byteFallback {
			all := true
			for k := i; k < i+w; k++ {
				all = all && m.fallbackIDs[s[k]] >= 0
			}
			if all {
				// An unknown run before it stays pending, as in Hugging
				// Face (it is flushed by the next known character).
				for k := i; k < i+w; k++ {
					syms = append(syms, piece{id: m.fallbackIDs[s[k]], start: int32(k), end: int32(k + 1)})
				}
				i += w
				continue
			}
		}
		if m.unk >= 0 {
			// Only lengths matter here: cumulative places the symbols.
			switch {
			case unk.id >= 0 && m.fuseUnk:
				unk.end += int32(w)
			case unk.id >= 0:
				syms = append(syms, unk)
				fallthrough
			default:
				unk = piece{id: m.unk, start: int32(i), end: int32(i + w)}
			}
		}
		i += w
	}
	if unk.id >= 0 {
		syms = append(syms, unk)
	}
	cumulative(syms)
	return syms
}

// mergeSymbols repeatedly applies the lowest-ranked applicable merge, the
// leftmost first among equal ranks, exactly as Hugging Face's BPE model
// does (a priority queue over (rank, position)), in O(n log n) so that a
// huge single piece cannot stall the server. Bytes whose single-byte
// token is missing from the vocabulary are dropped, as Hugging Face does
// for a BPE model without unk_token.
func (m *bpe) mergeSymbols(syms []piece) []piece {
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
