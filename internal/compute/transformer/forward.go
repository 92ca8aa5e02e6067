package transformer

import (
	"fmt"

	"saex/internal/compute/kernel"
)

// workspace holds one forward pass's scratch buffers; they are reused
// across calls through Model.pool.
type workspace struct {
	x, a, b, qkv, z, tmp, hid, gu []float32
	cos, sin                      []float32      // rotary table of the longest sequence
	heads                         []*headScratch // one per attention worker
}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// pass is one Forward call's state: the rows of each sequence, the hooks
// to record and the depth at which to stop.
type pass struct {
	m    *Model
	ws   *workspace
	rows []int // rows[s] is sequence s's first row; rows[len] = total
	n    int
	want map[Hook]bool
	stop int
	acts *Activations
}

func (p *pass) record(h Hook, buf []float32) {
	if !p.want[h] {
		return
	}
	w := p.m.HookWidth(h)
	p.acts.data[h] = append([]float32(nil), buf[:p.n*w]...)
	p.acts.width[h] = w
}

func (p *pass) done(h Hook) bool { return h.depth(p.m.Cfg.NLayer) >= p.stop }

// emit records h and reports whether the pass ends there.
func (p *pass) emit(h Hook, buf []float32) bool {
	p.record(h, buf)
	return p.done(h)
}

// Forward runs the sequences of batch (token ids, each 1..n_positions
// long) through the model and returns the activations at hooks (names as
// in ParseHook). Only the layers up to the deepest requested hook run. It
// is an error to request no hook, an unknown hook or one this model lacks
// (CheckHook), or to pass an id outside the vocabulary or a sequence
// longer than n_positions.
func (m *Model) Forward(batch [][]int, hooks []string) (*Activations, error) {
	p, err := m.newPass(batch, hooks)
	if err != nil {
		return nil, err
	}
	ws, _ := m.pool.Get().(*workspace)
	if ws == nil {
		ws = &workspace{}
	}
	defer m.pool.Put(ws)
	p.ws = ws
	d := m.Cfg.NEmbd
	ws.x = grow(ws.x, p.n*d)
	ws.a = grow(ws.a, p.n*d)
	ws.b = grow(ws.b, p.n*d)
	ws.tmp = grow(ws.tmp, p.n*d)
	if p.embed(batch) {
		return p.acts, nil
	}
	if !m.Cfg.LearnedPositions { // one rotary table for every layer
		tmax := 0
		for _, ids := range batch {
			tmax = max(tmax, len(ids))
		}
		half := m.Cfg.RotaryDim / 2
		ws.cos, ws.sin = grow(ws.cos, tmax*half), grow(ws.sin, tmax*half)
		ropeTable(ws.cos, ws.sin, m.invFreq, tmax)
	}
	for L := range m.Cfg.NLayer {
		if p.block(L) {
			return p.acts, nil
		}
	}
	p.head()
	return p.acts, nil
}

// newPass validates the batch and the hooks.
func (m *Model) newPass(batch [][]int, hooks []string) (*pass, error) {
	if len(hooks) == 0 {
		return nil, fmt.Errorf("transformer: no hook requested")
	}
	if len(batch) == 0 {
		return nil, fmt.Errorf("transformer: empty batch")
	}
	cfg := m.Cfg
	p := &pass{m: m, want: make(map[Hook]bool, len(hooks)), stop: -1}
	for _, name := range hooks {
		h, err := ParseHook(name)
		if err != nil {
			return nil, err
		}
		if err := m.CheckHook(h); err != nil {
			return nil, err
		}
		p.want[h] = true
		p.stop = max(p.stop, h.depth(cfg.NLayer))
	}
	p.rows = make([]int, len(batch)+1)
	for s, ids := range batch {
		if len(ids) == 0 {
			return nil, fmt.Errorf("transformer: sequence %d is empty", s)
		}
		if len(ids) > cfg.NPositions {
			return nil, fmt.Errorf("transformer: sequence %d has %d tokens, more than the model's context of %d (n_positions)", s, len(ids), cfg.NPositions)
		}
		for i, id := range ids {
			if id < 0 || id >= cfg.VocabSize {
				return nil, fmt.Errorf("transformer: sequence %d, position %d: token id %d outside the vocabulary [0, %d)", s, i, id, cfg.VocabSize)
			}
		}
		p.rows[s+1] = p.rows[s] + len(ids)
	}
	p.n = p.rows[len(batch)]
	p.acts = &Activations{rows: p.rows, data: make(map[Hook][]float32, len(p.want)), width: make(map[Hook]int, len(p.want))}
	return p, nil
}

// embed writes the block-0 input into ws.x: token embeddings (times
// EmbedScale) plus learned positions, which restart at 0 in every
// sequence. It reports whether the pass ends there.
func (p *pass) embed(batch [][]int) bool {
	m, ws := p.m, p.ws
	d := m.Cfg.NEmbd
	scale := float32(m.Cfg.EmbedScale)
	for s, ids := range batch {
		for i, id := range ids {
			r := p.rows[s] + i
			xr := ws.x[r*d : (r+1)*d]
			m.wte.row(xr, id, d)
			if m.wpe == nil {
				if scale != 1 {
					for j := range xr {
						xr[j] *= scale
					}
				}
				continue
			}
			pe := m.wpe[i*d : (i+1)*d]
			copy(ws.a[r*d:(r+1)*d], xr)
			copy(ws.tmp[r*d:(r+1)*d], pe)
			for j := range xr {
				xr[j] += pe[j]
			}
		}
	}
	if m.wpe != nil {
		p.record(Hook{Kind: HookEmbed}, ws.a)
		p.record(Hook{Kind: HookPosEmbed}, ws.tmp)
	} else {
		p.record(Hook{Kind: HookEmbed}, ws.x)
	}
	return p.emit(Hook{Kind: HookResidPre}, ws.x)
}

// head applies the final norm and, when asked, the unembedding (with
// Gemma-2's final soft-cap).
func (p *pass) head() {
	m, ws := p.m, p.ws
	m.normRows(ws.a, ws.x, m.final, p.n)
	if p.emit(Hook{Kind: HookLnFinal}, ws.a) {
		return
	}
	v := m.Cfg.VocabSize
	logits := make([]float32, p.n*v)
	kernel.MatMul(logits, ws.a, p.n, m.WU(), nil)
	if c := m.Cfg.FinalSoftcap; c > 0 {
		parallelRows(p.n, 20*v, func(r0, r1 int) { capRow(logits[r0*v:r1*v], 1, c) })
	}
	p.acts.data[Hook{Kind: HookLogits}] = logits
	p.acts.width[Hook{Kind: HookLogits}] = v
}

func addInPlace(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}
