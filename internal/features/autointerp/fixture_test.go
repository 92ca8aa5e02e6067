package autointerp

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"saex/internal/features"
)

// testFeature is a small feature whose examples fire on " err" after "if".
func testFeature(index int) *features.Feature {
	top := float64(features.TopBin)
	mk := func(words []string, vals []float32) *features.Activation {
		best := 0
		for i, v := range vals {
			if v > vals[best] {
				best = i
			}
		}
		return &features.Activation{Tokens: words, Values: vals, MaxValue: float64(vals[best]), MaxValueTokenIndex: best, BinMin: &top}
	}
	ft := &features.Feature{ModelID: "m", SourceID: "0-res", Index: index, MaxActApprox: 8,
		PosStr: []string{" !=", " ==", "\n"}, TopkCosSimIndices: []int{index, 3, 5}}
	for k := range 9 {
		ft.Activations = append(ft.Activations, mk(
			[]string{"\t", "if", " err", " !=", " nil", " {", "\n", "\treturn", fmt.Sprintf(" x%d", k)},
			[]float32{0, 0, float32(8 - k/2), 1, 0, 0, 0, 0, 0}))
	}
	return ft
}

// fakeLLM answers from a queue of replies (then repeats the last one) and
// records the requests.
type fakeLLM struct {
	mu      sync.Mutex
	replies []any // *ChatReply or error
	reqs    []ChatRequest
}

func (f *fakeLLM) Chat(_ context.Context, req ChatRequest) (*ChatReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	r := f.replies[0]
	if len(f.replies) > 1 {
		f.replies = f.replies[1:]
	}
	switch r := r.(type) {
	case error:
		return nil, r
	case func(ChatRequest) *ChatReply:
		return r(req), nil
	}
	c := *r.(*ChatReply)
	return &c, nil
}

// oracle is a scorer that answers each example's truth: "1" for the
// contexts that contain " err" (detection) or mark it (fuzzing).
func oracle(req ChatRequest) *ChatReply {
	var out []string
	for _, line := range strings.Split(req.Messages[1].Content, "\n") {
		if !strings.HasPrefix(line, "Example ") {
			continue
		}
		if strings.Contains(line, "<< err") || (!strings.Contains(line, "<<") && strings.Contains(line, " err")) {
			out = append(out, "1")
		} else {
			out = append(out, "0")
		}
	}
	return &ChatReply{Content: "[" + strings.Join(out, ",") + "]", FinishReason: "stop", PromptTokens: 100, CompletionTokens: 10}
}
