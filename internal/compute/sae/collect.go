package sae

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

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
// keeps, per row, a buffer of at most room candidates and a threshold lo:
// values below lo cannot be among the row's best limit. Candidates that
// reach lo are appended (a vectorised gather and a store each); when the
// buffer is full it is cut back to its best limit by quickselect and lo
// rises to the worst of them. A min-heap would test fewer candidates, but
// each insertion into it is a chain of dependent, unpredictable branches:
// on the demo SAEs (4,096 features, k = 32) the heap took as long as the
// product itself. The collectors of one encode (one per worker, each
// seeing part of every row's columns) share the thresholds: a worker's
// lo is a lower bound for the whole row, so the others filter by it too.
// Without a limit every positive candidate is kept.
type collector struct {
	limit int
	room  int             // buffer capacity per row when limit > 0
	buf   []key           // [rows*room] when limit > 0
	n     []int32         // candidates held per row
	lo    []atomic.Uint32 // per row: bits of the value a candidate must reach (shared)
	lists [][]key
	idx   []int32 // addRow's scratch: a tile row's candidate columns
}

// minValue is the threshold of a row with fewer than limit candidates:
// v >= minValue <=> v > 0.
const minValue = float32(math.SmallestNonzeroFloat32)

// init empties c for rows rows, reusing its arrays where they are large
// enough (the buffers need no clearing: only their first n[r] keys count).
func (c *collector) init(limit, rows int) {
	c.limit = limit
	if limit > 0 {
		c.room = max(4*limit, limit+64)
		c.buf = resize(c.buf, rows*c.room)
		c.n = resize(c.n, rows)
		clear(c.n)
		c.lo = resize(c.lo, rows)
		for r := range c.lo {
			c.lo[r].Store(math.Float32bits(minValue))
		}
		return
	}
	c.lists = resize(c.lists, rows)
	for r := range c.lists {
		c.lists[r] = c.lists[r][:0]
	}
}

// shareThresholds makes every collector of cols (initialised for the same
// rows) use the first one's thresholds.
func shareThresholds(cols []collector) {
	for w := 1; w < len(cols); w++ {
		cols[w].lo = cols[0].lo
	}
}

// threshold returns row r's current threshold.
func (c *collector) threshold(r int) float32 {
	return math.Float32frombits(c.lo[r].Load())
}

// raise lifts row r's threshold to v (positive) unless it is higher
// already, and returns the threshold now in force.
func (c *collector) raise(r int, v float32) float32 {
	bits := math.Float32bits(v) // positive floats order as their bits
	for {
		old := c.lo[r].Load()
		if old >= bits {
			return math.Float32frombits(old)
		}
		if c.lo[r].CompareAndSwap(old, bits) {
			return v
		}
	}
}

// resize returns s with length n, reallocated only when it is too small.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Collectors and sae_in buffers are reused across encodes (the dashboard
// build and the prompt engine encode thousands of batches); nothing in them
// outlives the call that took them.
var (
	collectorPool sync.Pool // *[]collector
	floatPool     sync.Pool // *[]float32
)

func getCollectors(workers int) []collector {
	if p, ok := collectorPool.Get().(*[]collector); ok && len(*p) >= workers {
		return (*p)[:workers]
	}
	return make([]collector, workers)
}

func putCollectors(cols []collector) { collectorPool.Put(&cols) }

func getFloats(n int) *[]float32 {
	if p, ok := floatPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}

func putFloats(p *[]float32) { floatPool.Put(p) }

// reset empties a one-row collector for reuse.
func (c *collector) reset() {
	if c.limit > 0 {
		c.n[0] = 0
		c.lo[0].Store(math.Float32bits(minValue))
	} else {
		c.lists[0] = c.lists[0][:0]
	}
}

// count returns how many candidates row r holds (more than limit when its
// buffer has not been cut back).
func (c *collector) count(r int) int {
	if c.limit > 0 {
		return int(c.n[r])
	}
	return len(c.lists[r])
}

// add offers one positive candidate for row r.
func (c *collector) add(r int, v float32, i int32) {
	if c.limit == 0 {
		c.lists[r] = append(c.lists[r], makeKey(v, i))
		return
	}
	if v < c.threshold(r) {
		return
	}
	h := c.buf[r*c.room : (r+1)*c.room]
	n := int(c.n[r])
	h[n] = makeKey(v, i)
	n++
	if n == c.room {
		var lo float32
		n, lo = cutBack(h, c.limit)
		c.raise(r, lo)
	}
	c.n[r] = int32(n)
}

// cutBack keeps the best limit keys of the full buffer h at its front and
// returns their number and the worst kept value, the row's new threshold.
func cutBack(h []key, limit int) (int, float32) {
	selectTop(h, limit)
	worst := h[0]
	for _, x := range h[1:limit] {
		worst = min(worst, x)
	}
	return limit, worst.value()
}

// addRow offers tile values (plus bias) of row r whose columns start at
// col0, keeping those > 0: the ReLU/TopK inner loop.
func (c *collector) addRow(r int, tile, bias []float32, col0 int32) {
	bias = bias[:len(tile)]
	if cap(c.idx) < len(tile) {
		c.idx = make([]int32, len(tile))
	}
	idx := c.idx[:len(tile)]
	if c.limit == 0 {
		l := c.lists[r]
		for _, j := range idx[:kernel.AtLeastIndices(tile, bias, minValue, idx)] {
			l = append(l, makeKey(tile[j]+bias[j], col0+j))
		}
		c.lists[r] = l
		return
	}
	h := c.buf[r*c.room : (r+1)*c.room]
	n, lo := int(c.n[r]), c.threshold(r)
	cands := idx[:kernel.AtLeastIndices(tile, bias, lo, idx)]
	for len(cands) > 0 {
		m := min(len(cands), len(h)-n)
		for _, j := range cands[:m] {
			h[n] = makeKey(tile[j]+bias[j], col0+j)
			n++
		}
		cands = cands[m:]
		if n < len(h) {
			break
		}
		n, lo = cutBack(h, c.limit)
		lo = c.raise(r, lo)
		// The rest must now reach the raised threshold.
		kept := cands[:0]
		for _, j := range cands {
			if tile[j]+bias[j] >= lo {
				kept = append(kept, j)
			}
		}
		cands = kept
	}
	c.n[r] = int32(n)
}

// selectTop reorders keys so that its k largest come first, in no order:
// quickselect with a median-of-three pivot and a branch-free partition. A partition that branches on each
// comparison mispredicts about every other key, and the collectors' cut-
// backs run it on every row.
func selectTop(keys []key, k int) {
	lo, hi := 0, len(keys) // the k-th largest lies in keys[lo:hi]
	for hi-lo > 16 && lo < k && k < hi {
		p := median3(keys[lo], keys[lo+(hi-lo)/2], keys[hi-1])
		// Move the keys >= p to the front of keys[lo:hi]. Keys of one row
		// are distinct (they hold the feature index), and the median of
		// three distinct keys has one above and one below it, so both
		// parts are non-empty and the range shrinks.
		w := lo
		for i := lo; i < hi; i++ {
			x := keys[i]
			keys[i] = keys[w]
			keys[w] = x
			// w++ when x >= p, without a branch: x - p borrows when x < p.
			_, below := bits.Sub64(uint64(x), uint64(p), 0)
			w += int(1 - below)
		}
		if w == hi {
			// Only with repeated keys (never from the collectors): put
			// the keys equal to p last; if the top k reach into them,
			// any of them will do.
			w = lo
			for i := lo; i < hi; i++ {
				x := keys[i]
				keys[i] = keys[w]
				keys[w] = x
				if x > p {
					w++
				}
			}
			if w <= k {
				return
			}
		}
		if w <= k {
			lo = w
		} else {
			hi = w
		}
	}
	if lo < k && k < hi {
		small := keys[lo:hi]
		slices.Sort(small)
		slices.Reverse(small)
	}
}

// median3 returns the middle one of three keys.
func median3(a, b, c key) key {
	return max(min(a, b), min(max(a, b), c))
}

// appendRow appends row r's candidates (unordered) to dst.
func (c *collector) appendRow(dst []key, r int) []key {
	if c.limit == 0 {
		return append(dst, c.lists[r]...)
	}
	return append(dst, c.buf[r*c.room:r*c.room+int(c.n[r])]...)
}

// sparse returns row r's best limit, sorted (for the one-row collector).
func (c *collector) sparse(r int) Sparse {
	keys := c.appendRow(nil, r)
	if c.limit > 0 && len(keys) > c.limit {
		selectTop(keys, c.limit)
		keys = keys[:c.limit]
	}
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
