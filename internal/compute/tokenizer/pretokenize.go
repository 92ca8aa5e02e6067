package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The GPT-2 pre-tokenizer regex is
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no lookahead, so preTokenize hand-codes it. The
// alternatives together match every character, so the matches tile the
// text; at each position the first alternative that matches wins
// (leftmost-first, as in Oniguruma and fancy-regex), each one greedy.

type charClass uint8

const (
	classSpace charClass = iota
	classLetter
	classNumber
	classOther
)

func classify(r rune) charClass {
	switch {
	case unicode.IsSpace(r):
		return classSpace
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	default:
		return classOther
	}
}

// runeAt decodes the rune at byte offset i; invalid UTF-8 bytes decode as
// one utf8.RuneError of width 1 (and then count as "other").
func runeAt(s string, i int) (rune, int) {
	if i >= len(s) {
		return 0, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// preTokenize calls emit with the byte range [start, end) of every piece
// of s, in order. The pieces cover s exactly.
func preTokenize(s string, emit func(start, end int)) {
	i := 0
	for i < len(s) {
		end := matchAt(s, i)
		emit(i, end)
		i = end
	}
}

// matchAt returns the end of the regex match that starts at i (always > i).
func matchAt(s string, i int) int {
	r, w := runeAt(s, i)
	// Contractions: 's 't 'm 'd 're 've 'll (lower case only).
	if r == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	cls := classify(r)
	// ` ?X+` for X in letters, numbers, others: an optional ASCII space,
	// then a run of one class.
	start := i
	if r == ' ' && i+1 < len(s) {
		r2, _ := runeAt(s, i+1)
		if c2 := classify(r2); c2 != classSpace {
			cls = c2
			start = i + 1
		}
	}
	if cls != classSpace {
		j := start
		for j < len(s) {
			rj, wj := runeAt(s, j)
			if classify(rj) != cls {
				break
			}
			j += wj
		}
		return j
	}
	// Whitespace run [i, j).
	j := i + w
	last := i
	for j < len(s) {
		rj, wj := runeAt(s, j)
		if classify(rj) != classSpace {
			break
		}
		last = j
		j += wj
	}
	if j == len(s) {
		return j // \s+(?!\S) at the end of text
	}
	// Followed by non-space: \s+(?!\S) gives back the last whitespace
	// character, which then starts the next piece; a single whitespace
	// character falls through to \s+.
	if last > i {
		return last
	}
	return j
}
