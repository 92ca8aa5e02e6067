package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var splitRegexes = map[string]string{"llama3": llama3Regex, "qwen": qwenRegex, "gpt2": gpt2Regex}

// piecesOf splits text with p (behavior Isolated) and returns the pieces
// as character offsets, as Hugging Face reports them.
func piecesOf(text string, p pattern) [][2]int {
	pieces := splitPieces([]normStr{newNormStr(text, 0, len(text))}, p.matches, isolated, false)
	spans := make([]span, len(pieces))
	for i, n := range pieces {
		spans[i] = n.origRange(0, len(n.s))
	}
	return charOffsets(text, spans)
}

// TestSplitRegexesEqualHF: the hand-written matchers and regexp2 give
// Hugging Face's pieces (testdata/splits.json, gen_splits.mjs) on fixed
// edge cases and 600 random strings.
func TestSplitRegexesEqualHF(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "splits.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Texts  []string              `json:"texts"`
		Pieces map[string][][][2]int `json:"pieces"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	for name, expr := range splitRegexes {
		hand := knownRegex(expr)
		re, err := compileRegex(expr)
		if err != nil {
			t.Fatal(err)
		}
		want := ref.Pieces[name]
		if len(want) != len(ref.Texts) {
			t.Fatalf("%s: %d references for %d texts", name, len(want), len(ref.Texts))
		}
		for i, text := range ref.Texts {
			w := want[i]
			if w == nil {
				w = [][2]int{}
			}
			for kind, p := range map[string]pattern{"hand-written": hand, "regexp2": re} {
				if kind == "regexp2" && strings.ContainsRune(text, 'ſ') {
					// Oniguruma's (?i) folds 'ſ' to 's'; regexp2's does
					// not (the one difference found).
					continue
				}
				got := piecesOf(text, p)
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s %s %q:\n got %v\nwant %v", name, kind, text, got, w)
				}
			}
		}
	}
}

// FuzzTiktokenEqualsRegexp2: on any text, the hand-written matchers give
// the matches regexp2 gives for the same regex.
func FuzzTiktokenEqualsRegexp2(f *testing.F) {
	for _, s := range []string{"Hello world", "x'S 're\r\n\n  x", "123456 \u00bd", "  \t\u00a0x  ", "\xff\xfe 'll"} {
		f.Add(s)
	}
	type pair struct{ hand, re pattern }
	var pats []pair
	for _, expr := range splitRegexes {
		re, err := compileRegex(expr)
		if err != nil {
			f.Fatal(err)
		}
		pats = append(pats, pair{knownRegex(expr), re})
	}
	f.Fuzz(func(t *testing.T, text string) {
		if strings.ContainsRune(text, 'ſ') {
			return // folded by Oniguruma and the hand-written matcher, not by regexp2
		}
		for _, p := range pats {
			a, b := p.hand.matches(text), p.re.matches(text)
			if len(a) == 0 && len(b) == 0 {
				continue
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%q: hand-written %v, regexp2 %v", text, a, b)
			}
		}
	})
}
