package store

import (
	"fmt"
	"strings"
	"testing"
)

// The cache must never answer a wrong id: texts that differ only in
// length, trailing zero bytes, or beyond the 8th byte, and texts colliding
// in a tiny cache, each keep their own id or miss.
func TestTokenCacheExact(t *testing.T) {
	texts := []string{"", "a", "a\x00", "\x00", "\x00\x00", "abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefghj",
		"abcdefghijklmnop", "abcdefghijklmnoq", "▁the", "▁the▁", strings.Repeat("x", 16), strings.Repeat("x", 17)}
	for i := range 2000 {
		texts = append(texts, fmt.Sprintf("t%d", i))
	}
	c := newTokenCache(1) // 1024 slots: many collisions
	for round := range 2 {
		for i, s := range texts {
			c.put(s, int32(i))
		}
		hits := 0
		for i, s := range texts {
			id, ok := c.get(s)
			if ok && id != int32(i) {
				t.Fatalf("round %d: get(%q) = %d, want %d", round, s, id, i)
			}
			if ok {
				hits++
			}
			if len(s) > maxCachedToken && ok {
				t.Fatalf("get(%q): a %d-byte text was cached", s, len(s))
			}
		}
		if hits == 0 {
			t.Fatal("no hits at all")
		}
	}
	// With room for all, every short text hits.
	c = newTokenCache(1 << 16)
	for i, s := range texts[:15] {
		c.put(s, int32(i))
	}
	for i, s := range texts[:14] {
		if id, ok := c.get(s); !ok || id != int32(i) {
			t.Errorf("get(%q) = %d, %v; want %d, true", s, id, ok, i)
		}
	}
	if _, ok := c.get("never put"); ok {
		t.Error("get of a text never put hit")
	}
}
