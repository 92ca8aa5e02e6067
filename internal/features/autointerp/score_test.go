package autointerp

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"saex/internal/features"
)

func TestBalancedAccuracyHandComputed(t *testing.T) {
	cases := []struct {
		name        string
		truth, pred []bool
		want        float64
	}{
		// TPR 2/3, TNR 1/2: (0.6667+0.5)/2.
		{"mixed", []bool{true, true, true, false, false}, []bool{true, true, false, false, true}, (2.0/3 + 0.5) / 2},
		// Always "yes": TPR 1, TNR 0, whatever the balance.
		{"always yes", []bool{true, false, false, false}, []bool{true, true, true, true}, 0.5},
		{"perfect", []bool{true, false}, []bool{true, false}, 1},
		{"inverted", []bool{true, false}, []bool{false, true}, 0},
		// 4 positives, 1 negative: plain accuracy would be 0.8, balanced 0.5.
		{"imbalanced", []bool{true, true, true, true, false}, []bool{true, true, true, true, true}, 0.5},
		{"only positives", []bool{true, true, true, true}, []bool{true, false, true, true}, 0.75},
		{"empty", nil, nil, 0},
	}
	for _, c := range cases {
		var cm Confusion
		for i := range c.truth {
			cm.Add(c.truth[i], c.pred[i])
		}
		if got := cm.BalancedAccuracy(); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v, want %v (%+v)", c.name, got, c.want, cm)
		}
	}
}

func TestParsePredictions(t *testing.T) {
	ok := []struct {
		text string
		want []bool
	}{
		{"[1,0,1]", []bool{true, false, true}},
		{"Sure: [0, 1, \"1\"]", []bool{false, true, true}},
		{"```json\n[true,false,false]\n```", []bool{true, false, false}},
	}
	for _, c := range ok {
		got, err := ParsePredictions(&ChatReply{Content: c.text, FinishReason: "stop"}, 3)
		if err != nil || len(got) != 3 || got[0] != c.want[0] || got[1] != c.want[1] || got[2] != c.want[2] {
			t.Errorf("%q: %v, %v", c.text, got, err)
		}
	}
	bad := []struct {
		reply ChatReply
		err   error
	}{
		{ChatReply{Content: "[1,0]", FinishReason: "stop"}, ErrMalformed},
		{ChatReply{Content: "[1,0,2]", FinishReason: "stop"}, ErrMalformed},
		{ChatReply{Content: "[1,0,", FinishReason: "length"}, ErrTruncated},
		{ChatReply{Content: "I'm sorry, I can't", FinishReason: "stop"}, ErrRefusal},
		{ChatReply{Refusal: "no"}, ErrRefusal},
		{ChatReply{Content: "[1,0,{]", FinishReason: "stop"}, ErrMalformed},
	}
	for _, c := range bad {
		if _, err := ParsePredictions(&c.reply, 3); !errors.Is(err, c.err) {
			t.Errorf("%q: %v, want %v", c.reply.Content, err, c.err)
		}
	}
}

func TestScorersAgainstOracleAndYesMan(t *testing.T) {
	ft := testFeature(2)
	split := SplitExamples(ft, Sampling{})
	negs := []Context{
		{Tokens: []string{"The", " cat", " sat", " on", " the", " mat"}, Values: make([]float32, 6)},
		{Tokens: []string{"x", " :=", " 1"}, Values: make([]float32, 3)},
		{Tokens: []string{"for", " i", " :=", " range"}, Values: make([]float32, 4)},
	}
	for _, typ := range []string{ScoreDetection, ScoreFuzzing} {
		s := &Scorer{LLM: &fakeLLM{replies: []any{oracle}}, Model: "judge"}
		res, err := s.Score(context.Background(), typ, "err", split.Test, negs, 42)
		if err != nil {
			t.Fatal(err)
		}
		if res.Value != 1 || res.Confusion != (Confusion{TP: 3, TN: 3}) {
			t.Errorf("%s oracle: %v %+v, want 1 with 3 TP and 3 TN", typ, res.Value, res.Confusion)
		}
		var details struct {
			Breakdown []Sample `json:"breakdown"`
		}
		if err := json.Unmarshal([]byte(res.Details()), &details); err != nil || len(details.Breakdown) != 6 {
			t.Errorf("details %s: %v", res.Details(), err)
		}
		yes := &Scorer{LLM: &fakeLLM{replies: []any{&ChatReply{Content: "[1,1,1,1,1,1]", FinishReason: "stop"}}}, Model: "judge"}
		res, err = yes.Score(context.Background(), typ, "err", split.Test, negs, 42)
		if err != nil || res.Value != 0.5 {
			t.Errorf("%s always-yes: %v, %v; want 0.5", typ, res.Value, err)
		}
	}
	s := &Scorer{LLM: &fakeLLM{replies: []any{oracle}}}
	if _, err := s.Score(context.Background(), ScoreDetection, "err", split.Test, nil, 1); err == nil {
		t.Error("scoring without non-activating contexts should fail")
	}
}

func TestNonActivatingKeepsApart(t *testing.T) {
	ft := testFeature(0)
	other := testFeature(3) // same texts as ft: must not be used
	third := &features.Feature{Index: 4, Activations: []*features.Activation{
		{Tokens: []string{"The", " quick", " fox"}, Values: []float32{0, 2, 0}, MaxValue: 2, MaxValueTokenIndex: 1}}}
	got := NonActivating(ft, []*features.Feature{other, third}, 5, 32, 1)
	if len(got) != 1 || got[0].Text() != "The quick fox" || got[0].Max() != 0 {
		t.Fatalf("non-activating %+v, want only the unrelated context, zeroed", got)
	}
	if idx := CandidateIndexes(ft, 100, 8); len(idx) != 10 || idx[0] != 3 || idx[1] != 5 {
		t.Errorf("candidates %v: want the 2 neighbours first, then 8 random", idx)
	}
}

func TestParseRangeAndScorers(t *testing.T) {
	got, err := ParseRange("0-2,5, 7-7")
	if err != nil || len(got) != 5 || got[3] != 5 || got[4] != 7 {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{"", "3-1", "a", "-4", "1-x"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	sc, err := ParseScorers("detection, fuzzing,detection")
	if err != nil || len(sc) != 2 || sc[0] != ScoreDetection || sc[1] != ScoreFuzzing {
		t.Errorf("%v %v", sc, err)
	}
	if _, err := ParseScorers("simulation"); err == nil {
		t.Error("unknown scorer accepted")
	}
}
