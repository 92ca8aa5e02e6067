package features

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokenText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{" ∞", " ∞"},
		{"\xF0\x9F\xA4", "\uFFFD"},             // an emoji's first three bytes: one maximal subpart
		{"\x96", "\uFFFD"},                     // its last byte
		{" \xE2\x88", " \uFFFD"},               // "∞" cut after two bytes
		{"\x9E x", "\uFFFD x"},                 // ... and its tail
		{"a\xff\xfeb", "a\uFFFD\uFFFDb"},       // bytes that never start a character: one each
		{"\xE0\x80", "\uFFFD\uFFFD"},           // overlong start: E0 then a byte outside A0..BF
		{"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"}, // a surrogate: ED A0 is no prefix
		{"\xD0", "\uFFFD"},
	} {
		if got := TokenText(c.in); got != c.want {
			t.Errorf("TokenText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	in := []string{"ok", "é"}
	if got := TokenTexts(in); &got[0] != &in[0] {
		t.Error("valid pieces copied")
	}
	if got := TokenTexts([]string{"ok", "\xD0", "x"}); strings.Join(got, "|") != "ok|\uFFFD|x" {
		t.Errorf("TokenTexts = %q", got)
	}
}

func FuzzTokenText(f *testing.F) {
	f.Add("\xF0\x9F\xA4\x96")
	f.Add("a\xff")
	f.Fuzz(func(t *testing.T, s string) {
		got := TokenText(s)
		if !utf8.ValidString(got) {
			t.Fatalf("TokenText(%q) = %q is not valid UTF-8", s, got)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("valid %q changed to %q", s, got)
		}
		// Python's bytes.decode(errors="replace") agrees with Go's
		// per-maximal-subpart count: never more replacements than bytes.
		if strings.Count(got, "\uFFFD") > len(s) {
			t.Fatalf("%q: too many replacements in %q", s, got)
		}
	})
}

func TestTokenLabel(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		" a\nb\tc":     " a↵b⇥c",
		"\r\x00\x1b":   "␍␀␛",
		"del\x7f":      "del␡",
		"\xe2\x82":     "\uFFFD",
		"caf\xc3\xa9!": "café!",
	} {
		if got := TokenLabel(in); got != want {
			t.Errorf("TokenLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
