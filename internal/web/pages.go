package web

import (
	"io"
	"net/http"

	"github.com/a-h/templ"

	"saex/templates"
)

// isHTMX reports whether the request comes from htmx (and wants a fragment).
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// render writes an HTML component straight to the response.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	// templ flushes an http.Flusher when it finishes; through gzip that is a
	// sync flush per page for nothing (the response ends right after), so
	// templ gets the writer without its Flush.
	if err := c.Render(r.Context(), writerOnly{w}); err != nil {
		s.reqLogger(r).Warn("render failed", "path", r.URL.Path, "error", err)
	}
}

// writerOnly hides every method of a writer but Write.
type writerOnly struct{ w io.Writer }

func (o writerOnly) Write(p []byte) (int, error) { return o.w.Write(p) }

// meta returns the layout data of a page; the navigation links to the
// model's prompt tool only when the model can run prompts.
func (s *Server) meta(title, nav, modelID string) templates.Meta {
	if s.Inference == nil || !s.Inference.CanRun(modelID, "") {
		modelID = ""
	}
	return templates.Meta{Title: title, Assets: AssetVersion(), Nav: nav, ModelID: modelID}
}

// pageError renders err as an error page with the status of its code.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := s.userError(r, err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	s.render(w, r, status, templates.ErrorPage(templates.ErrorView{
		Meta: s.meta(http.StatusText(status), "", ""), Status: status, Message: msg,
	}))
}

// handlePageNotFound renders the 404 page for unknown paths.
func (s *Server) handlePageNotFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, templates.ErrorPage(templates.ErrorView{
		Meta: s.meta("Not found", "", ""), Status: http.StatusNotFound, Message: "There is no page at " + r.URL.Path + ".",
	}))
}

// handlePageMethodNotAllowed renders a 405 page.
func (s *Server) handlePageMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusMethodNotAllowed, templates.ErrorPage(templates.ErrorView{
		Meta: s.meta("Method not allowed", "", ""), Status: http.StatusMethodNotAllowed, Message: r.Method + " is not allowed here.",
	}))
}

// parseForm reads a form body under the body cap; ETOOLARGE past it.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return jsonError(err, s.MaxBodyBytes)
	}
	return nil
}
