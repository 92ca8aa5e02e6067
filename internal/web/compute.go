package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"saex/internal/features"
)

// admitReads bounds page and API reads (GET, HEAD) by sched (the other
// methods pass straight through: the pages' form posts run the model under
// its compute slots). A request whose deadline passes while it waits gets
// busy's answer (a 503). A nil sched admits every read.
func admitReads(sched features.Scheduler, busy func(w http.ResponseWriter, r *http.Request, err error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if sched == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				next.ServeHTTP(w, r)
				return
			}
			release, err := sched.AdmitRead(r.Context())
			if err != nil {
				busy(w, r, err)
				return
			}
			defer release()
			next.ServeHTTP(w, r)
		})
	}
}

// contextualize turns engine errors into user-facing ones: deadlines become
// EUNAVAILABLE and a too-long prompt names the model's limit.
func contextualize(err error, maxTokens int) error {
	code := features.ErrorCode(err)
	switch {
	case code == features.EUNPROCESSABLE && maxTokens > 0:
		msg := features.ErrorMessage(err)
		if !strings.Contains(msg, strconv.Itoa(maxTokens)) {
			msg += " (the model accepts at most " + strconv.Itoa(maxTokens) + " tokens, BOS included)"
		}
		return features.Wrap(features.EUNPROCESSABLE, err, "%s", msg)
	case code == features.EINTERNAL && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
		return features.Wrap(features.EUNAVAILABLE, err, "the prompt did not finish in time: try again shortly")
	}
	return err
}

// sourceCache keeps catalog sources for a few seconds: the feature page and
// the compute routes read a source on every request only for its width,
// which changes only when a source is created or rebuilt.
type sourceCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]sourceEntry
}

type sourceEntry struct {
	src     *features.Source
	expires time.Time
	ver     *features.DataVersion // the version it was read at, when known
}

func newSourceCache(ttl time.Duration) *sourceCache {
	return &sourceCache{ttl: ttl, m: make(map[string]sourceEntry)}
}

// get returns the source from the cache or the catalog; only found sources
// are cached, so a source created a moment ago is never reported missing.
// With ver (the data version read before), an entry counts only if it was
// read at that same version, whatever its age: a page kept in the response
// cache must not show a source older than the version it is kept under.
func (c *sourceCache) get(ctx context.Context, cat features.CatalogService, modelID, sourceID string, ver *features.DataVersion) (*features.Source, error) {
	key := modelID + "\x00" + sourceID
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ver != nil {
		if ok && e.ver != nil && *e.ver == *ver {
			return e.src, nil
		}
	} else if ok && now.Before(e.expires) {
		return e.src, nil
	}
	src, err := cat.GetSource(ctx, modelID, sourceID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 4096 { // bounded: many sources means a big instance, not a leak
		clear(c.m)
	}
	e = sourceEntry{src: src, expires: now.Add(c.ttl)}
	if ver != nil {
		v := *ver
		e.ver = &v
	}
	c.m[key] = e
	c.mu.Unlock()
	return src, nil
}
