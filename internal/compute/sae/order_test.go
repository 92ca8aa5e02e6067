package sae

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// cand is a candidate feature of the reference encodes: its activation and
// index.
type cand struct {
	v float32
	i int32
}

// better is the output order: larger value first, then lower index.
func better(a, b cand) bool { return a.v > b.v || (a.v == b.v && a.i < b.i) }

func compareCand(a, b cand) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

func toSparse(c []cand) Sparse {
	sp := Sparse{Indices: make([]int32, len(c)), Values: make([]float32, len(c))}
	for i, x := range c {
		sp.Indices[i], sp.Values[i] = x.i, x.v
	}
	return sp
}

// TestKeyOrder checks that packed keys order positive candidates exactly as
// better does and unpack to the same value and index.
func TestKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	vals := []float32{math.SmallestNonzeroFloat32, 1e-30, 0.5, 1, 1, 2, 3.4e38, float32(math.Inf(1))}
	for range 200 {
		vals = append(vals, float32(r.ExpFloat64()))
	}
	var cs []cand
	for _, v := range vals {
		cs = append(cs, cand{v, r.Int32N(1 << 20)}, cand{v, 0}, cand{v, math.MaxInt32})
	}
	for _, a := range cs {
		ka := makeKey(a.v, a.i)
		if ka.value() != a.v || ka.index() != a.i {
			t.Fatalf("key of %v unpacks to (%v, %d)", a, ka.value(), ka.index())
		}
		for _, b := range cs[:60] {
			if (ka > makeKey(b.v, b.i)) != better(a, b) {
				t.Fatalf("key order of %v and %v differs from better", a, b)
			}
		}
	}
}

// TestMergeRows checks the merge of per-worker collectors: best first,
// capped at the limit, rows not sharing capacity.
func TestMergeRows(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, limit := range []int{0, 3} {
		const rows, workers = 40, 3
		cols := make([]collector, workers)
		want := make([][]cand, rows)
		for w := range cols {
			cols[w].init(limit, rows)
		}
		for row := range rows {
			for j := range r.IntN(12) {
				c := cand{float32(r.IntN(5) + 1), int32(j*workers + r.IntN(workers))}
				if slices.Contains(want[row], c) || slices.ContainsFunc(want[row], func(x cand) bool { return x.i == c.i }) {
					continue
				}
				want[row] = append(want[row], c)
				cols[int(c.i)%workers].add(row, c.v, c.i)
			}
			slices.SortFunc(want[row], compareCand)
			if limit > 0 && len(want[row]) > limit {
				want[row] = want[row][:limit]
			}
		}
		got := mergeRows(cols, rows, limit)
		for row := range rows {
			w := toSparse(want[row])
			if !slices.Equal(got[row].Indices, w.Indices) || !slices.Equal(got[row].Values, w.Values) {
				t.Fatalf("limit %d row %d: got %v, want %v", limit, row, got[row], w)
			}
			if cap(got[row].Indices) != len(got[row].Indices) || cap(got[row].Values) != len(got[row].Values) {
				t.Fatalf("row %d has spare capacity", row)
			}
		}
	}
}

// TestSelectTop checks that the k largest keys end up first, for random,
// sorted, reversed and duplicate-heavy inputs.
func TestSelectTop(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for trial := range 3000 {
		n := 1 + r.IntN(200)
		keys := make([]key, n)
		for i := range keys {
			switch trial % 4 {
			case 0:
				keys[i] = key(r.Uint64())
			case 1:
				keys[i] = key(i)
			case 2:
				keys[i] = key(n - i)
			default:
				keys[i] = key(r.IntN(4))
			}
		}
		k := 1 + r.IntN(n)
		want := slices.Clone(keys)
		slices.Sort(want)
		selectTop(keys, k)
		top := slices.Clone(keys[:k])
		slices.Sort(top)
		if !slices.Equal(top, want[n-k:]) {
			t.Fatalf("trial %d n=%d k=%d: top %v, want %v", trial, n, k, top, want[n-k:])
		}
	}
}

// TestPrepareSubtractionOnly checks the float32 fast path of prepare (b_dec
// subtraction only) against the float64 arithmetic of the general path, bit
// for bit, over values of very different magnitudes.
func TestPrepareSubtractionOnly(t *testing.T) {
	const din, rows = 64, 50
	s := randomSAE(t, Config{Architecture: TopK, DIn: din, DSAE: 64, K: 4, ApplyBDecToInput: true,
		NormalizeActivations: NormNone, ReshapeActivations: "none"}, 3)
	r := rand.New(rand.NewPCG(4, 4))
	mag := func() float32 {
		return float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(120)-60)))
	}
	for i := range s.BDec {
		s.BDec[i] = mag()
	}
	x := make([]float32, rows*din)
	for i := range x {
		x[i] = mag()
	}
	in, norms := s.prepare(x, rows)
	for i, v := range x {
		want := float32(float64(v) - float64(s.BDec[i%din]))
		if math.Float32bits(in[i]) != math.Float32bits(want) {
			t.Fatalf("element %d: %g - %g = %g, want %g", i, v, s.BDec[i%din], in[i], want)
		}
	}
	if norms[rows-1] != (Norm{InScale: 1, OutScale: 1}) {
		t.Fatalf("norm %+v, want the identity", norms[rows-1])
	}
}

// TestCollectorCutBack feeds rows far more candidates than a collector's
// buffer holds, through addRow (tiles of varying widths and column offsets)
// and add, with many equal values, and checks each row against a sort of
// all its positive candidates: the cut-backs and the raised thresholds must
// never drop one of the best limit, ties included. Three collectors share
// the thresholds, as the workers of one encode do, each seeing part of
// every row.
func TestCollectorCutBack(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, limit := range []int{1, 3, 32} {
		for _, distinct := range []int{4, 50, 1 << 20} {
			const rows, width = 6, 3000
			cols := make([]collector, 3)
			for w := range cols {
				cols[w].init(limit, rows)
			}
			shareThresholds(cols)
			for row := range rows {
				vals := make([]float32, width)
				bias := make([]float32, width)
				for j := range vals {
					vals[j] = float32(r.IntN(distinct)-distinct/3) / 7
					bias[j] = float32(r.IntN(3)-1) / 7
				}
				var all []cand
				for j, v := range vals {
					if v+bias[j] > 0 {
						all = append(all, cand{v + bias[j], int32(j)})
					}
				}
				// The first half in tiles through addRow (in a shuffled
				// order of tiles), the rest one by one through add.
				half := width / 2
				var tiles [][2]int
				for col := 0; col < half; {
					w := min(half-col, 1+r.IntN(200))
					tiles = append(tiles, [2]int{col, w})
					col += w
				}
				r.Shuffle(len(tiles), func(i, j int) { tiles[i], tiles[j] = tiles[j], tiles[i] })
				for i, tl := range tiles {
					cols[i%3].addRow(row, vals[tl[0]:tl[0]+tl[1]], bias[tl[0]:tl[0]+tl[1]], int32(tl[0]))
				}
				for j := half; j < width; j++ {
					if v := vals[j] + bias[j]; v > 0 {
						cols[j%3].add(row, v, int32(j))
					}
				}
				slices.SortFunc(all, compareCand)
				want := toSparse(all[:min(limit, len(all))])
				got := mergeRows(cols, rows, limit)[row]
				if !slices.Equal(got.Indices, want.Indices) || !slices.Equal(got.Values, want.Values) {
					t.Fatalf("limit %d, %d distinct values, row %d: got %v, want %v", limit, distinct, row, got, want)
				}
			}
		}
	}
}
