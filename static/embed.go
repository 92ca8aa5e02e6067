// Package static holds the browser assets served under /static/: the
// vendored htmx (no CDN), the stylesheet and the icon.
package static

import "embed"

// FS holds every file of this directory except Go sources.
//
//go:embed *.js *.css *.svg htmx-LICENSE
var FS embed.FS
