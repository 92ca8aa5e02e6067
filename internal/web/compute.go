package web

import (
	"container/list"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"saex/internal/features"
)

// computePool bounds how many prompts run at once. Prompts are CPU-bound
// and the machine is small: letting every request run would starve page
// views, so extra requests wait for a slot until their deadline.
type computePool struct {
	slots chan struct{}
	// yieldTo, when set and true at the end of a prompt, keeps its slot
	// taken for as long again as the prompt ran (after the response has
	// gone): while pages and API reads are being served, prompts get at
	// most half of the machine per slot.
	yieldTo func() bool
}

func newComputePool(n int) *computePool {
	return &computePool{slots: make(chan struct{}, n)}
}

// running reports whether any prompt holds a slot.
func (p *computePool) running() bool { return len(p.slots) > 0 }

// computeRunning reports whether the model is running for any request.
func (s *Server) computeRunning() bool { return s.compute != nil && s.compute.running() }

// acquire waits for a slot; it returns EUNAVAILABLE when ctx ends first.
func (p *computePool) acquire(ctx context.Context) (release func(), err error) {
	select {
	case p.slots <- struct{}{}:
		return p.releaser(time.Now()), nil
	default:
	}
	select {
	case p.slots <- struct{}{}:
		return p.releaser(time.Now()), nil
	case <-ctx.Done():
		return nil, features.Wrap(features.EUNAVAILABLE, ctx.Err(), "the compute pool is busy: try again shortly")
	}
}

// releaser returns the release of a slot taken at start.
func (p *computePool) releaser(start time.Time) func() {
	return func() {
		if p.yieldTo != nil && p.yieldTo() {
			rest := time.Since(start)
			go func() {
				time.Sleep(rest)
				<-p.slots
			}()
			return
		}
		<-p.slots
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

// promptCache keeps the most recent prompt results. Results are shared and
// must be treated as read-only.
type promptCache struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *promptEntry, most recent first
	byKey map[string]*list.Element
}

type promptEntry struct {
	key string
	res *features.PromptResult
}

func newPromptCache(size int) *promptCache {
	return &promptCache{size: size, order: list.New(), byKey: make(map[string]*list.Element)}
}

// promptKey identifies a prompt run; NUL cannot appear in ids.
func promptKey(modelID string, sourceIDs []string, text string) string {
	return modelID + "\x00" + strings.Join(sourceIDs, ",") + "\x00" + text
}

func (c *promptCache) get(key string) (*features.PromptResult, bool) {
	if c == nil || c.size == 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*promptEntry).res, true
}

func (c *promptCache) put(key string, res *features.PromptResult) {
	if c == nil || c.size == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value.(*promptEntry).res = res
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&promptEntry{key: key, res: res})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*promptEntry).key)
	}
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
