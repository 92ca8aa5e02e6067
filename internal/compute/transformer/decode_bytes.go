package transformer

// DecodeWeightBytes is the bytes of weights one decode step reads: every
// layer's packed matrices (Q|K|V, O, the MLP's up or gate|up, down) as
// stored (16-bit weights count two bytes), the unembedding, and the norms'
// and biases' float32 vectors. The embedding reads one row and is left out.
func (m *Model) DecodeWeightBytes() int64 {
	var n int64
	vec := func(v []float32) { n += 4 * int64(len(v)) }
	nrm := func(x norm) { vec(x.w); vec(x.b) }
	for i := range m.layers[:m.built] {
		l := &m.layers[i]
		for _, p := range []interface{ Bytes() int }{l.qkv, l.o, l.up, l.down} {
			n += int64(p.Bytes())
		}
		for _, v := range [][]float32{l.qkvB, l.qNorm, l.kNorm, l.oB, l.upB, l.downB} {
			vec(v)
		}
		nrm(l.ln1)
		nrm(l.ln2)
		nrm(l.postAttn)
		nrm(l.postMLP)
	}
	if m.head {
		n += int64(m.WU().Bytes())
		nrm(m.final)
	}
	return n
}
