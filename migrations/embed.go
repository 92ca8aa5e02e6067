// Package migrations holds saex's PostgreSQL schema as goose SQL migrations,
// embedded so the one binary can migrate any database it is pointed at.
package migrations

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
)

// FS is the migration files (NNNNN_name.sql, goose format).
//
//go:embed *.sql
var FS embed.FS

// Hash returns a short hex digest of every migration file's name and
// content. Test helpers name their template databases with it so a changed
// schema gets a fresh template.
func Hash() string {
	names, _ := fs.Glob(FS, "*.sql")
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := FS.ReadFile(n)
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
