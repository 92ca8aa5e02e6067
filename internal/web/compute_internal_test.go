package web

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"saex/internal/features"
	"saex/internal/store/storetest"
)

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
	c := newSourceCache(time.Hour) // expiry: TestSourceCacheExpires
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
}

// widthCatalog is a catalog of one source whose width the test sets: the
// source cache's expiry is timing logic, tested on virtual time (synctest),
// which a PostgreSQL connection cannot join.
type widthCatalog struct {
	features.CatalogService // only GetSource is called
	width                   int
}

func (c *widthCatalog) GetSource(_ context.Context, modelID, sourceID string) (*features.Source, error) {
	return &features.Source{ID: sourceID, ModelID: modelID, NumFeatures: c.width}, nil
}

func TestSourceCacheExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cat := &widthCatalog{width: 7}
		c := newSourceCache(100 * time.Millisecond)
		width := func() int {
			t.Helper()
			s, err := c.get(t.Context(), cat, "m", "0-x", nil)
			if err != nil {
				t.Fatal(err)
			}
			return s.NumFeatures
		}
		width()
		cat.width = 9
		time.Sleep(99 * time.Millisecond)
		if w := width(); w != 7 {
			t.Errorf("within the TTL the cached width is reused, got %d", w)
		}
		time.Sleep(time.Millisecond)
		if w := width(); w != 9 {
			t.Errorf("at the TTL the width is reread, got %d", w)
		}
	})
}
