package tokenizer

import "unicode"

// The tiktoken-style pre-tokenizer regex of Llama 3 (cl100k's) and, with
// single digits, of Qwen2/Qwen3:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// tiktokenPattern hand-codes it, as pretokenize.go does GPT-2's: regexp2
// gives the same matches (FuzzTiktokenEqualsRegexp2 checks it) but is
// several times slower, and these files are the common case.
const (
	llama3Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwenRegex   = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	gpt2Regex   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// knownRegex returns a hand-written matcher for a pre-tokenizer regex
// this package knows, or nil.
func knownRegex(expr string) pattern {
	switch expr {
	case llama3Regex:
		return tiktokenPattern{maxDigits: 3}
	case qwenRegex:
		return tiktokenPattern{maxDigits: 1}
	case gpt2Regex:
		return gpt2Pattern{}
	}
	return nil
}

// gpt2Pattern is GPT-2's regex as a Split pattern (preTokenize).
type gpt2Pattern struct{}

func (gpt2Pattern) matches(s string) [][2]int {
	var out [][2]int
	preTokenize(s, func(a, b int) { out = append(out, [2]int{a, b}) })
	return out
}

type tiktokenPattern struct{ maxDigits int }

func (p tiktokenPattern) matches(s string) [][2]int {
	out := make([][2]int, 0, len(s)/4+1)
	for i := 0; i < len(s); {
		e := p.matchAt(s, i)
		out = append(out, [2]int{i, e})
		i = e
	}
	return out
}

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// foldedIs reports whether r is c (an ASCII lower-case letter) under
// case folding, as Oniguruma's (?i) does ('ſ' folds to 's').
func foldedIs(r rune, c byte) bool {
	return r == rune(c) || r == rune(c-'a'+'A') || (c == 's' && r == 'ſ')
}

// matchAt returns the end of the match starting at i (always > i: the
// alternatives together match any character).
func (p tiktokenPattern) matchAt(s string, i int) int {
	r, w := runeAt(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' && i+1 < len(s) {
		r1, w1 := runeAt(s, i+1)
		j := i + 1 + w1
		switch {
		case foldedIs(r1, 's'), foldedIs(r1, 't'), foldedIs(r1, 'm'), foldedIs(r1, 'd'):
			return j
		case foldedIs(r1, 'r'), foldedIs(r1, 'v'), foldedIs(r1, 'l'):
			if j < len(s) {
				r2, w2 := runeAt(s, j)
				want := byte('e')
				if foldedIs(r1, 'l') {
					want = 'l'
				}
				if foldedIs(r2, want) {
					return j + w2
				}
			}
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	start := i
	if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !isCRLF(r) {
		start = i + w
	}
	if start < len(s) {
		if r2, _ := runeAt(s, start); unicode.IsLetter(r2) {
			j := start
			for j < len(s) {
				rj, wj := runeAt(s, j)
				if !unicode.IsLetter(rj) {
					break
				}
				j += wj
			}
			return j
		}
	}
	// \p{N}{1,maxDigits}
	if unicode.IsNumber(r) {
		j := i
		for k := 0; k < p.maxDigits && j < len(s); k++ {
			rj, wj := runeAt(s, j)
			if !unicode.IsNumber(rj) {
				break
			}
			j += wj
		}
		return j
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	isOther := func(r rune) bool { return !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) }
	start = i
	if r == ' ' {
		start = i + 1
	}
	if start < len(s) {
		if r2, _ := runeAt(s, start); isOther(r2) {
			j := start
			for j < len(s) {
				rj, wj := runeAt(s, j)
				if !isOther(rj) {
					break
				}
				j += wj
			}
			for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
				j++
			}
			return j
		}
	}
	// Whitespace run [i, j); lastCRLF is the start of its last \r or \n.
	j, last, lastCRLF := i, i, -1
	for j < len(s) {
		rj, wj := runeAt(s, j)
		if !unicode.IsSpace(rj) {
			break
		}
		if isCRLF(rj) {
			lastCRLF = j
		}
		last = j
		j += wj
	}
	if j == i {
		return i + w // not reached: every character matches above
	}
	// \s*[\r\n]+: up to and including the last line break of the run.
	if lastCRLF >= 0 {
		return lastCRLF + 1
	}
	// \s+(?!\S): the whole run at the end of text, else all but its last
	// character; a single space before a non-space falls to \s+.
	if j == len(s) || last == i {
		return j
	}
	return last
}
