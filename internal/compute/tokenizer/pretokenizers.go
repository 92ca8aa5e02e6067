package tokenizer

import (
	"unicode"
)

// preTokenizer splits each piece into smaller ones (the pre_tokenizer of
// tokenizer.json). Empty pieces are dropped, as in Hugging Face.
type preTokenizer func(pieces []normStr) []normStr

func sequencePreTokenizer(ps []preTokenizer) preTokenizer {
	return func(pieces []normStr) []normStr {
		for _, p := range ps {
			pieces = p(pieces)
		}
		return pieces
	}
}

// splitBehavior is Split's "behavior": what happens to the matches.
type splitBehavior int

const (
	removed splitBehavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

var splitBehaviors = map[string]splitBehavior{
	"Removed": removed, "Isolated": isolated, "MergedWithPrevious": mergedWithPrevious,
	"MergedWithNext": mergedWithNext, "Contiguous": contiguous,
}

type segment struct {
	start, end int
	match      bool
}

// splitPieces cuts every piece at the matches of find, as Hugging Face's
// NormalizedString::split does for each behavior.
func splitPieces(pieces []normStr, find func(string) [][2]int, b splitBehavior, invert bool) []normStr {
	out := make([]normStr, 0, len(pieces))
	var segs, keep []segment
	for _, n := range pieces {
		if b == isolated && !invert {
			// The common case (Llama 3, Qwen): every match and gap is a
			// piece.
			prev := 0
			for _, m := range find(n.s) {
				if m[0] > prev {
					out = append(out, n.slice(prev, m[0]))
				}
				if m[1] > m[0] {
					out = append(out, n.slice(m[0], m[1]))
				}
				prev = m[1]
			}
			if prev < len(n.s) {
				out = append(out, n.slice(prev, len(n.s)))
			}
			continue
		}
		// Matches and the gaps between them, covering n.s.
		segs, keep = segs[:0], keep[:0]
		prev := 0
		for _, m := range find(n.s) {
			if m[0] > prev {
				segs = append(segs, segment{prev, m[0], invert})
			}
			segs = append(segs, segment{m[0], m[1], !invert})
			prev = m[1]
		}
		if prev < len(n.s) {
			segs = append(segs, segment{prev, len(n.s), invert})
		}
		switch b {
		case removed:
			for _, s := range segs {
				if !s.match {
					keep = append(keep, s)
				}
			}
		case isolated:
			keep = segs
		case mergedWithPrevious, contiguous:
			prevMatch := false
			for _, s := range segs {
				join := len(keep) > 0 && ((b == mergedWithPrevious && s.match && !prevMatch) || (b == contiguous && s.match == prevMatch))
				if join {
					keep[len(keep)-1].end = s.end
				} else {
					keep = append(keep, s)
				}
				prevMatch = s.match
			}
		case mergedWithNext:
			prevMatch := false
			for i := len(segs) - 1; i >= 0; i-- {
				s := segs[i]
				if s.match && !prevMatch && len(keep) > 0 {
					keep[len(keep)-1].start = s.start
				} else {
					keep = append(keep, s)
				}
				prevMatch = s.match
			}
			for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
				keep[i], keep[j] = keep[j], keep[i]
			}
		}
		for _, s := range keep {
			if s.end > s.start {
				out = append(out, n.slice(s.start, s.end))
			}
		}
	}
	return out
}

func splitPreTokenizer(p pattern, b splitBehavior, invert bool) preTokenizer {
	return func(pieces []normStr) []normStr { return splitPieces(pieces, p.matches, b, invert) }
}

// runeMatches returns each maximal run (or, with single, each character)
// of characters satisfying f.
func runeMatches(f func(rune) bool, single bool) func(string) [][2]int {
	return func(s string) [][2]int {
		var out [][2]int
		for i := 0; i < len(s); {
			r, w := runeAt(s, i)
			if !f(r) {
				i += w
				continue
			}
			j := i + w
			for !single && j < len(s) {
				r2, w2 := runeAt(s, j)
				if !f(r2) {
					break
				}
				j += w2
			}
			out = append(out, [2]int{i, j})
			i = j
		}
		return out
	}
}

// digitsPreTokenizer is Digits: runs of digits (or single digits) become
// their own pieces.
func digitsPreTokenizer(individual bool) preTokenizer {
	find := runeMatches(unicode.IsNumber, individual)
	b := contiguous
	if individual {
		b = isolated
	}
	return func(pieces []normStr) []normStr { return splitPieces(pieces, find, b, false) }
}

// whitespaceSplit is WhitespaceSplit: pieces are the non-space runs.
func whitespaceSplit(pieces []normStr) []normStr {
	return splitPieces(pieces, runeMatches(unicode.IsSpace, false), removed, false)
}

// punctuation is Punctuation with its default behavior, Isolated.
func punctuationPreTokenizer(b splitBehavior) preTokenizer {
	isPunct := func(r rune) bool { return unicode.IsPunct(r) || (r < 128 && unicode.IsSymbol(r)) }
	return func(pieces []normStr) []normStr {
		return splitPieces(pieces, runeMatches(isPunct, true), b, false)
	}
}

// metaspace is Metaspace: spaces become the replacement character, which
// is prepended per prepend_scheme, and with split each piece starts at a
// replacement character.
func metaspace(repl string, scheme string, split bool) preTokenizer {
	replace := replaceNormalizer(literal(" "), repl)
	prepend := prependNormalizer(repl)
	return func(pieces []normStr) []normStr {
		out := make([]normStr, 0, len(pieces))
		for _, n := range pieces {
			n = replace(n)
			if len(n.s) > 0 && !hasPrefix(n.s, repl) {
				if scheme == "always" || (scheme == "first" && n.align[0].start == 0) {
					n = prepend(n)
				}
			}
			out = append(out, n)
		}
		if split {
			out = splitPieces(out, literal(repl).matches, mergedWithNext, false)
		}
		return out
	}
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// byteLevelPreTokenizer is ByteLevel: an optional prefix space, then the
// GPT-2 regex split (hand-written in pretokenize.go). The mapping of
// bytes to printable characters is left to the model, which reads raw
// bytes (see bpe.merge), so ByteLevel must be the last pre-tokenizer.
func byteLevelPreTokenizer(addPrefixSpace, useRegex bool) preTokenizer {
	prepend := prependNormalizer(" ")
	return func(pieces []normStr) []normStr {
		out := make([]normStr, 0, len(pieces))
		for _, n := range pieces {
			if addPrefixSpace && len(n.s) > 0 && n.s[0] != ' ' {
				n = prepend(n)
			}
			if !useRegex {
				out = append(out, n)
				continue
			}
			preTokenize(n.s, func(s, e int) { out = append(out, n.slice(s, e)) })
		}
		return out
	}
}
