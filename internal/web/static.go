package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"saex/static"
)

// asset is one embedded static file with its validator.
type asset struct {
	body        []byte
	etag        string
	contentType string
}

var (
	assetsOnce    sync.Once
	assets        map[string]*asset
	assetsVersion string // hash over all assets, appended as ?v= to asset links
)

// loadAssets reads the embedded files once and hashes them.
func loadAssets() {
	assetsOnce.Do(func() {
		assets = make(map[string]*asset)
		all := sha256.New()
		_ = fs.WalkDir(static.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(static.FS, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			all.Write(sum[:])
			ct := mime.TypeByExtension(path.Ext(p))
			if ct == "" {
				ct = "text/plain; charset=utf-8"
			}
			assets[p] = &asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, contentType: ct}
			return nil
		})
		assetsVersion = hex.EncodeToString(all.Sum(nil)[:6])
	})
}

// AssetVersion returns the content hash that versions asset URLs.
func AssetVersion() string {
	loadAssets()
	return assetsVersion
}

// staticHandler handles "GET /static/*": embedded assets with an ETag; a
// URL carrying the current ?v= version is cached for a year.
func (s *Server) staticHandler() http.Handler {
	loadAssets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		if r.URL.Query().Get("v") == assetsVersion {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=300")
		}
		// ServeContent answers conditional and range requests from the
		// ETag (If-None-Match, If-Match, If-Range) and HEAD without a body.
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
