package dashboard

import "fmt"

// Pass 1 keeps, per feature, what needs the whole corpus before examples
// can be chosen: how often it fires, its largest and smallest non-zero
// activation, and its top contexts. It sees each chunk once, from the
// model or from the spill, and its result does not depend on the order
// chunks arrive in (ties between contexts go to the lower index).

// topEntry is one candidate top example: a context, the context's
// largest activation of the feature, and where (first position of it).
type topEntry struct {
	val float32
	ctx int32
	pos uint16
}

// worse orders top candidates: smaller value, then the later context.
func worse(a, b topEntry) bool {
	return a.val < b.val || (a.val == b.val && a.ctx > b.ctx)
}

type pass1 struct {
	dsae, k int
	count   []int64
	max     []float32
	min     []float32
	top     []topEntry // dsae*k; feature f's heap is top[f*k : f*k+ntop[f]]
	ntop    []uint8

	// per-context scratch
	ctxMax  []float32
	ctxPos  []uint16
	touched []int32
}

func newPass1(dsae, k int) *pass1 {
	p := &pass1{dsae: dsae, k: k,
		count: make([]int64, dsae), max: make([]float32, dsae), min: make([]float32, dsae),
		top: make([]topEntry, dsae*k), ntop: make([]uint8, dsae),
		ctxMax: make([]float32, dsae), ctxPos: make([]uint16, dsae)}
	return p
}

// addChunk accumulates one chunk: lens are its contexts' lengths in order,
// starting at context index first.
func (p *pass1) addChunk(c *codes, first int, lens []int) error {
	t := 0
	for ci, l := range lens {
		ctx := int32(first + ci)
		for pos := 0; pos < l; pos++ {
			for e := c.off[t]; e < c.off[t+1]; e++ {
				f, v := c.idx[e], c.val[e]
				if f < 0 || int(f) >= p.dsae {
					return fmt.Errorf("context %d position %d: feature index %d outside [0,%d)", ctx, pos, f, p.dsae)
				}
				if p.count[f] == 0 {
					p.max[f], p.min[f] = v, v
				} else {
					p.max[f] = max(p.max[f], v)
					p.min[f] = min(p.min[f], v)
				}
				p.count[f]++
				if p.ctxMax[f] == 0 {
					p.touched = append(p.touched, f)
					p.ctxMax[f], p.ctxPos[f] = v, uint16(pos)
				} else if v > p.ctxMax[f] {
					p.ctxMax[f], p.ctxPos[f] = v, uint16(pos)
				}
			}
			t++
		}
		for _, f := range p.touched {
			p.offer(int(f), topEntry{val: p.ctxMax[f], ctx: ctx, pos: p.ctxPos[f]})
			p.ctxMax[f] = 0
		}
		p.touched = p.touched[:0]
	}
	if t != c.tokens() {
		return fmt.Errorf("chunk at context %d: %d tokens in the codes, contexts hold %d", first, c.tokens(), t)
	}
	return nil
}

// offer keeps e if it is among the k best contexts of feature f (a
// min-heap whose root is the worst kept entry).
func (p *pass1) offer(f int, e topEntry) {
	h := p.top[f*p.k : f*p.k+p.k]
	n := int(p.ntop[f])
	if n < p.k {
		h[n] = e
		p.ntop[f]++
		for i := n; i > 0; {
			parent := (i - 1) / 2
			if !worse(h[i], h[parent]) {
				break
			}
			h[i], h[parent] = h[parent], h[i]
			i = parent
		}
		return
	}
	if !worse(h[0], e) {
		return
	}
	h[0] = e
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && worse(h[l], h[m]) {
			m = l
		}
		if r < n && worse(h[r], h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// topOf returns feature f's kept contexts, best first.
func (p *pass1) topOf(f int) []topEntry {
	out := append([]topEntry(nil), p.top[f*p.k:f*p.k+int(p.ntop[f])]...)
	// Insertion sort: at most k (20) entries.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && worse(out[j-1], out[j]); j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out
}
