package sae

import (
	"math"
	"slices"

	"saex/internal/compute/kernel"
)

// key is a positive candidate feature packed into one integer that orders
// candidates as the output does (larger value first, then lower index): the
// value's bits (positive float32 values, +Inf included, order as their bit
// patterns) above the complemented index (a lower index gives a larger key). Heaps and sorts of keys compare single integers instead of
// calling a comparison function. Only values > 0 are ever collected, so
// the packing is exact.
type key uint64

func makeKey(v float32, i int32) key {
	return key(uint64(math.Float32bits(v))<<32 | uint64(^uint32(i)))
}

func (k key) value() float32 { return math.Float32frombits(uint32(k >> 32)) }
func (k key) index() int32   { return int32(^uint32(k)) }

// collector gathers the positive candidates of each row. With a limit it
// keeps the best limit per row in a min-heap (root = worst kept), so most
// values are rejected by one comparison against the root; without one it
// keeps them all.
type collector struct {
	limit int
	heap  []key   // [rows*limit] when limit > 0
	n     []int32 // heap sizes
	lists [][]key
	idx   []int32 // addRow's scratch: a tile row's candidate columns
	keys  []key   // addRow's scratch: a heap plus the candidates
}

func (c *collector) init(limit, rows int) {
	c.limit = limit
	if limit > 0 {
		c.heap = make([]key, rows*limit)
		c.n = make([]int32, rows)
	} else {
		c.lists = make([][]key, rows)
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

// count returns how many candidates row r holds.
func (c *collector) count(r int) int {
	if c.limit > 0 {
		return int(c.n[r])
	}
	return len(c.lists[r])
}

// add offers one positive candidate for row r.
func (c *collector) add(r int, v float32, i int32) {
	x := makeKey(v, i)
	if c.limit == 0 {
		c.lists[r] = append(c.lists[r], x)
		return
	}
	h := c.heap[r*c.limit : (r+1)*c.limit]
	n := int(c.n[r])
	if n < c.limit {
		h[n] = x
		siftUp(h, n)
		c.n[r]++
		return
	}
	if x > h[0] {
		h[0] = x
		siftDown(h)
	}
}

// addRow offers tile values (plus bias) of row r whose columns start at
// col0, keeping those > 0: the ReLU/TopK inner loop.
func (c *collector) addRow(r int, tile, bias []float32, col0 int32) {
	bias = bias[:len(tile)]
	if cap(c.idx) < len(tile) {
		c.idx = make([]int32, len(tile))
	}
	idx := c.idx[:len(tile)]
	// lo is the value a candidate must reach: 0 until the heap is full
	// (only positive values count), then the worst kept value.
	lo := float32(math.SmallestNonzeroFloat32) // v >= lo  <=>  v > 0
	if c.limit == 0 {
		l := c.lists[r]
		for _, j := range idx[:kernel.AtLeastIndices(tile, bias, lo, idx)] {
			l = append(l, makeKey(tile[j]+bias[j], col0+j))
		}
		c.lists[r] = l
		return
	}
	h := c.heap[r*c.limit : (r+1)*c.limit]
	n := int(c.n[r])
	if n < c.limit {
		// Filling the heap: every positive value is a candidate, so
		// gather them in one vectorised pass and keep the best limit of
		// them and the heap at once.
		cands := idx[:kernel.AtLeastIndices(tile, bias, lo, idx)]
		keys := append(c.keys[:0], h[:n]...)
		for _, j := range cands {
			keys = append(keys, makeKey(tile[j]+bias[j], col0+j))
		}
		c.keys = keys
		if len(keys) > c.limit {
			selectTop(keys, c.limit)
			keys = keys[:c.limit]
		}
		n = copy(h, keys)
		heapify(h[:n])
		c.n[r] = int32(n)
		return
	}
	// A full heap: most values are below its worst. Gather those that
	// reach it in one vectorised pass; the root rises as they go in, so
	// test each against the current root.
	lo = max(h[0].value(), lo)
	for _, j := range idx[:kernel.AtLeastIndices(tile, bias, lo, idx)] {
		if x := makeKey(tile[j]+bias[j], col0+j); x > h[0] {
			h[0] = x
			siftDown(h)
		}
	}
}

// selectTop reorders keys so that its k largest come first (in no order):
// quickselect with a median-of-three pivot.
func selectTop(keys []key, k int) {
	lo, hi := 0, len(keys)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Order keys[lo] >= keys[mid] >= keys[hi], then partition around
		// the middle one (descending).
		if keys[lo] < keys[mid] {
			keys[lo], keys[mid] = keys[mid], keys[lo]
		}
		if keys[mid] < keys[hi] {
			keys[mid], keys[hi] = keys[hi], keys[mid]
			if keys[lo] < keys[mid] {
				keys[lo], keys[mid] = keys[mid], keys[lo]
			}
		}
		pivot := keys[mid]
		i, j := lo, hi
		for i <= j {
			for keys[i] > pivot {
				i++
			}
			for keys[j] < pivot {
				j--
			}
			if i <= j {
				keys[i], keys[j] = keys[j], keys[i]
				i++
				j--
			}
		}
		// Now keys[lo..j] >= pivot >= keys[i..hi].
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// heapify arranges h as a min-heap (root = worst).
func heapify(h []key) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDownAt(h, i)
	}
}

// appendRow appends row r's candidates (unordered) to dst.
func (c *collector) appendRow(dst []key, r int) []key {
	if c.limit == 0 {
		return append(dst, c.lists[r]...)
	}
	return append(dst, c.heap[r*c.limit:r*c.limit+int(c.n[r])]...)
}

// sparse returns row r sorted (for the one-row collector).
func (c *collector) sparse(r int) Sparse {
	keys := c.appendRow(nil, r)
	slices.Sort(keys)
	sp := Sparse{Indices: make([]int32, len(keys)), Values: make([]float32, len(keys))}
	fillSorted(sp, keys)
	return sp
}

// fillSorted writes the best len(sp.Indices) of keys (sorted ascending) into
// sp, best first.
func fillSorted(sp Sparse, keys []key) {
	top := keys[len(keys)-len(sp.Indices):]
	for j := range sp.Indices {
		x := top[len(top)-1-j]
		sp.Indices[j], sp.Values[j] = x.index(), x.value()
	}
}

// mergeRows merges the per-worker collectors of t rows into sorted sparse
// rows of at most limit (0: no limit) features. Rows are merged in parallel;
// all rows share two backing arrays (each row's slices are capped, so an
// append to one never runs into the next).
func mergeRows(cols []collector, t, limit int) []Sparse {
	out := make([]Sparse, t)
	offs := make([]int, t+1)
	for r := range t {
		n := 0
		for w := range cols {
			n += cols[w].count(r)
		}
		if limit > 0 {
			n = min(n, limit)
		}
		offs[r+1] = offs[r] + n
	}
	idx := make([]int32, offs[t])
	val := make([]float32, offs[t])
	for r := range t {
		a, b := offs[r], offs[r+1]
		out[r] = Sparse{Indices: idx[a:b:b], Values: val[a:b:b]}
	}
	const chunk = 16
	merge := func(r0, r1 int) {
		var buf []key
		for r := r0; r < r1; r++ {
			buf = buf[:0]
			for w := range cols {
				buf = cols[w].appendRow(buf, r)
			}
			if limit > 0 && len(buf) > limit {
				selectTop(buf, limit)
				buf = buf[:limit]
			}
			slices.Sort(buf)
			fillSorted(out[r], buf)
		}
	}
	if t <= chunk {
		merge(0, t)
		return out
	}
	kernel.ForEach((t+chunk-1)/chunk, func(_, c int) {
		merge(c*chunk, min(t, (c+1)*chunk))
	})
	return out
}

// siftUp restores the min-heap (root = worst) after appending at i.
func siftUp(h []key, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// siftDown restores the full heap h after its root was replaced.
func siftDown(h []key) { siftDownAt(h, 0) }

// siftDownAt moves h[i] down to its place in the min-heap h.
func siftDownAt(h []key, i int) {
	n := len(h)
	x := h[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r] < h[c] {
			c = r
		}
		if x <= h[c] {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = x
}
