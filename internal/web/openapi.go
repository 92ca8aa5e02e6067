package web

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3 description of the JSON API; a test checks it
// against the real handlers.
//
//go:embed openapi.json
var openAPIDoc []byte

// handleOpenAPI handles "GET /api/openapi.json".
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDoc)
}
