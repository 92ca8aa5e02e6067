package transformer

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
