package transformer

import (
	"fmt"
	"math"

	"saex/internal/compute/kernel"
)

// Decoder runs one sequence incrementally: Prefill the prompt, then Step
// one token at a time, each call reading the keys and values of the earlier
// positions from its cache instead of recomputing them. It repeats the
// block of block.go on the new rows only (same weights, same helpers), with
// attention over the cache and an optional Intervention at the hook points
// it passes. A Decoder is not safe for concurrent use; the Model it reads
// is.
type Decoder struct {
	m     *Model
	iv    Intervention
	k, v  [][]float32 // per layer: [capacity, kvDim] keys (rotated) and values
	ids   []int       // every token fed so far
	limit int         // positions the cache holds (<= n_positions)

	x, a, b, qkv, z, tmp, hid, gu, logits []float32
	cos, sin                              []float32
	ws                                    *workspace  // Forward's buffers, for the first prefill
	scores                                [][]float32 // one per attention worker
}

// Intervention changes activations during a Decoder's forward pass: at
// each hook point it names, Apply gets the rows of the tokens being fed
// (x: len(ids) rows of the hook's width; ids: those tokens; pos0: the
// position of the first) and may modify them in place; the pass goes on
// from the modified values. Steering is one.
type Intervention interface {
	Hooks() []Hook
	Apply(h Hook, x []float32, width int, ids []int, pos0 int)
}

// NewDecoder returns a Decoder for sequences of up to limit tokens (prompt
// plus generated; 0 or more than n_positions: n_positions), applying iv
// (nil: none). The model must be loaded whole, head included. Hooks of iv
// must exist in the model and be one of the residual-stream points
// (resid_pre, resid_mid, resid_post), attn.hook_z, hook_attn_out,
// mlp.hook_post or hook_mlp_out.
func (m *Model) NewDecoder(limit int, iv Intervention) (*Decoder, error) {
	if m.built < m.Cfg.NLayer || !m.head {
		return nil, fmt.Errorf("transformer: decoding needs the whole model, but only %d of %d layers (head %v) were loaded", m.built, m.Cfg.NLayer, m.head)
	}
	if limit <= 0 || limit > m.Cfg.NPositions {
		limit = m.Cfg.NPositions
	}
	if iv != nil {
		for _, h := range iv.Hooks() {
			if err := m.CheckHook(h); err != nil {
				return nil, err
			}
			switch h.Kind {
			case HookResidPre, HookResidMid, HookResidPost, HookAttnZ, HookAttnOut, HookMLPPost, HookMLPOut:
			default:
				return nil, fmt.Errorf("transformer: cannot intervene at hook %s (only block hooks other than mlp.hook_pre)", h)
			}
		}
	}
	d := &Decoder{m: m, iv: iv, limit: limit, k: make([][]float32, m.Cfg.NLayer), v: make([][]float32, m.Cfg.NLayer)}
	return d, nil
}

// Len is the number of tokens fed so far.
func (d *Decoder) Len() int { return len(d.ids) }

// Tokens returns every token fed so far (aliases the Decoder's slice).
func (d *Decoder) Tokens() []int { return d.ids }

// Limit is the most tokens this Decoder can hold.
func (d *Decoder) Limit() int { return d.limit }

// Prefill feeds ids after the tokens fed so far and returns the logits of
// the last one ([vocab], valid until the next call).
func (d *Decoder) Prefill(ids []int) ([]float32, error) {
	return d.feed(ids, false)
}

// Step feeds one token and returns the logits of the next ([vocab], valid
// until the next call).
func (d *Decoder) Step(id int) ([]float32, error) {
	return d.feed([]int{id}, false)
}

// FeedAll is Prefill returning the logits of every fed token,
// [len(ids), vocab].
func (d *Decoder) FeedAll(ids []int) ([]float32, error) {
	return d.feed(ids, true)
}

func (d *Decoder) feed(ids []int, all bool) ([]float32, error) {
	m := d.m
	c := m.Cfg
	if len(ids) == 0 {
		return nil, fmt.Errorf("transformer: no tokens to feed")
	}
	if p := len(d.ids) + len(ids); p > d.limit {
		return nil, fmt.Errorf("transformer: %d tokens exceed the decoder's limit of %d (n_positions %d)", p, d.limit, c.NPositions)
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return nil, fmt.Errorf("transformer: token %d: id %d outside the vocabulary [0, %d)", i, id, c.VocabSize)
		}
	}
	pos0, n, dm := len(d.ids), len(ids), c.NEmbd
	d.ids = append(d.ids, ids...)
	d.x = grow(d.x, n*dm)
	d.a = grow(d.a, n*dm)
	d.b = grow(d.b, n*dm)
	d.tmp = grow(d.tmp, n*dm)
	scale := float32(c.EmbedScale)
	for i, id := range ids {
		xr := d.x[i*dm : (i+1)*dm]
		m.wte.row(xr, id, dm)
		if m.wpe != nil {
			addInPlace(xr, m.wpe[(pos0+i)*dm:(pos0+i+1)*dm])
		} else if scale != 1 {
			for j := range xr {
				xr[j] *= scale
			}
		}
	}
	if !c.LearnedPositions {
		d.ropeRows(pos0, n)
	}
	for L := range c.NLayer {
		d.block(L, ids, pos0)
	}
	rows := d.x
	nOut := n
	if !all {
		rows, nOut = d.x[(n-1)*dm:n*dm], 1
	}
	m.normRows(d.a, rows, m.final, nOut)
	v := c.VocabSize
	d.logits = grow(d.logits, nOut*v)
	kernel.MatMul(d.logits, d.a[:nOut*dm], nOut, m.WU(), nil)
	if sc := c.FinalSoftcap; sc > 0 {
		capRow(d.logits, 1, sc)
	}
	return d.logits, nil
}

// hook passes rows to the intervention when it asks for h.
func (d *Decoder) hook(h Hook, x []float32, width int, ids []int, pos0 int) {
	if d.iv == nil || !d.wants(h) {
		return
	}
	d.iv.Apply(h, x[:len(ids)*width], width, ids, pos0)
}

func (d *Decoder) wants(h Hook) bool {
	if d.iv == nil {
		return false
	}
	for _, w := range d.iv.Hooks() {
		if w == h {
			return true
		}
	}
	return false
}

// block is block.go's block for the n new rows of d.x.
func (d *Decoder) block(L int, ids []int, pos0 int) {
	m := d.m
	c := m.Cfg
	l := &m.layers[L]
	n, dm := len(ids), c.NEmbd
	hk := func(k HookKind) Hook { return Hook{Kind: k, Layer: L} }
	d.hook(hk(HookResidPre), d.x, dm, ids, pos0)
	m.normRows(d.a, d.x, l.ln1, n)
	if c.ParallelResidual {
		m.normRows(d.b, d.x, l.ln2, n)
	}
	d.attention(L, l, n, pos0)
	d.hook(hk(HookAttnZ), d.z, c.qDim(), ids, pos0)
	d.addOutput(d.z, l.o, l.oB, l.postAttn, hk(HookAttnOut), ids, pos0)
	if !c.ParallelResidual {
		d.hook(hk(HookResidMid), d.x, dm, ids, pos0)
		m.normRows(d.b, d.x, l.ln2, n)
	}
	inner := c.NInner
	d.hid = grow(d.hid, n*inner)
	if c.GatedMLP {
		d.gu = grow(d.gu, n*2*inner)
		kernel.MatMul(d.gu, d.b, n, l.up, l.upB)
		m.gate(d.hid, d.gu, n)
	} else if c.Act == GeluTanh {
		m.fcActivate(d.hid, d.b[:n*dm], n, l) // Forward's fused bias and GELU
	} else {
		kernel.MatMul(d.hid, d.b, n, l.up, l.upB)
		m.activate(d.hid, n)
	}
	d.hook(hk(HookMLPPost), d.hid, inner, ids, pos0)
	d.addOutput(d.hid, l.down, l.downB, l.postMLP, hk(HookMLPOut), ids, pos0)
	d.hook(hk(HookResidPost), d.x, dm, ids, pos0)
}

// addOutput adds in·W + b, normalised by post when the family has one, to
// the residual rows, offering it to the intervention at h first.
func (d *Decoder) addOutput(in []float32, w *kernel.Packed, b []float32, post norm, h Hook, ids []int, pos0 int) {
	n := len(ids)
	if post.w == nil && !d.wants(h) {
		kernel.MatMulAdd(d.x, in, n, w, b)
		return
	}
	kernel.MatMul(d.tmp, in, n, w, b)
	if post.w != nil {
		d.m.normRows(d.tmp, d.tmp, post, n)
	}
	d.hook(h, d.tmp, d.m.Cfg.NEmbd, ids, pos0)
	addInPlace(d.x[:n*d.m.Cfg.NEmbd], d.tmp)
}

// ropeRows fills d.cos/d.sin for positions pos0..pos0+n-1.
func (d *Decoder) ropeRows(pos0, n int) {
	half := len(d.m.invFreq)
	d.cos, d.sin = grow(d.cos, n*half), grow(d.sin, n*half)
	for i := range n {
		for j, f := range d.m.invFreq {
			s, c := math.Sincos(float64(pos0+i) * f)
			d.cos[i*half+j], d.sin[i*half+j] = float32(c), float32(s)
		}
	}
}

// attention computes d.z for the n new rows of d.a: the Q | K | V
// projection, query/key norms and rotation, the new keys and values
// appended to layer L's cache, then each new row's causal attention over
// every cached position (the sliding window and soft-cap as in
// attnSoftmax).
func (d *Decoder) attention(L int, l *layer, n, pos0 int) {
	m := d.m
	c := m.Cfg
	hd, nq, nkv := c.HeadDim, c.NHead, c.NKVHead
	qd, kvd := c.qDim(), c.kvDim()
	ld := qd + 2*kvd
	if pos0 == 0 && n > 1 {
		d.prefillAttention(L, l, n)
		return
	}
	d.qkv = grow(d.qkv, n*ld)
	kernel.MatMul(d.qkv, d.a, n, l.qkv, l.qkvB)
	half := c.RotaryDim / 2
	for i := range n {
		row := d.qkv[i*ld : (i+1)*ld]
		for h := range nq + nkv {
			x := row[h*hd : (h+1)*hd]
			if c.QKNorm {
				w := l.qNorm
				if h >= nq {
					w = l.kNorm
				}
				rmsNorm(x, x, w, m.zeros, c.NormEps)
			}
			if !c.LearnedPositions {
				applyRope(x, d.cos[i*half:(i+1)*half], d.sin[i*half:(i+1)*half])
			}
		}
	}
	d.cacheKV(L, n)
	keys, vals := d.k[L], d.v[L]
	d.z = grow(d.z, n*qd)
	group := nq / nkv
	t := pos0 + n
	for len(d.scores) < kernel.Threads() {
		d.scores = append(d.scores, nil)
	}
	job := func(w, jb int) {
		i, h := jb/nq, jb%nq
		kv := h / group
		p := pos0 + i
		j0 := 0
		if l.window > 0 {
			j0 = max(0, p-l.window+1)
		}
		var s []float32
		if w < len(d.scores) {
			d.scores[w] = grow(d.scores[w], p+1)
			s = d.scores[w]
		} else { // Threads() grew since the scratch was sized
			s = make([]float32, p+1)
		}
		s = s[j0 : p+1]
		q := d.qkv[i*ld+h*hd : i*ld+(h+1)*hd]
		for j := range s {
			kr := keys[(j0+j)*kvd+kv*hd : (j0+j)*kvd+(kv+1)*hd]
			var acc float32
			for e, qv := range q {
				acc += qv * kr[e]
			}
			s[j] = acc
		}
		sc := l.attnScale
		if c.AttnSoftcap > 0 {
			capRow(s, sc, c.AttnSoftcap)
			sc = 1
		}
		mx := rowMax(s) * sc
		inv := float32(1 / expShifted(s, sc, mx))
		z := d.z[i*qd+h*hd : i*qd+(h+1)*hd]
		clear(z)
		for j, pj := range s {
			pj *= inv
			vr := vals[(j0+j)*kvd+kv*hd : (j0+j)*kvd+(kv+1)*hd]
			for e := range z {
				z[e] += pj * vr[e]
			}
		}
	}
	jobs := n * nq
	if jobs*t*hd < 1<<16 {
		for jb := range jobs {
			job(0, jb)
		}
		return
	}
	kernel.ForEach(jobs, job)
}

// cacheKV appends the keys and values of the n rows of d.qkv to layer L's
// cache.
func (d *Decoder) cacheKV(L, n int) {
	c := d.m.Cfg
	qd, kvd := c.qDim(), c.kvDim()
	ld := qd + 2*kvd
	if d.k[L] == nil {
		d.k[L] = make([]float32, 0, d.limit*kvd)
		d.v[L] = make([]float32, 0, d.limit*kvd)
	}
	for i := range n {
		row := d.qkv[i*ld : (i+1)*ld]
		d.k[L] = append(d.k[L], row[qd:qd+kvd]...)
		d.v[L] = append(d.v[L], row[qd+kvd:ld]...)
	}
}

// prefillAttention is attention for a first feed of several tokens: the
// cache is empty, so it is Forward's attention (packed per-head products)
// on one sequence, its rotated keys and values then cached.
func (d *Decoder) prefillAttention(L int, l *layer, n int) {
	if d.ws == nil {
		d.ws = &workspace{}
	}
	ws := d.ws
	ws.a, ws.qkv, ws.z = d.a[:n*d.m.Cfg.NEmbd], d.qkv, d.z
	ws.cos, ws.sin = d.cos, d.sin // positions 0..n-1: Forward's rotary table
	d.m.attention(ws, l, []int{0, n})
	d.qkv, d.z = ws.qkv, ws.z
	d.cacheKV(L, n)
}
