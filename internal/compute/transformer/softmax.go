package transformer

import "math"

// rowMaxGo is rowMax in plain Go.
func rowMaxGo(v []float32) float32 {
	mx := v[0]
	for _, x := range v[1:] {
		if x > mx {
			mx = x
		}
	}
	return mx
}

// expShiftedGo sets row[j] = exp(row[j]*scale - mx) and returns the sum,
// in plain Go; fastExp written out for the same reason as in
// geluNewBiasGo.
func expShiftedGo(row []float32, scale, mx float32) float64 {
	var sum float64
	for j, v := range row {
		y := float64(v*scale - mx)
		y = min(max(y, -700), 700)
		t := y*expInvStep + roundShift
		n := int64(math.Float64bits(t))
		nf := t - roundShift
		r := y - nf*expStepHi - nf*expStepLo
		r2 := r * r
		p := (1 + r) + r2*(0.5+r*(1.0/6)+r2*(1.0/24))
		e := p * expTable[n&31] * math.Float64frombits(uint64(((n>>5)+1023)&0x7FF)<<52)
		row[j] = float32(e)
		sum += e
	}
	return sum
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

// attnSoftmax is causalSoftmax with Gemma-2's options: scores soft-capped
// to c·tanh(scale·s/c) before the softmax (softcap > 0), and row i limited
// to its last window positions, j > i - window (window > 0). Entries
// outside each row's span become 0.
func attnSoftmax(s []float32, t, ld int, scale float32, softcap float64, window int) {
	if softcap == 0 && window == 0 {
		causalSoftmax(s, t, ld, scale)
		return
	}
	for i := range t {
		row := s[i*ld : (i+1)*ld]
		j0 := 0
		if window > 0 {
			j0 = max(0, i-window+1)
		}
		seg := row[j0 : i+1]
		sc := scale
		if softcap > 0 {
			capRow(seg, scale, softcap)
			sc = 1
		}
		mx := rowMax(seg) * sc
		inv := float32(1 / expShifted(seg, sc, mx))
		scaleRow(seg, inv)
		clear(row[:j0])
		clear(row[i+1:])
	}
}

// capRow sets v[j] = c·tanh(scale·v[j]/c).
func capRow(v []float32, scale float32, c float64) {
	for j, x := range v {
		v[j] = float32(softcap(float64(x*scale), c))
	}
}
