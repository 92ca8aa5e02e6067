package gpt2

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

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
		kernel.MatMul(ws.tmp, ws.z, n, l.proj, l.projB)
		record(hk(HookAttnOut), ws.tmp)
		if done(hk(HookAttnOut)) {
			return acts, nil
		}
		addInPlace(x, ws.tmp)
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
		kernel.MatMul(ws.tmp, ws.hid, n, l.fcProj, l.fcProjB)
		record(hk(HookMLPOut), ws.tmp)
		if done(hk(HookMLPOut)) {
			return acts, nil
		}
		addInPlace(x, ws.tmp)
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

// headScratch is one attention worker's per-head buffers.
type headScratch struct{ q, k, v, s, zh []float32 }

// attention computes causal multi-head attention for every sequence from
// ws.qkv ([n, 3d]: Q | K | V, head h in columns h*dh..) into ws.z
// ([n, d], heads concatenated as in Hugging Face's _merge_heads). The
// (sequence, head) pairs are independent and shared out over up to
// kernel.Threads() goroutines: each product is too small for the
// kernel's own row/column split to keep both cores busy.
func (m *Model) attention(ws *workspace, l *layer, rows []int) {
	d := m.Cfg.NEmbd
	nh := m.Cfg.NHead
	dh := d / nh
	nseq := len(rows) - 1
	jobs := nseq * nh
	workers := min(kernel.Threads(), jobs)
	if rows[nseq]*rows[nseq]*dh < 1<<16 { // tiny: goroutines cost more than they save
		workers = 1
	}
	for len(ws.heads) < workers {
		ws.heads = append(ws.heads, &headScratch{})
	}
	var next atomic.Int64
	work := func(hs *headScratch) {
		for {
			job := int(next.Add(1) - 1)
			if job >= jobs {
				return
			}
			s, h := job/nh, job%nh
			r0, t := rows[s], rows[s+1]-rows[s]
			hs.q = grow(hs.q, t*dh)
			hs.k = grow(hs.k, t*dh)
			hs.v = grow(hs.v, t*dh)
			hs.s = grow(hs.s, t*t)
			hs.zh = grow(hs.zh, t*dh)
			for i := range t {
				row := ws.qkv[(r0+i)*3*d:]
				copy(hs.q[i*dh:(i+1)*dh], row[h*dh:(h+1)*dh])
				copy(hs.k[i*dh:(i+1)*dh], row[d+h*dh:d+(h+1)*dh])
				copy(hs.v[i*dh:(i+1)*dh], row[2*d+h*dh:2*d+(h+1)*dh])
			}
			kernel.GemmTransB(hs.s, hs.q, hs.k, t, dh, t)
			causalSoftmax(hs.s, t, l.attnScale)
			kernel.Gemm(hs.zh, hs.s, hs.v, t, t, dh)
			for i := range t {
				copy(ws.z[(r0+i)*d+h*dh:(r0+i)*d+(h+1)*dh], hs.zh[i*dh:(i+1)*dh])
			}
		}
	}
	if workers <= 1 {
		work(ws.heads[0])
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(ws.heads[w]) })
	}
	work(ws.heads[0])
	wg.Wait()
}

// causalSoftmax turns the t×t raw scores into attention probabilities:
// row i is softmax over j <= i of scale*s[i,j]; entries j > i become 0.
// The row maximum is subtracted first, so large scores cannot overflow.
func causalSoftmax(s []float32, t int, scale float32) {
	w := max(geluWidth, 1)
	for i := range t {
		row := s[i*t : (i+1)*t]
		mx := row[0]
		for _, v := range row[1 : i+1] {
			if v > mx {
				mx = v
			}
		}
		mx *= scale // scale > 0, so the maximum commutes with it
		// Round the row up to whole vectors where the row has room: the
		// masked entries become -Inf, whose exp (clamped, about 1e-38)
		// cannot move the sum, and are zeroed afterwards.
		n := i + 1
		if k := (n + w - 1) / w * w; k <= t {
			for j := n; j < k; j++ {
				row[j] = float32(math.Inf(-1))
			}
			n = k
		}
		inv := float32(1 / expShifted(row[:n], scale, mx))
		for j := range row[:i+1] {
			row[j] *= inv
		}
		clear(row[i+1:])
	}
}
