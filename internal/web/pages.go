package web

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

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
	v := templates.ErrorView{Meta: s.meta(http.StatusText(status), "", ""), Status: status, Message: clipText(msg, maxEchoed*2)}
	var back *backLinkError
	if errors.As(err, &back) {
		v.BackURL, v.BackText, v.Build = back.url, back.text, back.build
	}
	s.render(w, r, status, templates.ErrorPage(v))
}

// backLinkError is an error whose page links back to where the reader
// can carry on (the source of a feature that does not exist).
type backLinkError struct {
	error
	url, text string
	build     *templates.BuildBannerView // the source's build, when it runs
}

func (e *backLinkError) Unwrap() error { return e.error }

// maxEchoed is the most characters of a request path or id echoed in a
// message: a 3,000-character path must not make a 27,000 px wide page.
const maxEchoed = 80

// clipText cuts s to n characters, marking the cut.
func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// handlePageNotFound renders the 404 page for unknown paths.
func (s *Server) handlePageNotFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, templates.ErrorPage(templates.ErrorView{
		Meta: s.meta("Not found", "", ""), Status: http.StatusNotFound, Message: "There is no page at " + clipText(r.URL.Path, maxEchoed) + ".",
	}))
}

// canonicalSlash redirects a page URL with a trailing slash to the one
// without (the router serves both, for API clients that add one).
func canonicalSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			u := *r.URL
			u.Path = strings.TrimRight(p, "/")
			if u.Path == "" {
				u.Path = "/"
			}
			u.RawPath = ""
			http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
			return
		}
		next.ServeHTTP(w, r)
	})
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
