package kernel

import (
	"sync"
	"sync/atomic"
)

// Blocking parameters. The B slice one item works on (kc rows of gp panels)
// should stay in the 1 MiB L2 while every row block of A streams past it; the
// packed A row block (mrBlock×kc) stays in L1.
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
	ap         []float32 // A packed in row blocks ([k][mr] each); a itself when m == 1
	bias       []float32 // nil, or n values (MatMul only)
	c          []float32 // destination (MatMul), nil for MatMulTiles
	fn         func(worker, row0, rows, col0, cols int, tile []float32, ld int)
	kc         int  // K chunk
	gp         int  // panels per item
	rowsPer    int  // rows per item, a multiple of mrBlock
	panelOuter bool // loop panels outermost with short K chunks (few rows)
	rowItems   int
	colItems   int
	workers    int
	next       atomic.Int64
}

func matMul(im *impl, c, a []float32, m int, b *Packed, bias []float32) {
	pl := newPlan(im, a, m, b, false)
	pl.c, pl.bias = c, bias
	pl.run()
}

func matMulTiles(im *impl, a []float32, m int, b *Packed, fn func(worker, row0, rows, col0, cols int, tile []float32, ld int)) {
	pl := newPlan(im, a, m, b, true)
	pl.fn = fn
	pl.run()
}

func newPlan(im *impl, a []float32, m int, b *Packed, tiles bool) *plan {
	k := b.k
	pl := &plan{im: im, m: m, k: k, n: b.n, b: b}
	if m == 1 {
		pl.ap = a
	} else {
		pl.ap = packA(a, m, k)
	}

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
	} else {
		threads = 1
	}
	// Bound the private tile a worker fills before handing it on.
	if limit := roundUp(tileMax/(pl.gp*panelWidth*4), mrBlock); tiles && pl.rowsPer > limit {
		pl.rowsPer = limit
	}
	pl.rowItems = (m + pl.rowsPer - 1) / pl.rowsPer
	pl.colItems = (b.panels + pl.gp - 1) / pl.gp
	pl.workers = min(threads, pl.rowItems*pl.colItems)
	return pl
}

func roundUp(x, q int) int { return (x + q - 1) / q * q }

// packA copies a (m×k, row-major) into row blocks of mrBlock rows, each
// stored k-major ([k][mr]) so the micro-kernel reads it sequentially. The block
// starting at row r begins at offset r*k.
func packA(a []float32, m, k int) []float32 {
	ap := getScratch(m * k)
	for r0 := 0; r0 < m; r0 += mrBlock {
		mr := min(mrBlock, m-r0)
		blk := ap[r0*k : (r0+mr)*k]
		for i := 0; i < mr; i++ {
			row := a[(r0+i)*k : (r0+i+1)*k]
			for kk, v := range row {
				blk[kk*mr+i] = v
			}
		}
	}
	return ap
}

// worker holds the per-worker scratch of one product.
type worker struct {
	id      int
	tile    []float32
	biasPad [panelWidth]float32
}

var workerPool = sync.Pool{New: func() any { return new(worker) }}

// scratchPool recycles the packed-A buffers between calls.
var scratchPool sync.Pool

func getScratch(n int) []float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return alignedFloats(n)
}

func putScratch(s []float32) {
	scratchPool.Put(&s)
}

func (pl *plan) run() {
	items := pl.rowItems * pl.colItems
	work := func(id int) {
		w := workerPool.Get().(*worker)
		w.id = id
		for {
			it := int(pl.next.Add(1) - 1)
			if it >= items {
				break
			}
			pl.item(w, it%pl.rowItems, it/pl.rowItems)
		}
		workerPool.Put(w)
	}
	if pl.workers <= 1 {
		work(0)
	} else {
		var wg sync.WaitGroup
		for id := 1; id < pl.workers; id++ {
			wg.Go(func() { work(id) })
		}
		work(0)
		wg.Wait()
	}
	if pl.m > 1 {
		putScratch(pl.ap)
	}
}

// item computes rows [r0,r1) × panels [p0,p1) over all of K.
func (pl *plan) item(w *worker, ri, ci int) {
	m, k, n := pl.m, pl.k, pl.n
	r0 := ri * pl.rowsPer
	r1 := min(m, r0+pl.rowsPer)
	p0 := ci * pl.gp
	p1 := min(pl.b.panels, p0+pl.gp)
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
	block := func(p, pc, rb int) {
		kc := min(pl.kc, k-pc)
		mode := modeLoad
		var bias []float32
		if pc == 0 {
			mode = modeZero
			if pl.bias != nil {
				mode, bias = modeBias, pl.biasFor(w, p)
			}
		}
		mr := min(mrBlock, m-rb)
		a := pl.ap[rb*k+pc*mr : rb*k+(pc+kc)*mr]
		bp := pl.b.panel(p)[pc*panelWidth : (pc+kc)*panelWidth]
		coff := base + (rb-r0)*ld + (p-p0)*panelWidth
		micro(mr, kc, a, bp, dst[coff:coff+(mr-1)*ld+panelWidth], ld, mode, bias)
	}
	if pl.panelOuter {
		// Few rows: walk B once, front to back, in short chunks that every
		// row block uses while they are in L1, so the hardware prefetcher
		// streams the next chunk from DRAM while this one is computed.
		for p := p0; p < p1; p++ {
			for pc := 0; pc < k; pc += pl.kc {
				for rb := r0; rb < r1; rb += mrBlock {
					block(p, pc, rb)
				}
			}
		}
	} else {
		// Many rows: keep a kc×(gp panels) slice of B in L2 while every row
		// block streams past it.
		for pc := 0; pc < k; pc += pl.kc {
			for rb := r0; rb < r1; rb += mrBlock {
				for p := p0; p < p1; p++ {
					block(p, pc, rb)
				}
			}
		}
	}

	switch {
	case pl.fn != nil:
		pl.fn(w.id, r0, r1-r0, col0, cols, dst, ld)
	case !direct:
		for r := r0; r < r1; r++ {
			copy(pl.c[r*n+col0:r*n+col0+cols], dst[(r-r0)*ld:(r-r0)*ld+cols])
		}
	}
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
