package features

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestCheckSourceID(t *testing.T) {
	for id, ok := range map[string]bool{
		"0-res-jb": true, "20-gemmascope-res-131k": true, "blocks.0.hook_resid_pre": true, "99999-x": true,
		"00000000000000000006-res": true, // leading zeros: layer 6
		"100000-x":                 false, "99999999999-res-x": false, "9223372036854775808-x": false,
		"": false, "a/b": false, "-x": false, "x\xff": false,
	} {
		if err := CheckSourceID(id); (err == nil) != ok {
			t.Errorf("CheckSourceID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestParseIndexBounds(t *testing.T) {
	for s, ok := range map[string]bool{
		"0": true, "2147483647": true, " 12 ": true,
		"2147483648": false, "4294967296": false, "9223372036854775807": false, "9223372036854775808": false,
		"-1": false, "1e3": false, "": false, "abc": false,
	} {
		if _, err := ParseIndex(s); (err == nil) != ok {
			t.Errorf("ParseIndex(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}

// TestValidIDMatchesPattern checks the hand-written ValidID against the
// pattern it implements, on the edges and on random strings over the id
// alphabet and its neighbours.
func TestValidIDMatchesPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	cases := []string{"", "a", "A", "0", ".", "_", "-", "a.", "a_b-c.d", "/", "a/b", "a b", "a\n", "a\x00", "é",
		"x\xff", strings.Repeat("a", 128), strings.Repeat("a", 129), "a" + strings.Repeat(".", 127), "\na"}
	alphabet := "aZ09._-/ \n\x00\xff~`@[{:"
	rng := rand.New(rand.NewPCG(3, 5))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := ValidID(s), pattern.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}
