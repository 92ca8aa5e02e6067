package web

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

func TestComputePoolBoundsAndTimesOut(t *testing.T) {
	p := newComputePool(2)
	r1, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p.acquire(ctx); features.ErrorCode(err) != features.EUNAVAILABLE {
		t.Fatalf("third acquire on a full pool: %v, want EUNAVAILABLE", err)
	}
	if time.Since(start) < 15*time.Millisecond {
		t.Error("gave up before the deadline")
	}
	// A slot freed while waiting is taken.
	go func() { time.Sleep(10 * time.Millisecond); r1() }()
	r3, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2()
	r3()
	if len(p.slots) != 0 {
		t.Errorf("%d slots still held", len(p.slots))
	}
}

func TestPromptCacheEvictsOldest(t *testing.T) {
	c := newPromptCache(2)
	a, b, d := &features.PromptResult{ModelID: "a"}, &features.PromptResult{ModelID: "b"}, &features.PromptResult{ModelID: "d"}
	c.put("a", a)
	c.put("b", b)
	if got, ok := c.get("a"); !ok || got != a { // a is now the most recent
		t.Fatal("a not cached")
	}
	c.put("d", d)
	if _, ok := c.get("b"); ok {
		t.Error("b should have been evicted")
	}
	if _, ok := c.get("a"); !ok {
		t.Error("a evicted though recently used")
	}
	off := newPromptCache(0)
	off.put("x", a)
	if _, ok := off.get("x"); ok {
		t.Error("a zero-size cache cached")
	}
	if promptKey("m", []string{"1-a", "2-a"}, "t") == promptKey("m", []string{"1-a"}, "2-a\x00t") {
		t.Error("prompt keys collide")
	}
}

func TestContextualize(t *testing.T) {
	err := contextualize(features.Errorf(features.EUNPROCESSABLE, "prompt too long"), 256)
	if features.ErrorCode(err) != features.EUNPROCESSABLE || !strings.Contains(features.ErrorMessage(err), "256") {
		t.Errorf("422 without the limit: %v", err)
	}
	err = contextualize(features.Errorf(features.EUNPROCESSABLE, "the prompt is 300 tokens, more than the limit of 256"), 256)
	if strings.Count(features.ErrorMessage(err), "256") != 1 {
		t.Errorf("limit named twice: %v", err)
	}
	err = contextualize(context.DeadlineExceeded, 256)
	if features.ErrorCode(err) != features.EUNAVAILABLE || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	if err := contextualize(features.Errorf(features.ENOTFOUND, "x"), 256); features.ErrorCode(err) != features.ENOTFOUND {
		t.Errorf("not found changed: %v", err)
	}
}

func TestStatusOf(t *testing.T) {
	for code, want := range map[string]int{
		features.EINVALID: 400, features.EUNAUTHORIZED: 401, features.EFORBIDDEN: 403, features.ENOTFOUND: 404,
		features.ETOOLARGE: 413, features.EUNPROCESSABLE: 422, features.ERATELIMIT: 429,
		features.EUNAVAILABLE: 503, features.EINTERNAL: 500, "": 500, "weird": 500,
	} {
		if got := statusOf(code); got != want {
			t.Errorf("statusOf(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestSourceCache(t *testing.T) {
	db := storetest.NewDB(t)
	ctx := context.Background()
	c := newSourceCache(100 * time.Millisecond)
	if _, err := c.get(ctx, db, "m", "0-x", nil); features.ErrorCode(err) != features.ENOTFOUND {
		t.Fatalf("missing source: %v", err)
	}
	upsert := func(width int) {
		t.Helper()
		if err := db.UpsertModel(ctx, &features.Model{ID: "m", DisplayName: "m", Visibility: "PUBLIC"}); err != nil {
			t.Fatal(err)
		}
		if err := db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: "m", Name: "x", Visibility: "PUBLIC", URLs: []string{}}); err != nil {
			t.Fatal(err)
		}
		if err := db.UpsertSource(ctx, &features.Source{ID: "0-x", ModelID: "m", SetName: "x", Visibility: "PUBLIC", NumFeatures: width}); err != nil {
			t.Fatal(err)
		}
	}
	upsert(7)
	// A miss is not cached: the new source is found at once.
	if s, err := c.get(ctx, db, "m", "0-x", nil); err != nil || s.NumFeatures != 7 {
		t.Fatalf("new source: %v %v", s, err)
	}
	upsert(9)
	if s, _ := c.get(ctx, db, "m", "0-x", nil); s.NumFeatures != 7 {
		t.Errorf("within the TTL the cached width is reused, got %d", s.NumFeatures)
	}
	// At a data version, only an entry read at that version counts, however young.
	v, err := db.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := c.get(ctx, db, "m", "0-x", &v); s.NumFeatures != 9 {
		t.Errorf("at a new data version the width is reread, got %d", s.NumFeatures)
	}
	upsert(11)
	if s, _ := c.get(ctx, db, "m", "0-x", &v); s.NumFeatures != 9 {
		t.Errorf("at the same data version the entry read at it is reused, got %d", s.NumFeatures)
	}
	time.Sleep(120 * time.Millisecond)
	if s, _ := c.get(ctx, db, "m", "0-x", nil); s.NumFeatures != 11 {
		t.Errorf("after the TTL the width is reread, got %d", s.NumFeatures)
	}
}

// TestComputePoolYieldsToReads checks the pacing of prompts while reads
// are served: a slot stays taken after its prompt for about as long as the
// prompt ran, and is freed at once when no read is active.
func TestComputePoolYieldsToReads(t *testing.T) {
	p := newComputePool(1)
	var reads atomic.Bool
	reads.Store(true)
	p.yieldTo = reads.Load
	release, err := p.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the "prompt"
	release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.acquire(ctx); err == nil {
		t.Fatal("the slot was free right after a prompt while reads were active")
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	release, err = p.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("the slot stayed taken %v after a 200 ms prompt", waited)
	}
	reads.Store(false)
	release()
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.acquire(ctx); err != nil {
		t.Fatalf("with no reads active the slot was not freed at once: %v", err)
	}
}
