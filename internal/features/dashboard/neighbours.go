package dashboard

import (
	"math"

	"saex/internal/compute/kernel"
)

// neighbourCount is the length of topkCosSim*: the feature itself, then
// its 10 nearest decoder directions by cosine similarity.
const neighbourCount = 11

// neighbours computes, for every feature, the neighbourCount largest
// cosine similarities between its decoder row and all rows (itself first),
// through the kernel in row blocks: unit rows [block, d] times the packed
// unit W_dec^T [d, dsae], so at most block*dsae similarities exist at once.
// A zero decoder row (a dead or pruned feature) has similarity 0 to all.
func neighbours(wdec []float32, dsae, d int, fn func(f int, idx []int, val []float64)) {
	unit := make([]float32, len(wdec))
	for i := 0; i < dsae; i++ {
		row := wdec[i*d : (i+1)*d]
		var n2 float64
		for _, x := range row {
			n2 += float64(x) * float64(x)
		}
		if n2 == 0 {
			continue
		}
		inv := 1 / math.Sqrt(n2)
		for j, x := range row {
			unit[i*d+j] = float32(float64(x) * inv)
		}
	}
	packed := kernel.PackTransposed(unit, d, dsae)
	block := max(1, min(dsae, (4<<20)/dsae))
	sims := make([]float32, block*dsae)
	for f0 := 0; f0 < dsae; f0 += block {
		n := min(block, dsae-f0)
		kernel.MatMul(sims[:n*dsae], unit[f0*d:(f0+n)*d], n, packed, nil)
		parallelRows(n, func(r int) {
			f := f0 + r
			row := sims[r*dsae : (r+1)*dsae]
			self := row[f]
			row[f] = float32(math.Inf(-1)) // self goes first, whatever rounding made of it
			top := topK(row, min(neighbourCount-1, dsae-1), false)
			idx := make([]int, 0, len(top)+1)
			val := make([]float64, 0, len(top)+1)
			idx = append(idx, f)
			val = append(val, float64(self))
			for _, t := range top {
				idx = append(idx, int(t))
				val = append(val, float64(row[t]))
			}
			fn(f, idx, val)
		})
	}
}
