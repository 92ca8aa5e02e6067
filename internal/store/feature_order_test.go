package store

import (
	"math"
	"testing"

	"saex/internal/features"
)

// TestSortActivations pins the Go-side order of examples to the SQL order
// it replaced: by feature, top group first, maxValue descending with NaN
// first (PostgreSQL sorts NaN above every number), then id in byte order.
func TestSortActivations(t *testing.T) {
	top, q := float64(features.TopBin), 0.5
	mk := func(idx int, id string, v float64, bin *float64) rawActivation {
		return rawActivation{a: &features.Activation{Index: idx, ID: id, MaxValue: v, BinMin: bin}}
	}
	rows := []rawActivation{
		mk(2, "a", 9, nil),
		mk(1, "q2", 3, &q),
		mk(1, "t2", 1, &top),
		mk(1, "q1", 3, &q),
		mk(1, "t1", 1, nil),
		mk(1, "qn", math.NaN(), &q),
		mk(1, "tb", 2, &top),
		mk(1, "B", 3, &q), // upper case sorts before lower case in byte order
	}
	sortActivations(rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.a.ID)
	}
	want := []string{"tb", "t1", "t2", "qn", "B", "q1", "q2", "a"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	if n := countIndex(rows, 1); n != 7 {
		t.Errorf("countIndex(1) = %d, want 7", n)
	}
}
