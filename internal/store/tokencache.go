package store

import (
	"encoding/binary"
	"math/bits"
)

// tokenCache is a small direct-mapped cache in front of a model's token
// dictionary, used while one batch of examples is encoded. The dictionary
// map of a large model (~256,000 texts) misses the CPU caches on nearly
// every lookup: ~100 ns a token, a seventh of an import's CPU. Tokens
// repeat a lot (Zipf), and nearly all are at most 16 bytes, so a slot holds
// the text's bytes inline: a hit costs a hash of two words and one compare,
// with no pointer to follow. Longer tokens bypass the cache.
//
// A slot stores the exact bytes and the length, so a hit is always the
// right id; a collision only evicts. Only ids found in the dictionary are
// cached (they never change once committed, see tokenDict).
type tokenCache struct {
	slots []tokenSlot
	shift uint // 64 - log2(len(slots)): the slot is the hash's top bits
}

type tokenSlot struct {
	lo, hi uint64 // the text's bytes, little endian, zero padded
	n      uint32 // len(text)+1; 0 marks an empty slot
	id     int32
}

// maxCachedToken is the longest text a slot holds.
const maxCachedToken = 16

// newTokenCache returns a cache with at least n slots (a power of two).
func newTokenCache(n int) *tokenCache {
	size, shift := 1024, uint(64-10)
	for size < n {
		size, shift = size*2, shift-1
	}
	return &tokenCache{slots: make([]tokenSlot, size), shift: shift}
}

// tokenWords packs a text of at most maxCachedToken bytes into two words.
func tokenWords(t string) (lo, hi uint64) {
	var b [maxCachedToken]byte
	copy(b[:], t)
	return binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
}

func (c *tokenCache) slot(lo, hi uint64, n int) *tokenSlot {
	// A product only carries bits upwards: fold the high half down before
	// the last multiply, then take the top bits.
	h := lo*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(hi*0xc2b2ae3d27d4eb4f, 31) ^ uint64(n)
	h ^= h >> 32
	h *= 0xbf58476d1ce4e5b9
	return &c.slots[h>>c.shift]
}

// get returns the cached id of t.
func (c *tokenCache) get(t string) (int32, bool) {
	if len(t) > maxCachedToken {
		return 0, false
	}
	lo, hi := tokenWords(t)
	s := c.slot(lo, hi, len(t))
	if s.n == uint32(len(t))+1 && s.lo == lo && s.hi == hi {
		return s.id, true
	}
	return 0, false
}

// put caches id as the id of t (replacing whatever shared its slot).
func (c *tokenCache) put(t string, id int32) {
	if len(t) > maxCachedToken {
		return
	}
	lo, hi := tokenWords(t)
	*c.slot(lo, hi, len(t)) = tokenSlot{lo: lo, hi: hi, n: uint32(len(t)) + 1, id: id}
}
