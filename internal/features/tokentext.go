package features

import (
	"strings"
	"unicode/utf8"
)

// Token strings (Activation.Tokens, PosStr, NegStr, PromptResult.Tokens)
// are each token's decoded piece: the bytes it stands for. A byte-level
// tokenizer may split one UTF-8 character across tokens, so a piece can be
// invalid UTF-8 alone. The store keeps pieces exactly (its dictionary is
// bytea), pages merge neighbouring pieces back into characters, and the
// JSON API sends TokenText of each piece, as Neuronpedia does.

// TokenText is a token piece as Neuronpedia sends it: valid UTF-8 as it
// is; otherwise each maximal ill-formed subsequence replaced by one U+FFFD,
// as Hugging Face tokenizers' decode (Rust's from_utf8_lossy) and Python's
// bytes.decode(errors="replace") do, so that "".join(tokens) reads as text.
func TokenText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			b = append(b, s[i])
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || w > 1 {
			b = append(b, s[i:i+w]...)
			i += w
			continue
		}
		b = append(b, "\uFFFD"...)
		i += illFormedLen(s[i:])
	}
	return string(b)
}

// TokenLabel is a token piece written on one line for people and LLM
// prompts: TokenText with the whitespace a reader could not see spelled out
// (newline ↵, tab ⇥) and every other control character as its Unicode
// control picture (U+2400 + c, DEL U+2421).
func TokenLabel(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return '↵'
		case r == '\t':
			return '⇥'
		case r < 0x20:
			return 0x2400 + r
		case r == 0x7f:
			return '␡'
		}
		return r
	}, TokenText(s))
}

// TokenTexts maps TokenText over pieces, sharing the slice when every
// piece is valid UTF-8 already (the common case).
func TokenTexts(pieces []string) []string {
	for i, p := range pieces {
		if !utf8.ValidString(p) {
			out := make([]string, len(pieces))
			copy(out, pieces[:i])
			for j := i; j < len(pieces); j++ {
				out[j] = TokenText(pieces[j])
			}
			return out
		}
	}
	return pieces
}

// illFormedLen is the length of the maximal subpart at the start of s (a
// prefix of a well-formed sequence that cannot be completed, at least one
// byte): Unicode's "substitution of maximal subparts".
func illFormedLen(s string) int {
	c := s[0]
	var n int
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		n = 2
	case c == 0xE0:
		n, lo = 3, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		n = 3
	case c == 0xED:
		n, hi = 3, 0x9F
	case c == 0xF0:
		n, lo = 4, 0x90
	case c >= 0xF1 && c <= 0xF3:
		n = 4
	case c == 0xF4:
		n, hi = 4, 0x8F
	default:
		return 1 // a continuation byte or a byte that never starts a character
	}
	k := 1
	for k < n && k < len(s) {
		b := s[k]
		if k == 1 && (b < lo || b > hi) || k > 1 && (b < 0x80 || b > 0xBF) {
			break
		}
		k++
	}
	return k
}
