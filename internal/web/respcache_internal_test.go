package web

import (
	"bytes"
	"testing"

	"saex/internal/features"
)

func TestResponseCacheVersionsAndBudget(t *testing.T) {
	c := newResponseCache(64 << 10)
	v1 := features.DataVersion{Horizon: 10, Pending: 2}
	v2 := features.DataVersion{Horizon: 10, Pending: 1} // a pending write completed
	v3 := features.DataVersion{Horizon: 11}
	k := func(i int) respKey { return respKey{kind: respAPIFeature, model: "m", source: "s", index: i} }
	body := bytes.Repeat([]byte{'x'}, 1000)

	c.put(k(1), v1, body)
	if c.get(k(1), v1) == nil {
		t.Fatal("miss at the version stored")
	}
	if c.get(k(1), v2) != nil {
		t.Fatal("hit at a newer version")
	}
	// The newer version emptied the cache; a body read at the old one is dropped.
	c.put(k(2), v1, body)
	if c.get(k(2), v2) != nil || c.get(k(2), v1) != nil || len(c.m) != 0 {
		t.Fatalf("a body read at an older version was kept: %d entries", len(c.m))
	}
	c.put(k(3), v2, body)
	if c.get(k(3), v2) == nil {
		t.Fatal("miss after a put at the current version")
	}
	// An older reader's lookup does not empty the cache.
	if c.get(k(3), v1) != nil || c.get(k(3), v2) == nil {
		t.Fatal("an older version's lookup changed the cache")
	}
	if !v3.After(v2) || !v2.After(v1) || v1.After(v2) || v2.After(v2) {
		t.Fatal("DataVersion.After")
	}

	// The budget holds: 200 puts of ~1.1 KB into 64 KiB.
	for i := range 200 {
		c.put(k(100+i), v2, body)
		if c.used > c.budget {
			t.Fatalf("after %d puts %d bytes used, budget %d", i+1, c.used, c.budget)
		}
	}
	var sum int64
	for kk, b := range c.m {
		sum += int64(len(b) + len(kk.model) + len(kk.source) + respEntryOverhead)
	}
	if sum != c.used || len(c.m) < 40 {
		t.Fatalf("accounting: %d entries, used %d, sum %d", len(c.m), c.used, sum)
	}
	// Bodies over a sixteenth of the budget are not kept.
	c.put(k(999), v2, make([]byte, 8<<10))
	if c.get(k(999), v2) != nil {
		t.Error("a giant body was kept")
	}
	if newResponseCache(0) != nil {
		t.Error("a zero budget should turn the cache off")
	}
}
