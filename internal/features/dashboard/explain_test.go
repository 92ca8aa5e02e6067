package dashboard

import (
	"testing"

	"saex/internal/features"
)

func TestAutoExplanation(t *testing.T) {
	ex := func(tokens []string, at int, bin float64) *features.Activation {
		return &features.Activation{Tokens: tokens, MaxValueTokenIndex: at, MaxValue: 1, BinMin: ptr(bin)}
	}
	ft := &features.Feature{
		PosStr: []string{" !=", " \xE2\x88", "\n", " <"},
		Activations: []*features.Activation{
			ex([]string{"if", " err"}, 1, features.TopBin),
			ex([]string{"x", " err"}, 1, features.TopBin),
			ex([]string{"\x00", "b"}, 0, features.TopBin),
			ex([]string{" err", "y"}, 0, features.TopBin),
			ex([]string{"z", "w"}, 1, 0.5), // interval groups do not count
		},
	}
	e := autoExplanation("k/auto", ft)
	// Plain text, not Go-quoted: a split character is a placeholder, a
	// control character its picture.
	want := "peaks on “ err” 3/4, “␀” 1/4; promotes “ !=”, “ \uFFFD”, “↵”"
	if e == nil || e.Description != want || e.TypeName != AutoExplanationType || e.ID != "k/auto" {
		t.Fatalf("got %+v, want description %s", e, want)
	}
	if e := autoExplanation("dead", &features.Feature{}); e != nil {
		t.Errorf("dead feature labelled: %+v", e)
	}
}
