package transformer

// ForwardFLOPs is the number of floating-point operations (2 per
// multiply-add) of the matrix products in a forward pass of one sequence
// of t tokens through the first layers blocks, plus the unembedding when
// logits is set: the projections, the MLP, and the causal attention
// products (t·(t+1)/2 scores per head, each used twice).
func (c Config) ForwardFLOPs(t, layers int, logits bool) float64 {
	d, tf := float64(c.NEmbd), float64(t)
	proj := d*float64(c.qDim()+2*c.kvDim()) + float64(c.qDim())*d
	mlp := 2 * d * float64(c.NInner)
	if c.GatedMLP {
		mlp = 3 * d * float64(c.NInner)
	}
	attn := 2 * tf * (tf + 1) / 2 * float64(c.HeadDim) * float64(c.NHead)
	total := float64(layers) * (2*tf*(proj+mlp) + 2*attn)
	if logits {
		total += 2 * tf * d * float64(c.VocabSize)
	}
	return total
}

// LayersFor returns how many layers a pass to the deepest of hooks runs
// and whether it reaches the unembedding.
func (c Config) LayersFor(hooks []string) (layers int, logits bool, err error) {
	probe := &Model{Cfg: c, built: c.NLayer, head: true}
	for _, name := range hooks {
		h, err := ParseHook(name)
		if err != nil {
			return 0, false, err
		}
		if err := probe.CheckHook(h); err != nil {
			return 0, false, err
		}
		switch {
		case h.Kind == HookLnFinal:
			layers = c.NLayer
		case h.Kind == HookLogits:
			layers, logits = c.NLayer, true
		case h.Kind == HookResidPre:
			layers = max(layers, h.Layer)
		case h.Kind > HookResidPre:
			layers = max(layers, h.Layer+1)
		}
	}
	return layers, logits, nil
}
