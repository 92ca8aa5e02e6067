package dashboard

import (
	"math"
	"sync"
	"sync/atomic"

	"saex/internal/compute/kernel"
	"saex/internal/compute/transformer"
)

// Logit effects: the direct effect of a feature's decoder direction on the
// next-token logits, W_dec[i] @ W_U, with W_U as TransformerLens processes
// it (fold_ln, then center_unembed): ln_f's weight folded in, each vocab
// column centred over d_model (fold_ln's centring of reading weights, for
// LayerNorm models only: TransformerLens folds RMSNorm without centring)
// and each d_model row centred over the vocabulary. The centrings make the
// values independent of the residual's mean and of a constant logit shift,
// which the final layer norm and the softmax discard anyway.

const logitRows = 10 // pos_str/neg_str entries

// processedUnembed returns W_U [d_model, vocab] processed as above, in
// float32 computed through float64.
func processedUnembed(m *transformer.Model) []float32 {
	d, v := m.Cfg.NEmbd, m.Cfg.VocabSize
	wut := m.WUT() // [vocab, d]
	lnw, _ := m.LnFinal()
	w := make([]float64, d*v)
	for t := 0; t < v; t++ {
		row := wut[t*d : (t+1)*d]
		var mean float64
		for j := 0; j < d; j++ {
			x := float64(lnw[j]) * float64(row[j])
			w[j*v+t] = x
			mean += x
		}
		mean /= float64(d)
		if m.Cfg.RMSNorm { // fold_ln centres reading weights only under LayerNorm
			mean = 0
		}
		for j := 0; j < d; j++ {
			w[j*v+t] -= mean
		}
	}
	out := make([]float32, d*v)
	for j := 0; j < d; j++ {
		r := w[j*v : (j+1)*v]
		var mean float64
		for _, x := range r {
			mean += x
		}
		mean /= float64(v)
		for t, x := range r {
			out[j*v+t] = float32(x - mean)
		}
	}
	return out
}

// processedUnembedPacked is processedUnembed packed for the kernel.
func processedUnembedPacked(m *transformer.Model) *kernel.Packed {
	return kernel.Pack(processedUnembed(m), m.Cfg.NEmbd, m.Cfg.VocabSize)
}

// logitResult is one feature's logit table and histogram.
type logitResult struct {
	posIdx, negIdx []int
	posVal, negVal []float64
	histH, histV   []float64
}

// logitEffects computes every feature's logit effects from W_dec
// [dsae, d] in blocks of rows (the [block, vocab] product is the largest
// buffer), calling fn for each feature, concurrently for different ones.
func logitEffects(wdec []float32, dsae, d int, wu *kernel.Packed, fn func(f int, r logitResult)) {
	v := wu.N()
	block := max(1, min(dsae, (4<<20)/v))
	out := make([]float32, block*v)
	for f0 := 0; f0 < dsae; f0 += block {
		n := min(block, dsae-f0)
		kernel.MatMul(out[:n*v], wdec[f0*d:(f0+n)*d], n, wu, nil)
		parallelRows(n, func(i int) { fn(f0+i, logitTable(out[i*v:(i+1)*v])) })
	}
}

// parallelRows calls fn(0..n-1) over kernel.Threads() goroutines.
func parallelRows(n int, fn func(i int)) {
	w := min(n, kernel.Threads())
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// logitTable picks the top and bottom logitRows tokens of one logit
// vector (ties: lower token id first) and its 50-bin histogram.
func logitTable(l []float32) logitResult {
	k := min(logitRows, len(l))
	var r logitResult
	for _, t := range topK(l, k, false) {
		r.posIdx = append(r.posIdx, int(t))
		r.posVal = append(r.posVal, float64(l[t]))
	}
	for _, t := range topK(l, k, true) {
		r.negIdx = append(r.negIdx, int(t))
		r.negVal = append(r.negVal, float64(l[t]))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range l {
		lo, hi = min(lo, float64(x)), max(hi, float64(x))
	}
	r.histH, r.histV = histogram(l, lo, hi)
	return r
}

// topK returns the indices of the k largest values (the k smallest with
// lowest), best first, ties going to the lower index, in one pass that
// keeps a sorted buffer (k is small, vals long). -Inf (or +Inf for lowest)
// entries are never picked once k others are.
func topK(vals []float32, k int, lowest bool) []int32 {
	type cand struct {
		v float32
		i int32
	}
	buf := make([]cand, 0, k)
	for i, v := range vals {
		if lowest {
			v = -v
		}
		if len(buf) == k {
			// Indices only grow, so an equal value never displaces a kept one.
			if !(v > buf[k-1].v) {
				continue
			}
			buf = buf[:k-1]
		}
		j := len(buf)
		buf = append(buf, cand{})
		for j > 0 && v > buf[j-1].v {
			buf[j] = buf[j-1]
			j--
		}
		buf[j] = cand{v, int32(i)}
	}
	out := make([]int32, len(buf))
	for i, c := range buf {
		out[i] = c.i
	}
	return out
}

// histogram counts values into histBins equal bins over [lo, hi] (as
// torch.histc) and returns the counts and the bin centres.
func histogram(vals []float32, lo, hi float64) (heights, centres []float64) {
	lo, hi = histRange(lo, hi)
	heights = make([]float64, histBins)
	for _, x := range vals {
		heights[histBin(float64(x), lo, hi, histBins)]++
	}
	return heights, histCentres(lo, hi)
}

func histCentres(lo, hi float64) []float64 {
	w := (hi - lo) / histBins
	c := make([]float64, histBins)
	for i := range c {
		c[i] = lo + w*(float64(i)+0.5)
	}
	return c
}
