package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// span is a half-open byte range [start, end) of the original text.
type span struct{ start, end int32 }

// normStr is a piece of text after normalization. align[i] is the byte
// range of the original character that normalized byte i came from, so a
// token's offsets in the original text survive normalization and
// pre-tokenization (Hugging Face's NormalizedString does the same).
type normStr struct {
	s     string
	align []span
}

// newNormStr wraps text[from:to] of the original text, unchanged.
func newNormStr(text string, from, to int) normStr {
	n := normStr{s: text[from:to], align: make([]span, to-from)}
	for i := from; i < to; {
		_, w := runeAt(text, i)
		for k := i; k < i+w; k++ {
			n.align[k-from] = span{int32(i), int32(i + w)}
		}
		i += w
	}
	return n
}

func (n normStr) slice(a, b int) normStr { return normStr{n.s[a:b], n.align[a:b]} }

// origRange is the original byte range covered by normalized bytes [a, b).
func (n normStr) origRange(a, b int) span {
	return span{n.align[a].start, n.align[b-1].end}
}

// builder assembles a new normStr piece by piece.
type builder struct {
	sb    strings.Builder
	align []span
}

func (b *builder) add(s string, al span) {
	b.sb.WriteString(s)
	for range len(s) {
		b.align = append(b.align, al)
	}
}

func (b *builder) copy(n normStr, from, to int) {
	b.sb.WriteString(n.s[from:to])
	b.align = append(b.align, n.align[from:to]...)
}

func (b *builder) done() normStr { return normStr{b.sb.String(), b.align} }

// normalizer transforms a normStr (keeping its alignment).
type normalizer func(normStr) normStr

func sequenceNormalizer(ns []normalizer) normalizer {
	return func(n normStr) normStr {
		for _, f := range ns {
			n = f(n)
		}
		return n
	}
}

// unicodeNormalizer applies a Unicode normalization form, aligning as
// Hugging Face does (its transform of unicode-normalization's changes):
// within a normalization segment, output character i comes from input
// character i, extra output characters (an expansion such as "ﬁ" ->
// "fi") from the last one, and a composition ("e" + U+0301 -> "é") from
// its first character.
func unicodeNormalizer(f norm.Form) normalizer {
	return func(n normStr) normStr {
		if f.IsNormalString(n.s) {
			return n
		}
		var b builder
		var it norm.Iter
		it.InitString(f, n.s)
		var in []span
		// norm.Iter returns an expansion in several parts, the position
		// advancing only with the last: gather until it advances.
		segStart, out := 0, ""
		for !it.Done() {
			out += string(it.Next())
			p1 := it.Pos()
			if p1 == segStart && !it.Done() {
				continue
			}
			in = in[:0]
			for j := segStart; j < p1; {
				_, w := runeAt(n.s, j)
				in = append(in, n.origRange(j, j+w))
				j += w
			}
			if len(in) == 0 {
				at := int32(0)
				if segStart > 0 {
					at = n.align[segStart-1].end
				}
				in = append(in, span{at, at})
			}
			k := 0
			for i := 0; i < len(out); {
				_, w := runeAt(out, i)
				b.add(out[i:i+w], in[min(k, len(in)-1)])
				i += w
				k++
			}
			segStart, out = p1, ""
		}
		return b.done()
	}
}

// mapRunes replaces every character by f(character) (Lowercase).
func mapRunes(f func(string) string) normalizer {
	return func(n normStr) normStr {
		var b builder
		for i := 0; i < len(n.s); {
			_, w := runeAt(n.s, i)
			b.add(f(n.s[i:i+w]), n.origRange(i, i+w))
			i += w
		}
		return b.done()
	}
}

// stripAccents removes combining marks (meant to follow NFD).
func stripAccents(n normStr) normStr {
	var b builder
	for i := 0; i < len(n.s); {
		r, w := runeAt(n.s, i)
		if !unicode.Is(unicode.Mn, r) {
			b.copy(n, i, i+w)
		}
		i += w
	}
	return b.done()
}

// stripNormalizer removes leading and/or trailing whitespace.
func stripNormalizer(left, right bool) normalizer {
	return func(n normStr) normStr {
		a, e := 0, len(n.s)
		for left && a < e {
			r, w := runeAt(n.s, a)
			if !unicode.IsSpace(r) {
				break
			}
			a += w
		}
		for right && e > a {
			r, w := utf8.DecodeLastRuneInString(n.s[a:e])
			if !unicode.IsSpace(r) {
				break
			}
			e -= w
		}
		return n.slice(a, e)
	}
}

// replaceNormalizer replaces every match of p by content; the
// replacement maps to the whole original range of the match.
func replaceNormalizer(p pattern, content string) normalizer {
	return func(n normStr) normStr {
		ms := p.matches(n.s)
		if len(ms) == 0 {
			return n
		}
		var b builder
		prev := 0
		for _, m := range ms {
			b.copy(n, prev, m[0])
			b.add(content, n.origRange(m[0], m[1]))
			prev = m[1]
		}
		b.copy(n, prev, len(n.s))
		return b.done()
	}
}

// prependNormalizer puts s before a non-empty text; it maps to the
// first character's original range, as in Hugging Face.
func prependNormalizer(s string) normalizer {
	return func(n normStr) normStr {
		if n.s == "" {
			return n
		}
		var b builder
		_, w := runeAt(n.s, 0)
		b.add(s, n.origRange(0, w))
		b.copy(n, 0, len(n.s))
		return b.done()
	}
}

func normNFC(s string) string { return norm.NFC.String(s) }
