package tokenizer

import (
	"fmt"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
)

// pattern finds the non-overlapping matches of a Split or Replace
// pattern, as byte ranges in order.
type pattern interface {
	matches(s string) [][2]int
}

// literal is a {"String": ...} pattern.
type literal string

func (p literal) matches(s string) [][2]int {
	var out [][2]int
	if p == "" {
		return nil
	}
	for i := 0; ; {
		k := strings.Index(s[i:], string(p))
		if k < 0 {
			return out
		}
		out = append(out, [2]int{i + k, i + k + len(p)})
		i += k + len(p)
	}
}

// Hugging Face compiles {"Regex": ...} patterns with Oniguruma, whose
// syntax includes lookahead (the tiktoken-style pre-tokenizers of Llama 3
// and Qwen end in `\s+(?!\S)`); Go's regexp has none. regexp2 (a
// maintained port of .NET's backtracking engine) accepts these patterns
// with the same meaning: \s, \p{L}, \p{N}, (?i:...), {m,n}, (?!...) and
// leftmost-first alternation agree with Oniguruma's on the tiktoken-style
// patterns (TestSplitRegexesEqualHF: 621 strings against Hugging Face;
// the one difference is that Oniguruma's (?i) folds 'ſ' to 's').
// The patterns we know (GPT-2's, Llama 3's, Qwen's) have hand-written
// matchers (pretokenize.go, tiktoken.go), equal to Hugging Face on the
// same strings and faster; regexp2 serves any other pattern.

// regexTimeout bounds one match: a file's pattern could backtrack
// catastrophically. On timeout the rest of the text is left unsplit.
const regexTimeout = 2 * time.Second

type regex struct {
	re *regexp2.Regexp
}

func compileRegex(expr string) (*regex, error) {
	re, err := regexp2.Compile(expr, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", expr, err)
	}
	re.MatchTimeout = regexTimeout
	return &regex{re: re}, nil
}

func (p *regex) matches(s string) [][2]int {
	if s == "" {
		return nil
	}
	// regexp2 works on runes; byteAt maps rune indices back to bytes
	// (an invalid byte is one U+FFFD rune, as in []rune(s)).
	runes := make([]rune, 0, len(s))
	byteAt := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		r, w := runeAt(s, i)
		runes = append(runes, r)
		byteAt = append(byteAt, i)
		i += w
	}
	byteAt = append(byteAt, len(s))
	var out [][2]int
	m, err := p.re.FindRunesMatch(runes)
	for err == nil && m != nil {
		out = append(out, [2]int{byteAt[m.Index], byteAt[m.Index+m.Length]})
		m, err = p.re.FindNextMatch(m)
	}
	return out
}
