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

	"saex/internal/features"
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
	// Script, when set, is a page script under /static/ (no inline scripts:
	// the Content-Security-Policy forbids them).
	Script string
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

// DisplayToken makes a token string readable as text: a piece that is not
// valid UTF-8 alone gets U+FFFD for its broken bytes (a visible
// placeholder, never an escape), SentencePiece's "▁" shows as a space,
// newlines "↵", tabs "⇥", NUL and other control characters their Unicode
// control pictures. HTML escaping is left to templ.
func DisplayToken(s string) string {
	if !utf8.ValidString(s) {
		s = features.TokenText(s)
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == 0xE2 && strings.HasPrefix(s[i:], "▁") {
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
		case r == '▁':
			b.WriteByte(' ')
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
	if v == 0 {
		return "0"
	}
	var b [32]byte
	return string(appendNum(b[:0], v))
}

// appendNum appends Num(v) to b.
func appendNum(b []byte, v float64) []byte {
	switch {
	case v == 0:
		return append(b, '0')
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case math.Abs(v) >= 1000 || math.Abs(v) < 0.001:
		return strconv.AppendFloat(b, v, 'g', 3, 64)
	case math.Abs(v) >= 100:
		return strconv.AppendFloat(b, v, 'f', 1, 64)
	default:
		return strconv.AppendFloat(b, v, 'f', 3, 64)
	}
}

// Percent formats a fraction as a percentage in one format for densities
// that span 1e-6 to 1: two decimals from 1% up, below that two significant
// digits in plain decimals ("0.00093%", never "9.3e-04%").
func Percent(frac float64) string {
	p := frac * 100
	switch {
	case p == 0:
		return "0%"
	case math.IsNaN(p) || math.IsInf(p, 0):
		return strconv.FormatFloat(p, 'g', -1, 64) + "%"
	case math.Abs(p) >= 1:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	}
	decimals := max(3, 1-int(math.Floor(math.Log10(math.Abs(p)))))
	return strconv.FormatFloat(p, 'f', decimals, 64) + "%"
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
// scale (the feature's max). Pieces of one UTF-8 character split across
// tokens are merged into one view showing the character: highlighted at
// the largest of their values, with each token's value on hover.
func Tokens(tokens []string, values []float32, scale float64) []TokenView {
	return TokensMarked(tokens, values, scale, -1)
}

// TokensMarked is Tokens with the view holding token mark (an example's
// qualifying token) also given class "q".
func TokensMarked(tokens []string, values []float32, scale float64, mark int) []TokenView {
	out := make([]TokenView, 0, len(tokens))
	markAt := func(i, n int) {
		if mark >= i && mark < i+n {
			tv := &out[len(out)-1]
			tv.Class = strings.TrimSpace(tv.Class + " q")
		}
	}
	for i := 0; i < len(tokens); {
		n := PieceRun(tokens, i)
		val := func(k int) float64 {
			if k < len(values) {
				return float64(values[k])
			}
			return 0
		}
		if n == 1 {
			t, v := tokens[i], val(i)
			tv := TokenView{Text: DisplayToken(t), Class: tokenClasses[HighlightLevel(v, scale)][tokenKind(t)]}
			if v != 0 {
				tv.Title = Num(v)
			}
			out = append(out, tv)
			markAt(i, 1)
			i++
			continue
		}
		joined := strings.Join(tokens[i:i+n], "")
		mx, any := 0.0, false
		var title strings.Builder
		title.WriteString(Itoa(n) + " tokens:")
		for k := i; k < i+n; k++ {
			v := val(k)
			mx = max(mx, v)
			any = any || v != 0
			title.WriteString(" " + Num(v))
		}
		tv := TokenView{Text: DisplayToken(joined), Class: tokenClasses[HighlightLevel(mx, scale)][tokenKind(joined)]}
		if any {
			tv.Title = title.String()
		}
		out = append(out, tv)
		markAt(i, n)
		i += n
	}
	return out
}

// maxMerge is the most tokens merged into one view: a character is at most
// four bytes, so four pieces (each holding one byte of it) suffice.
const maxMerge = 4

// PieceRun is how many tokens from i make one view: 1 for a piece that is
// valid UTF-8 alone, else the fewest following pieces that complete its
// characters (1 when none do: the piece is shown with placeholders).
func PieceRun(tokens []string, i int) int {
	if utf8.ValidString(tokens[i]) {
		return 1
	}
	joined := tokens[i]
	for n := 2; n <= maxMerge && i+n <= len(tokens); n++ {
		joined += tokens[i+n-1]
		if utf8.ValidString(joined) {
			return n
		}
	}
	return 1
}

// PieceAt is the display text of the view holding token i: the token, or
// the characters it is part of when it holds part of one.
func PieceAt(tokens []string, i int) string {
	if i < 0 || i >= len(tokens) {
		return ""
	}
	for start := max(0, i-maxMerge+1); start <= i; start++ {
		if n := PieceRun(tokens, start); n > 1 && start+n > i {
			return DisplayToken(strings.Join(tokens[start:start+n], ""))
		}
	}
	return DisplayToken(tokens[i])
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

// positionTitle is the hover text of a prompt token.
func positionTitle(t PromptToken) string {
	if t.Len > 1 {
		return "positions " + Itoa(t.Pos) + "–" + Itoa(t.Pos+t.Len-1) + " (one character split across tokens)"
	}
	return "position " + Itoa(t.Pos)
}

// SteerURL is the steer page of one model.
func SteerURL(modelID string) string { return "/" + url.PathEscape(modelID) + "/steer" }

// steerFeatureName is a steer feature as the form posts it: "source:index".
func steerFeatureName(f SteerFeatureView) string {
	if f.SourceID == "" {
		return ""
	}
	return f.SourceID + ":" + strconv.Itoa(f.Index)
}

// boolAttr writes a flag as a data attribute's "1" or "".
func boolAttr(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// CountText is a count, with a "+" when there are more than it (a capped
// search: "1000+").
func CountText(n int, more bool) string {
	if more {
		return strconv.Itoa(n) + "+"
	}
	return strconv.Itoa(n)
}
