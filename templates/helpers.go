// Package templates holds saex's templ components: the page layout, the
// pages (home, source browser, feature dashboard, prompt tool, explanation
// search) and their htmx fragments, plus the server-side SVG charts. Views
// take view-model structs built by internal/web; every string they render
// goes through templ's escaping.
package templates

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Meta is what the layout needs from every page.
type Meta struct {
	Title string
	// Assets is the static-asset version appended to asset URLs (cache busting).
	Assets string
	// Nav is the active top-level section: "home", "search" or "prompt".
	Nav string
	// ModelID, when set, adds a link to the model's prompt tool.
	ModelID string
}

// FeatureURL is the page of one feature.
func FeatureURL(modelID, sourceID string, index int) string {
	return "/" + url.PathEscape(modelID) + "/" + url.PathEscape(sourceID) + "/" + strconv.Itoa(index)
}

// SourceURL is the feature browser of one source.
func SourceURL(modelID, sourceID string) string {
	return "/" + url.PathEscape(modelID) + "/" + url.PathEscape(sourceID)
}

// ModelURL is the page of one model.
func ModelURL(modelID string) string { return "/" + url.PathEscape(modelID) }

// PromptURL is the prompt tool of one model.
func PromptURL(modelID string) string { return "/" + url.PathEscape(modelID) + "/prompt" }

// FeatureJSONURL is the JSON twin of a feature page.
func FeatureJSONURL(modelID, sourceID string, index int) string {
	return "/api/feature/" + url.PathEscape(modelID) + "/" + url.PathEscape(sourceID) + "/" + strconv.Itoa(index)
}

// DisplayToken makes a token string safe and visible as text: invalid UTF-8
// becomes U+FFFD, newlines "↵", tabs "⇥", NUL and other control characters
// their Unicode control pictures. HTML escaping is left to templ.
func DisplayToken(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune('↵')
		case r == '\t':
			b.WriteRune('⇥')
		case r < 0x20:
			b.WriteRune(0x2400 + r) // control pictures: ␀ ␁ ... ␍ ...
		case r == 0x7f:
			b.WriteRune('␡')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// HighlightLevel is the emerald highlight of a token as a step 0..20 of 5%
// opacity, using Neuronpedia's curve 0.05 + 0.95*log10(1 + 9*v/max): small
// activations stay visible, and the feature's max is fully opaque.
func HighlightLevel(v, maxV float64) int {
	if v <= 0 || maxV <= 0 || math.IsNaN(v) {
		return 0
	}
	x := min(v/maxV, 1)
	op := 0.05 + 0.95*math.Log10(1+9*x)
	return max(1, min(20, int(math.Round(op*20))))
}

// Num formats a value compactly for tables and tooltips.
func Num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case math.Abs(v) >= 1000 || math.Abs(v) < 0.001:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// Percent formats a fraction as a percentage with useful precision for
// densities that span 1e-6 to 1.
func Percent(frac float64) string {
	p := frac * 100
	switch {
	case p == 0:
		return "0%"
	case p < 0.001:
		return strconv.FormatFloat(p, 'e', 1, 64) + "%"
	case p < 1:
		return strconv.FormatFloat(p, 'f', 3, 64) + "%"
	default:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	}
}

// Itoa formats an int.
func Itoa(i int) string { return strconv.Itoa(i) }

// TokenView is one token ready to render: display text, CSS classes
// (highlight level, outside-window, newline or blank) and the hover title
// (empty for tokens that did not fire).
type TokenView struct {
	Text  string
	Class string
	Title string
}

// Token kinds that get their own CSS class.
const (
	kindPlain = iota
	kindNewline
	kindBlank
	numKinds
)

// tokenClasses[level][kind] is the class attribute of a token, built once:
// a feature page has thousands of tokens.
var tokenClasses = func() (t [21][numKinds]string) {
	for lvl := range 21 {
		for kind := range numKinds {
			var parts []string
			if lvl > 0 {
				parts = append(parts, "a"+strconv.Itoa(lvl))
			}
			switch kind {
			case kindNewline:
				parts = append(parts, "nl")
			case kindBlank:
				parts = append(parts, "ws")
			}
			t[lvl][kind] = strings.Join(parts, " ")
		}
	}
	return t
}()

// Tokens builds the token views of one text, highlighted relative to
// scale (the feature's max).
func Tokens(tokens []string, values []float32, scale float64) []TokenView {
	out := make([]TokenView, len(tokens))
	for i, t := range tokens {
		v := 0.0
		if i < len(values) {
			v = float64(values[i])
		}
		out[i] = TokenView{Text: DisplayToken(t), Class: tokenClasses[HighlightLevel(v, scale)][tokenKind(t)]}
		if v != 0 {
			out[i].Title = Num(v)
		}
	}
	return out
}

// tokenKind classifies a token for styling: newline, blank or plain. It
// scans bytes (cheaper than strings.ContainsAny on thousands of tokens).
func tokenKind(t string) int {
	blank := true
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '\n', '\r':
			return kindNewline
		case ' ', '\t', '\v', '\f':
		default:
			blank = false
		}
	}
	if blank {
		return kindBlank
	}
	return kindPlain
}

// hasIntervals reports whether any group is a quantile interval.
func hasIntervals(gs []ActGroup) bool {
	for _, g := range gs {
		if g.Interval {
			return true
		}
	}
	return false
}
