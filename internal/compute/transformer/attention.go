package transformer

import "saex/internal/compute/kernel"

// headScratch is one attention worker's buffers.
type headScratch struct {
	s     []float32      // scores, then probabilities: t rows of stride scoreStride(t)
	kT, v *kernel.Packed // the head's Kᵀ and V, packed straight from the QKV rows
}

// scoreStride pads a score row to whole 64-column panels, so the kernel
// writes every panel in place and the softmax can round rows up to whole
// vectors.
func scoreStride(t int) int { return (t + 63) &^ 63 }

// attention computes ws.z ([n, qDim], heads concatenated as in Hugging
// Face's reshape before o_proj) from the normalised input ws.a: the Q | K |
// V projection, the per-head query/key norms (QKNorm), the rotary
// embedding, then causal attention per (sequence, head).
func (m *Model) attention(ws *workspace, l *layer, rows []int) {
	c := m.Cfg
	n := rows[len(rows)-1]
	ld := c.qDim() + 2*c.kvDim()
	ws.qkv = grow(ws.qkv, n*ld)
	kernel.MatMul(ws.qkv, ws.a, n, l.qkv, l.qkvB)
	if c.QKNorm || !c.LearnedPositions {
		m.positionQK(ws, l, rows, ld)
	}
	ws.z = grow(ws.z, n*c.qDim())
	m.heads(ws, l, rows, ld)
}

// positionQK applies, row by row, the per-head query and key norms and the
// rotary embedding (position = index within the sequence) to the Q and K
// columns of ws.qkv.
func (m *Model) positionQK(ws *workspace, l *layer, rows []int, ld int) {
	c := m.Cfg
	hd, nq, nkv := c.HeadDim, c.NHead, c.NKVHead
	half := c.RotaryDim / 2
	rotary := !c.LearnedPositions

	seqOf := func(r int) int { // the sequence holding row r
		s := 0
		for rows[s+1] <= r {
			s++
		}
		return s
	}
	n := rows[len(rows)-1]
	parallelRows(n, 8*ld, func(r0, r1 int) {
		s := seqOf(r0)
		for r := r0; r < r1; r++ {
			for rows[s+1] <= r {
				s++
			}
			pos := r - rows[s]
			row := ws.qkv[r*ld : (r+1)*ld]
			for h := range nq + nkv { // query heads, then key heads
				x := row[h*hd : (h+1)*hd]
				if c.QKNorm {
					w := l.qNorm
					if h >= nq {
						w = l.kNorm
					}
					rmsNorm(x, x, w, m.zeros, c.NormEps)
				}
				if rotary {
					applyRope(x, ws.cos[pos*half:(pos+1)*half], ws.sin[pos*half:(pos+1)*half])
				}
			}
		}
	})
}

// heads computes causal attention for every (sequence, head) pair from
// ws.qkv (row stride ld: Q | K | V, head h in columns h*hd of its part;
// query head h reads key/value head h / (NHead/NKVHead)) into ws.z. The
// pairs are independent and shared out over the kernel's workers; each
// runs its two products on its own goroutine, reading Q and writing z in
// place, and skips what causality makes zero: score panels above the
// diagonal, and probabilities past each row's position.
func (m *Model) heads(ws *workspace, l *layer, rows []int, ld int) {
	c := m.Cfg
	hd, nh := c.HeadDim, c.NHead
	qd, kvd := c.qDim(), c.kvDim()
	group := nh / c.NKVHead
	nseq := len(rows) - 1
	for len(ws.heads) < kernel.Threads() {
		ws.heads = append(ws.heads, &headScratch{})
	}
	head := func(hs *headScratch, job int) {
		s, h := job/nh, job%nh
		kv := h / group
		r0, t := rows[s], rows[s+1]-rows[s]
		lds := scoreStride(t)
		hs.s = grow(hs.s, t*lds)
		qkv := ws.qkv[r0*ld:]
		hs.kT = kernel.PackTransposedInto(hs.kT, qkv[qd+kv*hd:], ld, hd, t)
		hs.v = kernel.PackInto(hs.v, qkv[qd+kvd+kv*hd:], ld, t, hd)
		kernel.MatMulSerial(hs.s, lds, qkv[h*hd:], ld, t, hs.kT, kernel.LowerOut)
		attnSoftmax(hs.s, t, lds, l.attnScale, c.AttnSoftcap, l.window)
		kernel.MatMulSerial(ws.z[r0*qd+h*hd:], qd, hs.s, lds, t, hs.v, kernel.LowerA)
	}
	if n := rows[nseq]; n*n*hd < 1<<16 { // tiny: one goroutine is cheaper
		for job := range nseq * nh {
			head(ws.heads[0], job)
		}
		return
	}
	heads := ws.heads
	kernel.ForEach(nseq*nh, func(w, job int) {
		if w >= len(heads) { // Threads() grew since the scratch was sized
			head(&headScratch{}, job)
			return
		}
		head(heads[w], job)
	})
}
