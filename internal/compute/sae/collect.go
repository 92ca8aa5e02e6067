package sae

import (
	"math"
	"slices"

	"saex/internal/compute/kernel"
)

// cand is a candidate feature: its activation and index.
type cand struct {
	v float32
	i int32
}

// better orders candidates: larger value first, then lower index.
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

// collector gathers the positive candidates of each row. With a limit it
// keeps the best limit per row in a min-heap (root = worst kept), so most
// values are rejected by one comparison against the root; without one it
// keeps them all.
type collector struct {
	limit int
	heap  []cand  // [rows*limit] when limit > 0
	n     []int32 // heap sizes
	lists [][]cand
}

func (c *collector) init(limit, rows int) {
	c.limit = limit
	if limit > 0 {
		c.heap = make([]cand, rows*limit)
		c.n = make([]int32, rows)
	} else {
		c.lists = make([][]cand, rows)
	}
}

// reset empties a one-row collector for reuse.
func (c *collector) reset() {
	if c.limit > 0 {
		c.n[0] = 0
	} else {
		c.lists[0] = c.lists[0][:0]
	}
}

// add offers one positive candidate for row r.
func (c *collector) add(r int, v float32, i int32) {
	if c.limit == 0 {
		c.lists[r] = append(c.lists[r], cand{v, i})
		return
	}
	h := c.heap[r*c.limit : (r+1)*c.limit]
	n := int(c.n[r])
	if n < c.limit {
		h[n] = cand{v, i}
		siftUp(h, n)
		c.n[r]++
		return
	}
	if better(cand{v, i}, h[0]) {
		h[0] = cand{v, i}
		siftDown(h)
	}
}

// addRow offers tile values (plus bias) of row r whose columns start at
// col0, keeping those > 0: the ReLU/TopK inner loop.
func (c *collector) addRow(r int, tile, bias []float32, col0 int32) {
	if c.limit == 0 {
		l := c.lists[r]
		for j, v := range tile {
			if v += bias[j]; v > 0 {
				l = append(l, cand{v, col0 + int32(j)})
			}
		}
		c.lists[r] = l
		return
	}
	bias = bias[:len(tile)] // one bounds check for the loop
	h := c.heap[r*c.limit : (r+1)*c.limit]
	n := int(c.n[r])
	// lo is the value a candidate must reach: 0 until the heap is full
	// (only positive values count), then the worst kept value.
	lo := float32(math.SmallestNonzeroFloat32) // v >= lo  <=>  v > 0
	if n == c.limit {
		lo = max(h[0].v, lo)
	}
	// Most values are below the bar: a vectorised scan skips to the next
	// candidate instead of testing each value in Go.
	for j := kernel.NextAtLeast(tile, bias, 0, lo); j < len(tile); j = kernel.NextAtLeast(tile, bias, j+1, lo) {
		v := tile[j] + bias[j]
		x := cand{v, col0 + int32(j)}
		if n < c.limit {
			h[n] = x
			siftUp(h, n)
			n++
			if n == c.limit {
				lo = max(h[0].v, lo)
			}
			continue
		}
		if better(x, h[0]) {
			h[0] = x
			siftDown(h)
			lo = max(h[0].v, lo)
		}
	}
	c.n[r] = int32(n)
}

// appendRow appends row r's candidates (unordered) to dst.
func (c *collector) appendRow(dst []cand, r int) []cand {
	if c.limit == 0 {
		return append(dst, c.lists[r]...)
	}
	return append(dst, c.heap[r*c.limit:r*c.limit+int(c.n[r])]...)
}

// sparse returns row 0 sorted (for the one-row collector).
func (c *collector) sparse(r int) Sparse {
	row := slices.SortedFunc(slices.Values(c.appendRow(nil, r)), compareCand)
	return toSparse(row)
}

// siftUp restores the min-heap (root = worst) after appending at i.
func siftUp(h []cand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// siftDown restores the full heap h after its root was replaced.
func siftDown(h []cand) {
	i, n := 0, len(h)
	for {
		w := i
		if l := 2*i + 1; l < n && better(h[w], h[l]) {
			w = l
		}
		if r := 2*i + 2; r < n && better(h[w], h[r]) {
			w = r
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}
