package kernel

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Blocking parameters. The B slice one item works on (kc rows of gp panels)
// should stay in the 1 MiB L2 while every row block of A (mrBlock×kc, read in
// place) streams past it.
const (
	kcMax      = 512       // longest K chunk before splitting K
	smallM     = 32        // up to this many rows, B is walked once in kcSmall chunks
	kcSmall    = 128       // K chunk for small m: 32 KiB of one panel
	bSliceMax  = 384 << 10 // bytes of B one item keeps hot in L2
	tileMax    = 256 << 10 // bytes of a worker's private output tile
	serialWork = 1 << 18   // multiply-adds below which one thread does it all
	itemsPer   = 4         // items per worker wanted for load balance
)

// plan is one product split into items: a rectangle of row blocks × panel
// groups that one worker computes completely (all of K).
type plan struct {
	im         *impl
	m, k, n    int
	b          *Packed
	a          []float32 // m×k row-major, read in place by the micro-kernels
	bias       []float32 // nil, or n values (MatMul only)
	c          []float32 // destination (MatMul), nil for MatMulTiles
	add        bool      // c += a@B (+ bias) instead of c = a@B (+ bias)
	fn         func(worker, row0, rows, col0, cols int, tile []float32, ld int)
	kc         int    // K chunk
	gp         int    // panels per item
	rowsPer    int    // rows per item, a multiple of mrBlock
	panelOuter bool   // loop panels outermost with short K chunks (few rows)
	spans      []span // the items, in the order workers take them
	workers    int
	next       atomic.Int64
}

// span is one item: rows [r0,r1) × panels [p0,p1).
type span struct{ r0, r1, p0, p1 int32 }

func matMul(im *impl, c, a []float32, m int, b *Packed, bias []float32, add bool) {
	pl := newPlan(im, a, m, b, false)
	pl.c, pl.bias, pl.add = c, bias, add
	pl.run()
}

func matMulTiles(im *impl, a []float32, m int, b *Packed, fn func(worker, row0, rows, col0, cols int, tile []float32, ld int)) {
	pl := newPlan(im, a, m, b, true)
	pl.fn = fn
	pl.run()
}

func newPlan(im *impl, a []float32, m int, b *Packed, tiles bool) *plan {
	k := b.k
	pl := &plan{im: im, m: m, k: k, n: b.n, b: b, a: a}

	// K chunking only pays when B is reused by several row blocks.
	pl.kc = k
	if m > mrBlock && k > kcMax {
		nk := (k + kcMax - 1) / kcMax
		pl.kc = (k + nk - 1) / nk
	}
	pl.gp = max(1, min(b.panels, bSliceMax/(pl.kc*panelWidth*4)))
	if m <= mrBlock {
		pl.gp = min(2, b.panels) // no B reuse: keep items small for balance
	}
	pl.rowsPer = roundUp(m, mrBlock)
	if m > mrBlock && m <= smallM {
		pl.kc, pl.panelOuter = min(k, kcSmall), true
	}

	threads := Threads()
	if threads > 1 && m*k*b.n >= serialWork {
		// Split columns first (each item then streams its own part of B
		// once); split rows only when there are too few panel groups.
		want := threads * itemsPer
		if (b.panels+pl.gp-1)/pl.gp < want {
			pl.gp = max(1, b.panels/want)
		}
		if cols := (b.panels + pl.gp - 1) / pl.gp; cols < want && m > mrBlock {
			rowItems := min((want+cols-1)/cols, (m+mrBlock-1)/mrBlock)
			pl.rowsPer = roundUp((m+rowItems-1)/rowItems, mrBlock)
		}
		pl.gp = balancedGroup(b.panels, pl.gp, (m+pl.rowsPer-1)/pl.rowsPer, threads)
	} else {
		threads = 1
	}
	// Bound the private tile a worker fills before handing it on.
	if limit := roundUp(tileMax/(pl.gp*panelWidth*4), mrBlock); tiles && pl.rowsPer > limit {
		pl.rowsPer = limit
	}
	pl.buildSpans(threads)
	pl.workers = min(threads, len(pl.spans))
	return pl
}

// buildSpans lists the items: panel groups of gp × row ranges of rowsPer,
// except that the last `threads` of them are cut into pieces about a quarter
// their size. Workers start at different times and run at different speeds
// (the VM takes a core now and then); small items at the end mean that the
// one that finishes first waits a fraction of an item for the others, not a
// whole one.
func (pl *plan) buildSpans(threads int) {
	m, panels := pl.m, pl.b.panels
	rowItems := (m + pl.rowsPer - 1) / pl.rowsPer
	colItems := (panels + pl.gp - 1) / pl.gp
	n := rowItems * colItems
	tail := 0
	if threads > 1 && n >= threads {
		tail = threads
	}
	pl.spans = make([]span, 0, n+4*tail)
	for it := range n {
		ri, ci := it%rowItems, it/rowItems
		s := span{int32(ri * pl.rowsPer), int32(min(m, (ri+1)*pl.rowsPer)), int32(ci * pl.gp), int32(min(panels, (ci+1)*pl.gp))}
		if it < n-tail {
			pl.spans = append(pl.spans, s)
			continue
		}
		// Single panels, and rows cut too when that gives fewer than 4
		// pieces (keeping whole row blocks).
		np := int(s.p1 - s.p0)
		rows := int(s.r1 - s.r0)
		parts := min((4+np-1)/np, (rows+mrBlock-1)/mrBlock)
		step := roundUp((rows+parts-1)/parts, mrBlock)
		for p := s.p0; p < s.p1; p++ {
			for r := int(s.r0); r < int(s.r1); r += step {
				pl.spans = append(pl.spans, span{int32(r), int32(min(int(s.r1), r+step)), p, p + 1})
			}
		}
	}
}

// balancedGroup returns the panels per item, at most gp and at least half of
// it, that minimise the panels on the busiest worker when rowItems ×
// ceil(panels/g) equal items are dealt to threads workers (ties: the larger
// group, which reuses A more). 9 items on 2 workers, say, leave one worker
// idle for the last item; 12 smaller ones do not.
func balancedGroup(panels, gp, rowItems, threads int) int {
	best, bestCost := gp, -1
	for g := gp; g >= max(1, gp/2); g-- {
		items := (panels + g - 1) / g * rowItems
		cost := (items + threads - 1) / threads * g
		if bestCost < 0 || cost < bestCost {
			best, bestCost = g, cost
		}
	}
	return best
}

func roundUp(x, q int) int { return (x + q - 1) / q * q }

// worker holds the per-worker scratch of one product.
type worker struct {
	id      int
	tile    []float32
	wide    []float32 // 16-bit B widened for a micro-kernel that reads float32
	biasPad [panelWidth]float32
	// next is the item this worker has claimed to run after the current
	// one (so that it can prefetch its B), or -1.
	next int
}

var workerPool = sync.Pool{New: func() any { return new(worker) }}

func (pl *plan) run() {
	work := func(id int) {
		w := workerPool.Get().(*worker)
		w.id, w.next = id, -1
		for {
			it := w.next
			if w.next = -1; it < 0 {
				it = int(pl.next.Add(1) - 1)
			}
			if it >= len(pl.spans) {
				break
			}
			pl.item(w, pl.spans[it])
		}
		workerPool.Put(w)
	}
	parallel(pl.workers, work)
}

// item computes rows [r0,r1) × panels [p0,p1) over all of K.
func (pl *plan) item(w *worker, s span) {
	m, k, n := pl.m, pl.k, pl.n
	r0, r1, p0, p1 := int(s.r0), int(s.r1), int(s.p0), int(s.p1)
	col0 := p0 * panelWidth
	cols := min(n, p1*panelWidth) - col0

	// Write straight into c when every column of the item exists there;
	// otherwise (a tile for fn, or the ragged last panel) into the worker's
	// private tile.
	direct := pl.fn == nil && p1*panelWidth <= n
	var dst []float32
	var ld, base int
	if direct {
		dst, ld, base = pl.c, n, r0*n+col0
	} else {
		ld = (p1 - p0) * panelWidth
		if need := (r1 - r0) * ld; cap(w.tile) < need {
			w.tile = alignedFloats(max(need, pl.rowsPer*pl.gp*panelWidth))
		}
		dst, base = w.tile[:(r1-r0)*ld], 0
	}

	micro := pl.im.micro
	// 16-bit B: a kernel that widens as it reads (micro16), or else the
	// kc-row chunk of the item's panels widened once into w.wide and shared
	// by every row block (widenChunk), for the float32 kernel.
	half := pl.b.elem != F32
	micro16 := pl.im.micro16
	if !half || m > fuseMaxRows {
		micro16 = nil
	}
	widen := pl.im.widen
	if widen == nil {
		widen = widenPanelGo
	}
	widenChunk := func(q0, q1, pc, kc int) {
		if need := (q1 - q0) * kc * panelWidth; cap(w.wide) < need {
			w.wide = alignedFloats(max(need, pl.gp*pl.kc*panelWidth))
		}
		for q := q0; q < q1; q++ {
			off := (q - q0) * kc * panelWidth
			widen(w.wide[off:off+kc*panelWidth], pl.b.panel16(q)[pc*panelWidth:(pc+kc)*panelWidth], pl.b.elem)
		}
	}
	block := func(p, pc, rb int, pf pfStream) {
		kc := min(pl.kc, k-pc)
		mode := modeLoad
		var bias []float32
		if pc == 0 {
			mode = modeZero
			if pl.bias != nil {
				mode, bias = modeBias, pl.biasFor(w, p)
			}
			if direct && pl.add {
				// Accumulate onto c; a tile (ragged panel) is added in
				// its copy-out instead.
				mode = modeLoad
				if bias != nil {
					mode = modeAddBias
				}
			}
		}
		mr := min(mrBlock, m-rb)
		a := pl.a[rb*k+pc : (rb+mr-1)*k+pc+kc]
		coff := base + (rb-r0)*ld + (p-p0)*panelWidth
		cs := dst[coff : coff+(mr-1)*ld+panelWidth]
		var bp []float32
		switch {
		case micro16 != nil:
			micro16(pl.b.elem, mr, kc, a, k, pl.b.panel16(p)[pc*panelWidth:(pc+kc)*panelWidth], cs, ld, mode, bias, pf)
			return
		case !half:
			bp = pl.b.panel(p)[pc*panelWidth : (pc+kc)*panelWidth]
		case pl.panelOuter:
			bp = w.wide[:kc*panelWidth]
		default:
			bp = w.wide[(p-p0)*kc*panelWidth : (p-p0+1)*kc*panelWidth]
		}
		micro(mr, kc, a, k, bp, cs, ld, mode, bias, pf)
	}
	// Each micro-kernel call of a K chunk also prefetches part of the
	// chunk that comes next (this item's, or the first of the item likely
	// to be taken next), so that B streams from DRAM while the FMAs run
	// instead of stalling the first row block (or the widening) that reads
	// it: measured on an Emerald Rapids Xeon, ~10 % of a 128-row product.
	// Not for a single row block (m <= 6): that product streams B once,
	// at the memory's pace, and the hardware prefetcher keeps up.
	prefetch := r1-r0 > mrBlock
	nextItem := func() (int, int) {
		// Claim the next item now, so that the prefetch is for the item
		// this worker will run, except among the last ones (the small
		// pieces of buildSpans, there to balance the end; a claim would
		// hold one back from an idle worker): those are guessed.
		it := int(pl.next.Load())
		if w.next < 0 && it < len(pl.spans)-4*pl.workers && pl.next.CompareAndSwap(int64(it), int64(it+1)) {
			w.next = it
		}
		if w.next >= 0 {
			it = w.next
		}
		if it < len(pl.spans) {
			return int(pl.spans[it].p0), int(pl.spans[it].p1)
		}
		return 0, 0
	}
	if pl.panelOuter {
		// Few rows: walk B once, front to back, in short chunks that every
		// row block uses while they are in L1, so the hardware prefetcher
		// streams the next chunk from DRAM while this one is computed.
		for p := p0; p < p1; p++ {
			for pc := 0; pc < k; pc += pl.kc {
				kc := min(pl.kc, k-pc)
				if half && micro16 == nil {
					widenChunk(p, p+1, pc, kc)
				}
				nq0, nq1, npc := p, p+1, pc+pl.kc
				switch {
				case !prefetch:
					nq0, nq1 = 0, 0
				case npc < k:
				case p+1 < p1:
					nq0, nq1, npc = p+1, p+2, 0
				default:
					nq0, nq1 = nextItem()
					npc = 0
				}
				for i, rb := 0, r0; rb < r1; i, rb = i+1, rb+mrBlock {
					block(p, pc, rb, pl.pfFor(nq0, nq1, npc, i, kc))
				}
			}
		}
	} else {
		// Many rows: keep a kc×(gp panels) slice of B in L2 while every row
		// block streams past it.
		for pc := 0; pc < k; pc += pl.kc {
			kc := min(pl.kc, k-pc)
			if half && micro16 == nil {
				widenChunk(p0, p1, pc, kc)
			}
			nq0, nq1, npc := p0, p1, pc+pl.kc
			switch {
			case !prefetch:
				nq0, nq1 = 0, 0
			case npc >= k:
				nq0, nq1 = nextItem()
				npc = 0
			}
			for i, rb := 0, r0; rb < r1; i, rb = i+1, rb+mrBlock {
				for p := p0; p < p1; p++ {
					block(p, pc, rb, pl.pfFor(nq0, nq1, npc, i*(p1-p0)+p-p0, kc))
				}
			}
		}
	}

	switch {
	case pl.fn != nil:
		pl.fn(w.id, r0, r1-r0, col0, cols, dst, ld)
	case !direct && pl.add:
		for r := r0; r < r1; r++ {
			addTo(pl.c[r*n+col0:r*n+col0+cols], dst[(r-r0)*ld:(r-r0)*ld+cols])
		}
	case !direct:
		for r := r0; r < r1; r++ {
			copy(pl.c[r*n+col0:r*n+col0+cols], dst[(r-r0)*ld:(r-r0)*ld+cols])
		}
	}
}

// pfFor returns the prefetch stream of call j of a K chunk (calls of kc
// rows, each prefetching kc/2 lines) over the K chunk at row pc of panels
// [q0, q1): the calls take the panels in turn, call j segment j/(q1-q0) of
// panel q0+j%(q1-q0); calls past the chunk's end prefetch nothing.
func (pl *plan) pfFor(q0, q1, pc, j, kc int) pfStream {
	per := (kc &^ 3) / 2
	if q0 >= q1 || per == 0 {
		return pfStream{}
	}
	q, t := q0+j%(q1-q0), j/(q1-q0)
	lines := min(pl.kc, pl.k-pc) * pl.b.elem.Size() // a row of 64 elements is Size() lines
	if t*per >= lines {
		return pfStream{}
	}
	var base unsafe.Pointer
	if pl.b.elem == F32 {
		base = unsafe.Pointer(&pl.b.panel(q)[pc*panelWidth])
	} else {
		base = unsafe.Pointer(&pl.b.panel16(q)[pc*panelWidth])
	}
	return pfStream{(*byte)(unsafe.Add(base, t*per*64)), 64}
}

// biasFor returns the 64 bias values of panel p, zero-padded past n.
func (pl *plan) biasFor(w *worker, p int) []float32 {
	c0 := p * panelWidth
	if c0+panelWidth <= pl.n {
		return pl.bias[c0 : c0+panelWidth]
	}
	w.biasPad = [panelWidth]float32{}
	copy(w.biasPad[:], pl.bias[c0:])
	return w.biasPad[:]
}

// addTo adds src into dst element-wise.
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}
