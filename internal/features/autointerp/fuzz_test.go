package autointerp

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseExplanation: any reply gives an explanation of at most 500
// bytes on one line, or one of the three reply errors; never a panic.
func FuzzParseExplanation(f *testing.F) {
	for _, s := range []string{"[EXPLANATION]: the word err", "plain answer", "I'm sorry", "a\nb", "[explanation]:", "\x00\xff[EXPLANATION]: \"x\"\n"} {
		f.Add(s, "stop", "")
		f.Add(s, "length", "")
	}
	f.Add("", "stop", "no")
	f.Fuzz(func(t *testing.T, content, finish, refusal string) {
		got, err := ParseExplanation(&ChatReply{Content: content, FinishReason: finish, Refusal: refusal})
		if err != nil {
			if got != "" || !(errors.Is(err, ErrRefusal) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed)) {
				t.Fatalf("%q: %q with unexpected error %v", content, got, err)
			}
			return
		}
		if got == "" || len(got) > 500 || strings.Contains(got, "\n") {
			t.Fatalf("%q: bad explanation %q", content, got)
		}
		if utf8.ValidString(content) && !utf8.ValidString(got) {
			t.Fatalf("%q: explanation %q is not valid UTF-8", content, got)
		}
	})
}

// FuzzParsePredictions: any reply gives exactly n predictions or an error.
func FuzzParsePredictions(f *testing.F) {
	for _, s := range []string{"[1,0,1]", "[true,false,true]", "x [1,0] y", "[1,0,", "[[1],0,1]", `["1","0","1"]`} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, content string, n int) {
		n = n % 64
		if n < 0 {
			n = -n
		}
		got, err := ParsePredictions(&ChatReply{Content: content, FinishReason: "stop"}, n)
		if err == nil && len(got) != n {
			t.Fatalf("%q: %d predictions for %d", content, len(got), n)
		}
	})
}
