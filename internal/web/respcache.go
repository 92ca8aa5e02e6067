package web

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"saex/internal/features"
	mw "saex/internal/web/middleware"
)

// The feature page and GET /api/feature are what people and notebooks ask
// for most, and each costs a database read of ~70 examples, their
// decoding, encoding and compression: 1.5-2 ms of CPU, against ~0.1 ms to
// send a stored body. The response cache keeps their gzipped bodies, keyed
// by feature and tagged with the store's DataVersion read before the data:
// a body is reused only while the version is unchanged, so any write
// (upload, explanation, import or build, from any process) makes every
// stored body stale at once. Clients that do not take gzip are served as
// before.

// DefaultResponseCacheBytes is the response cache's default budget (about
// 2,500 feature JSONs or 7,000 pages of the demo).
const DefaultResponseCacheBytes = 64 << 20

// respKind says which response a cache entry holds.
type respKind uint8

const (
	respAPIFeature respKind = iota
	respFeaturePage
	respFeaturePageFull // ?ctx=full
)

// contentType is the Content-Type of a kind's responses.
func (k respKind) contentType() string {
	if k == respAPIFeature {
		return "application/json; charset=utf-8"
	}
	return "text/html; charset=utf-8"
}

type respKey struct {
	kind          respKind
	model, source string
	index         int
}

// respEntryOverhead approximates an entry's bookkeeping beyond its body.
const respEntryOverhead = 128

// responseCache holds gzipped bodies of one DataVersion (the newest seen):
// a newer version empties it.
type responseCache struct {
	budget int64

	mu   sync.Mutex
	ver  features.DataVersion
	m    map[respKey][]byte
	used int64
}

func newResponseCache(budget int64) *responseCache {
	if budget <= 0 {
		return nil
	}
	return &responseCache{budget: budget, m: make(map[respKey][]byte)}
}

// get returns the body stored for k at version v, or nil.
func (c *responseCache) get(k respKey, v features.DataVersion) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.ver {
		c.advance(v)
		return nil
	}
	return c.m[k]
}

// advance empties the cache when v is newer than its version; the caller
// holds c.mu.
func (c *responseCache) advance(v features.DataVersion) {
	if v.After(c.ver) {
		clear(c.m)
		c.used, c.ver = 0, v
	}
}

// put stores body for k, read at version v. A body read at an older
// version than the cache's is dropped; past the budget, entries are evicted
// at random (map order), which unlike LRU keeps some hits when clients
// cycle through more features than fit.
func (c *responseCache) put(k respKey, v features.DataVersion, body []byte) {
	size := int64(len(body) + len(k.model) + len(k.source) + respEntryOverhead)
	if size > c.budget/16 {
		return // a giant feature would evict everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(v)
	if v != c.ver {
		return
	}
	if old, ok := c.m[k]; ok {
		c.used -= int64(len(old) + len(k.model) + len(k.source) + respEntryOverhead)
	}
	c.m[k] = body
	c.used += size
	if c.used <= c.budget {
		return
	}
	for ek, eb := range c.m {
		if ek == k {
			continue
		}
		delete(c.m, ek)
		c.used -= int64(len(eb) + len(ek.model) + len(ek.source) + respEntryOverhead)
		if c.used <= c.budget-c.budget/8 {
			break
		}
	}
}

// cacheTicket lets a handler store the response it makes: the key and the
// version read before the data.
type cacheTicket struct {
	key respKey
	ver features.DataVersion
}

// cached serves a cacheable GET from the response cache when it can
// (done). Otherwise a non-nil ticket means the handler should answer
// through writeCached so the body is stored; a nil one that it answers as
// usual (no cache, no Versions, a client that does not take gzip, or the
// version could not be read: the handler's own read reports that).
func (s *Server) cached(w http.ResponseWriter, r *http.Request, key respKey) (t *cacheTicket, done bool) {
	if s.respCache == nil || s.Versions == nil || mw.AcceptedEncoding(r.Header.Get("Accept-Encoding")) != "gzip" {
		return nil, false
	}
	v, err := s.Versions.DataVersion(r.Context())
	if err != nil {
		return nil, false
	}
	if body := s.respCache.get(key, v); body != nil {
		writeGzipped(w, key.kind, body)
		return nil, true
	}
	return &cacheTicket{key: key, ver: v}, false
}

// writeCached compresses body, stores it under t and sends it.
func (s *Server) writeCached(w http.ResponseWriter, t *cacheTicket, body []byte) {
	gz := gzipBytes(body)
	s.respCache.put(t.key, t.ver, gz)
	writeGzipped(w, t.key.kind, gz)
}

// writeGzipped sends a stored body with the headers its handler sets (the
// compress middleware passes a response with a Content-Encoding through).
func writeGzipped(w http.ResponseWriter, kind respKind, gz []byte) {
	h := w.Header()
	h.Set("Content-Type", kind.contentType())
	if kind != respAPIFeature {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("Content-Encoding", "gzip")
	h.Add("Vary", "Accept-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(gz)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(gz)
}

var gzipBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// gzipBytes compresses b with the compress middleware's pooled encoders
// (same level) into a slice of its own.
func gzipBytes(b []byte) []byte {
	buf := gzipBufs.Get().(*bytes.Buffer)
	buf.Reset()
	zw := mw.GzipEncoder(buf)
	_, _ = zw.Write(b) // writes to a bytes.Buffer cannot fail
	_ = zw.Close()
	mw.ReleaseGzip(zw)
	out := slices.Clone(buf.Bytes())
	if buf.Cap() <= maxPooledBuf {
		gzipBufs.Put(buf)
	}
	return out
}
