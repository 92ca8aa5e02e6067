package transformer

import "saex/internal/compute/kernel"

// mlp computes the MLP's hidden activations (mlp.hook_post) from the
// normalised ws.b into ws.hid, recording mlp.hook_pre and hook_post, and
// reports whether the pass ends there.
func (p *pass) mlp(l *layer, L int) bool {
	m, ws := p.m, p.ws
	c := m.Cfg
	inner, n := c.NInner, p.n
	ws.hid = grow(ws.hid, n*inner)
	pre := Hook{Kind: HookMLPPre, Layer: L}
	switch {
	case c.GatedMLP:
		ws.gu = grow(ws.gu, n*2*inner)
		kernel.MatMul(ws.gu, ws.b, n, l.up, l.upB)
		if p.recordHalves(pre, Hook{Kind: HookMLPPreLinear, Layer: L}) {
			return true
		}
		m.gate(ws.hid, ws.gu, n)
	case p.want[pre] || c.Act == SiLU:
		kernel.MatMul(ws.hid, ws.b, n, l.up, l.upB)
		if p.emit(pre, ws.hid) {
			return true
		}
		m.activate(ws.hid, n)
	default:
		m.fcActivate(ws.hid, ws.b, n, l)
	}
	return p.emit(Hook{Kind: HookMLPPost, Layer: L}, ws.hid)
}

// recordHalves records the gate (pre) and up (linear) halves of ws.gu
// through ws.hid when asked, and reports whether the pass ends there.
func (p *pass) recordHalves(pre, linear Hook) bool {
	inner, ws := p.m.Cfg.NInner, p.ws
	for half, h := range []Hook{pre, linear} {
		if !p.want[h] {
			continue
		}
		for r := range p.n {
			copy(ws.hid[r*inner:(r+1)*inner], ws.gu[(2*r+half)*inner:(2*r+half+1)*inner])
		}
		if p.emit(h, ws.hid) {
			return true
		}
	}
	return false
}

// actFunc is the model's activation for one value.
func (m *Model) actFunc() func(float32) float32 {
	switch m.Cfg.Act {
	case GeluErf:
		return geluErf
	case SiLU:
		return silu
	}
	return geluNew
}

// activate applies the MLP nonlinearity in place to n rows of width n_inner.
func (m *Model) activate(h []float32, n int) {
	f := m.actFunc()
	inner := m.Cfg.NInner
	parallelRows(n, 20*inner, func(r0, r1 int) {
		if m.Cfg.Act == GeluErf {
			for r := r0; r < r1; r++ {
				geluErfBiasFast(h[r*inner:(r+1)*inner], h[r*inner:(r+1)*inner], m.zeros)
			}
			return
		}
		for i := r0 * inner; i < r1*inner; i++ {
			h[i] = f(h[i])
		}
	})
}

// gate sets h = act(gate) * up from the n rows of gu (gate | up, each
// n_inner wide).
func (m *Model) gate(h, gu []float32, n int) {
	inner := m.Cfg.NInner
	tanhGelu := m.Cfg.Act == GeluTanh
	parallelRows(n, 20*inner, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			g, u := gu[r*2*inner:(r*2+1)*inner], gu[(r*2+1)*inner:(r+1)*2*inner]
			dst := h[r*inner : (r+1)*inner]
			if !tanhGelu {
				siluMul(dst, g, u)
				continue
			}
			geluNewBias(dst, g, m.zeros)
			for i, v := range u {
				dst[i] *= v
			}
		}
	})
}

// siluMulGo sets dst[i] = silu(g[i])·u[i] in plain Go.
func siluMulGo(dst, g, u []float32) {
	dst, u = dst[:len(g)], u[:len(g)]
	for i, v := range g {
		x := float64(v)
		dst[i] = float32(x/(1+fastExp(-x))) * u[i]
	}
}

// fcActivate computes gelu(a @ up + b) into h, applying bias and
// nonlinearity (tanh or exact GELU) to each tile while it is hot in cache.
func (m *Model) fcActivate(h, a []float32, n int, l *layer) {
	inner := m.Cfg.NInner
	act := geluNewBias
	if m.Cfg.Act == GeluErf {
		act = geluErfBiasFast
	}
	bias := l.upB
	if bias == nil {
		bias = m.zeros
	}
	kernel.MatMulTiles(a, n, l.up, func(_, row0, rows, col0, cols int, tile []float32, ld int) {
		bc := bias[col0 : col0+cols]
		for r := range rows {
			src := tile[r*ld : r*ld+cols]
			dst := h[(row0+r)*inner+col0 : (row0+r)*inner+col0+cols]
			act(dst, src, bc)
		}
	})
}
