// Package static holds the browser assets served under /static/: the
// vendored htmx (no CDN) and the stylesheet.
package static

import "embed"

// FS holds every file of this directory except Go sources.
//
//go:embed *.js *.css htmx-LICENSE
var FS embed.FS
