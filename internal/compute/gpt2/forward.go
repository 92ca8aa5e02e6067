package gpt2

import (
	"fmt"
	"math"

	"saex/internal/compute/kernel"
)

// Activations holds the values recorded at the requested hooks for every
// sequence of one Forward call.
type Activations struct {
	rows  []int // rows[s] is sequence s's first row; rows[len] = total
	data  map[Hook][]float32
	width map[Hook]int
}

// Get returns the values of the named hook for sequence seq as a
// [T_seq, width] row-major slice, or nil when that hook was not requested
// or seq is out of range. The slice aliases the Activations.
func (a *Activations) Get(hook string, seq int) []float32 {
	h, err := ParseHook(hook)
	if err != nil {
		return nil
	}
	return a.GetHook(h, seq)
}

// GetHook is Get for a parsed hook.
func (a *Activations) GetHook(h Hook, seq int) []float32 {
	buf, ok := a.data[h]
	if !ok || seq < 0 || seq+1 >= len(a.rows) {
		return nil
	}
	w := a.width[h]
	return buf[a.rows[seq]*w : a.rows[seq+1]*w : a.rows[seq+1]*w]
}

// Width returns the number of values per token at the named hook (0 if
// it was not recorded).
func (a *Activations) Width(hook string) int {
	h, err := ParseHook(hook)
	if err != nil {
		return 0
	}
	return a.width[h]
}

// Len returns the number of tokens of sequence seq.
func (a *Activations) Len(seq int) int {
	if seq < 0 || seq+1 >= len(a.rows) {
		return 0
	}
	return a.rows[seq+1] - a.rows[seq]
}

// workspace holds one forward pass's scratch buffers; they are reused
// across calls through Model.pool.
type workspace struct {
	x, a, qkv, z, tmp, hid []float32
	heads                  []*headScratch // one per attention worker
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// Forward runs the sequences of batch (token ids, each 1..n_positions
// long) through the model and returns the activations at hooks (names as
// in ParseHook). The pass stops after the deepest requested hook. It is
// an error to request no hook, an unknown hook, or to pass an id outside
// the vocabulary or a sequence longer than n_positions.
func (m *Model) Forward(batch [][]int, hooks []string) (*Activations, error) {
	if len(hooks) == 0 {
		return nil, fmt.Errorf("gpt2: no hook requested")
	}
	if len(batch) == 0 {
		return nil, fmt.Errorf("gpt2: empty batch")
	}
	cfg := m.Cfg
	nL := cfg.NLayer
	want := make(map[Hook]bool, len(hooks))
	stop := -1
	for _, name := range hooks {
		h, err := ParseHook(name)
		if err != nil {
			return nil, err
		}
		if err := m.CheckHook(h); err != nil {
			return nil, err
		}
		want[h] = true
		stop = max(stop, h.depth(nL))
	}
	rows := make([]int, len(batch)+1)
	for s, ids := range batch {
		if len(ids) == 0 {
			return nil, fmt.Errorf("gpt2: sequence %d is empty", s)
		}
		if len(ids) > cfg.NPositions {
			return nil, fmt.Errorf("gpt2: sequence %d has %d tokens, more than the model's context of %d (n_positions)", s, len(ids), cfg.NPositions)
		}
		for i, id := range ids {
			if id < 0 || id >= cfg.VocabSize {
				return nil, fmt.Errorf("gpt2: sequence %d, position %d: token id %d outside the vocabulary [0, %d)", s, i, id, cfg.VocabSize)
			}
		}
		rows[s+1] = rows[s] + len(ids)
	}
	n := rows[len(batch)]
	d := cfg.NEmbd
	acts := &Activations{rows: rows, data: make(map[Hook][]float32, len(want)), width: make(map[Hook]int, len(want))}
	record := func(h Hook, buf []float32) {
		if !want[h] {
			return
		}
		w := m.HookWidth(h)
		acts.data[h] = append([]float32(nil), buf[:n*w]...)
		acts.width[h] = w
	}
	done := func(h Hook) bool { return h.depth(nL) >= stop }

	ws, _ := m.pool.Get().(*workspace)
	if ws == nil {
		ws = &workspace{}
	}
	defer m.pool.Put(ws)
	ws.x = grow(ws.x, n*d)
	ws.a = grow(ws.a, n*d)
	ws.tmp = grow(ws.tmp, n*d)
	x := ws.x

	// Embeddings; positions restart at 0 in every sequence.
	if want[Hook{Kind: HookEmbed}] || want[Hook{Kind: HookPosEmbed}] {
		for s, ids := range batch {
			for i, id := range ids {
				r := rows[s] + i
				copy(ws.a[r*d:(r+1)*d], m.wte[id*d:(id+1)*d])
				copy(ws.tmp[r*d:(r+1)*d], m.wpe[i*d:(i+1)*d])
			}
		}
		record(Hook{Kind: HookEmbed}, ws.a)
		record(Hook{Kind: HookPosEmbed}, ws.tmp)
	}
	for s, ids := range batch {
		for i, id := range ids {
			r := rows[s] + i
			xr, te, pe := x[r*d:(r+1)*d], m.wte[id*d:(id+1)*d], m.wpe[i*d:(i+1)*d]
			for j := range xr {
				xr[j] = te[j] + pe[j]
			}
		}
	}
	h0 := Hook{Kind: HookResidPre}
	record(h0, x)
	if done(h0) {
		return acts, nil
	}

	// addProjection adds in·W + b (attention or MLP output) to the residual
	// stream: fused into the product, unless hook asks for the product
	// itself, which is then recorded first. It reports whether the pass
	// stops at hook.
	addProjection := func(in []float32, w *kernel.Packed, b []float32, hook Hook) bool {
		if !want[hook] {
			kernel.MatMulAdd(x, in, n, w, b)
			return false
		}
		kernel.MatMul(ws.tmp, in, n, w, b)
		record(hook, ws.tmp)
		if done(hook) {
			return true
		}
		addInPlace(x, ws.tmp)
		return false
	}

	for L := range nL {
		l := &m.layers[L]
		hk := func(k HookKind) Hook { return Hook{Kind: k, Layer: L} }
		// Attention.
		m.norm(ws.a, x, l.ln1W, l.ln1B, n)
		ws.qkv = grow(ws.qkv, n*3*d)
		kernel.MatMul(ws.qkv, ws.a, n, l.attn, l.attnB)
		ws.z = grow(ws.z, n*d)
		m.attention(ws, l, rows)
		record(hk(HookAttnZ), ws.z)
		if done(hk(HookAttnZ)) {
			return acts, nil
		}
		if addProjection(ws.z, l.proj, l.projB, hk(HookAttnOut)) {
			return acts, nil
		}
		record(hk(HookResidMid), x)
		if done(hk(HookResidMid)) {
			return acts, nil
		}
		// MLP.
		m.norm(ws.a, x, l.ln2W, l.ln2B, n)
		ws.hid = grow(ws.hid, n*cfg.NInner)
		if want[hk(HookMLPPre)] {
			kernel.MatMul(ws.hid, ws.a, n, l.fc, l.fcB)
			record(hk(HookMLPPre), ws.hid)
			if done(hk(HookMLPPre)) {
				return acts, nil
			}
			m.activate(ws.hid, n)
		} else {
			m.fcActivate(ws.hid, ws.a, n, l)
		}
		record(hk(HookMLPPost), ws.hid)
		if done(hk(HookMLPPost)) {
			return acts, nil
		}
		if addProjection(ws.hid, l.fcProj, l.fcProjB, hk(HookMLPOut)) {
			return acts, nil
		}
		record(hk(HookResidPost), x)
		if L+1 < nL {
			record(Hook{Kind: HookResidPre, Layer: L + 1}, x)
		}
		if done(hk(HookResidPost)) {
			return acts, nil
		}
	}

	m.norm(ws.a, x, m.lnfW, m.lnfB, n)
	record(Hook{Kind: HookLnFinal}, ws.a)
	if done(Hook{Kind: HookLnFinal}) {
		return acts, nil
	}
	logits := make([]float32, n*cfg.VocabSize)
	kernel.MatMul(logits, ws.a, n, m.WU(), nil)
	acts.data[Hook{Kind: HookLogits}] = logits
	acts.width[Hook{Kind: HookLogits}] = cfg.VocabSize
	return acts, nil
}

func addInPlace(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}

// norm applies a layer norm to the n rows of x.
func (m *Model) norm(dst, x, w, b []float32, n int) {
	d := m.Cfg.NEmbd
	eps := m.Cfg.LayerNormEpsilon
	parallelRows(n, 4*d, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			layerNorm(dst[r*d:(r+1)*d], x[r*d:(r+1)*d], w, b, eps)
		}
	})
}

func (m *Model) act() func(float32) float32 {
	if m.Cfg.ActivationFunction == "gelu" {
		return geluErf
	}
	return geluNew
}

// activate applies the MLP nonlinearity in place to n rows of width n_inner.
func (m *Model) activate(h []float32, n int) {
	f := m.act()
	inner := m.Cfg.NInner
	parallelRows(n, 20*inner, func(r0, r1 int) {
		for i := r0 * inner; i < r1*inner; i++ {
			h[i] = f(h[i])
		}
	})
}

// fcActivate computes act(a @ c_fc + b) into h, applying bias and
// nonlinearity to each tile while it is hot in cache.
func (m *Model) fcActivate(h, a []float32, n int, l *layer) {
	f := m.act()
	fast := m.Cfg.ActivationFunction != "gelu"
	inner := m.Cfg.NInner
	bias := l.fcB
	kernel.MatMulTiles(a, n, l.fc, func(_, row0, rows, col0, cols int, tile []float32, ld int) {
		bc := bias[col0 : col0+cols]
		for r := range rows {
			src := tile[r*ld : r*ld+cols]
			dst := h[(row0+r)*inner+col0 : (row0+r)*inner+col0+cols]
			if fast {
				geluNewBias(dst, src, bc)
				continue
			}
			for c, v := range src {
				dst[c] = f(v + bc[c])
			}
		}
	})
}

// headScratch is one attention worker's buffers.
type headScratch struct {
	s     []float32      // scores, then probabilities: t rows of stride scoreStride(t)
	kT, v *kernel.Packed // the head's Kᵀ and V, packed straight from the QKV rows
}

// scoreStride pads a score row to whole 64-column panels, so the kernel
// writes every panel in place and the softmax can round rows up to whole
// vectors.
func scoreStride(t int) int { return (t + 63) &^ 63 }

// attention computes causal multi-head attention for every sequence from
// ws.qkv ([n, 3d]: Q | K | V, head h in columns h*dh..) into ws.z
// ([n, d], heads concatenated as in Hugging Face's _merge_heads). The
// (sequence, head) pairs are independent and shared out over the kernel's
// workers; each runs its two products on its own goroutine, reading Q and
// writing z in place, and skips what causality makes zero: score panels
// above the diagonal, and probabilities past each row's position.
func (m *Model) attention(ws *workspace, l *layer, rows []int) {
	d := m.Cfg.NEmbd
	nh := m.Cfg.NHead
	dh := d / nh
	nseq := len(rows) - 1
	for len(ws.heads) < kernel.Threads() {
		ws.heads = append(ws.heads, &headScratch{})
	}
	head := func(hs *headScratch, job int) {
		s, h := job/nh, job%nh
		r0, t := rows[s], rows[s+1]-rows[s]
		ld := scoreStride(t)
		hs.s = grow(hs.s, t*ld)
		qkv := ws.qkv[r0*3*d:]
		hs.kT = kernel.PackTransposedInto(hs.kT, qkv[d+h*dh:], 3*d, dh, t)
		hs.v = kernel.PackInto(hs.v, qkv[2*d+h*dh:], 3*d, t, dh)
		kernel.MatMulSerial(hs.s, ld, qkv[h*dh:], 3*d, t, hs.kT, kernel.LowerOut)
		causalSoftmax(hs.s, t, ld, l.attnScale)
		kernel.MatMulSerial(ws.z[r0*d+h*dh:], d, hs.s, ld, t, hs.v, kernel.LowerA)
	}
	if n := rows[nseq]; n*n*dh < 1<<16 { // tiny: one goroutine is cheaper
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

// causalSoftmax turns the t×t raw scores (row i at s[i*ld:], ld >= t)
// into attention probabilities: row i is softmax over j <= i of
// scale*s[i,j]; entries i < j < ld become 0, and entries above the
// diagonal may hold anything before. The row maximum is subtracted first,
// so large scores cannot overflow.
func causalSoftmax(s []float32, t, ld int, scale float32) {
	w := max(geluWidth, 1)
	for i := range t {
		row := s[i*ld : (i+1)*ld]
		// Round the row up to whole vectors where the row has room: the
		// masked entries become -Inf, which leaves the maximum alone and
		// whose exp (clamped, about 1e-38) cannot move the sum; they are
		// zeroed afterwards.
		n := i + 1
		if k := (n + w - 1) / w * w; k <= ld {
			for j := n; j < k; j++ {
				row[j] = float32(math.Inf(-1))
			}
			n = k
		}
		mx := rowMax(row[:n]) * scale // scale > 0, so the maximum commutes with it
		inv := float32(1 / expShifted(row[:n], scale, mx))
		scaleRow(row[:n], inv)
		clear(row[i+1:])
	}
}
