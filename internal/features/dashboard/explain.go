package dashboard

import (
	"fmt"
	"sort"
	"strings"

	"saex/internal/features"
)

// With no LLM in the loop, the builder labels every live feature with what
// its dashboard already shows: the tokens it peaks on in its top examples
// and the tokens it promotes most. The label is marked as such (type and
// explainer), so a reader never mistakes it for auto-interp, and it gives the
// explanation search, the browser and the prompt tool words to work with.
const (
	// AutoExplanationType is the method name of the builder's labels.
	AutoExplanationType = features.AutoLabelType
	// AutoExplanationModel is the explainer of the builder's labels: none.
	AutoExplanationModel = "none"
)

// autoExplanation returns the label of a live feature, nil for a dead one.
func autoExplanation(id string, ft *features.Feature) *features.Explanation {
	type tokenCount struct {
		tok string
		n   int
	}
	counts := map[string]int{}
	top := 0
	for _, a := range ft.Activations {
		if !a.InTopGroup() || a.MaxValueTokenIndex >= len(a.Tokens) || a.MaxValue <= 0 {
			continue
		}
		counts[a.Tokens[a.MaxValueTokenIndex]]++
		top++
	}
	if top == 0 {
		return nil
	}
	ranked := make([]tokenCount, 0, len(counts))
	for t, n := range counts {
		ranked = append(ranked, tokenCount{t, n})
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].n != ranked[j].n {
			return ranked[i].n > ranked[j].n
		}
		return ranked[i].tok < ranked[j].tok
	})
	var parts []string
	for _, tc := range ranked[:min(3, len(ranked))] {
		parts = append(parts, fmt.Sprintf("“%s” %d/%d", features.TokenLabel(tc.tok), tc.n, top))
	}
	desc := "peaks on " + strings.Join(parts, ", ")
	if len(ft.PosStr) > 0 {
		var boosts []string
		for _, t := range ft.PosStr[:min(3, len(ft.PosStr))] {
			boosts = append(boosts, "“"+features.TokenLabel(t)+"”")
		}
		desc += "; promotes " + strings.Join(boosts, ", ")
	}
	return &features.Explanation{ID: id, Description: desc, TypeName: AutoExplanationType,
		ExplanationModelName: AutoExplanationModel, AuthorID: CreatorID}
}
