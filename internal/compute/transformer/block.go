package transformer

import "saex/internal/compute/kernel"

// block runs layer L on ws.x in place, recording its hooks, and reports
// whether the pass ends in it. One block serves every family through the
// Config switches: a parallel residual (both halves read the block input),
// a sandwich norm after each half, a gated MLP.
func (p *pass) block(L int) bool {
	m, ws := p.m, p.ws
	l := &m.layers[L]
	c := m.Cfg
	hk := func(k HookKind) Hook { return Hook{Kind: k, Layer: L} }
	x := ws.x
	m.normRows(ws.a, x, l.ln1, p.n)
	if c.ParallelResidual { // the MLP's input, before attention changes x
		m.normRows(ws.b, x, l.ln2, p.n)
	}
	m.attention(ws, l, p.rows)
	if p.emit(hk(HookAttnZ), ws.z) {
		return true
	}
	if p.addOutput(ws.z, l.o, l.oB, l.postAttn, hk(HookAttnOut)) {
		return true
	}
	if !c.ParallelResidual {
		if p.emit(hk(HookResidMid), x) {
			return true
		}
		m.normRows(ws.b, x, l.ln2, p.n)
	}
	if p.mlp(l, L) {
		return true
	}
	if p.addOutput(ws.hid, l.down, l.downB, l.postMLP, hk(HookMLPOut)) {
		return true
	}
	p.record(hk(HookResidPost), x)
	if L+1 < c.NLayer {
		p.record(Hook{Kind: HookResidPre, Layer: L + 1}, x)
	}
	return p.done(hk(HookResidPost))
}

// addOutput adds in·W + b (attention or MLP output), normalised by post
// when the family has such a norm, to the residual stream. Without a norm
// and unless hook asks for the output itself, the add is fused into the
// product. It reports whether the pass ends at hook.
func (p *pass) addOutput(in []float32, w *kernel.Packed, b []float32, post norm, hook Hook) bool {
	ws := p.ws
	if post.w == nil && !p.want[hook] {
		kernel.MatMulAdd(ws.x, in, p.n, w, b)
		return false
	}
	kernel.MatMul(ws.tmp, in, p.n, w, b)
	if post.w != nil {
		p.m.normRows(ws.tmp, ws.tmp, post, p.n)
	}
	if p.emit(hook, ws.tmp) {
		return true
	}
	addInPlace(ws.x, ws.tmp)
	return false
}
