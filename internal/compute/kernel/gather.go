package kernel

// gatherGo is the portable AtLeastIndices scan; it writes j+off.
func gatherGo(v, bias []float32, thr float32, idx []int32, off int) int {
	bias = bias[:len(v)]
	cnt := 0
	for j, x := range v {
		if x+bias[j] >= thr {
			idx[cnt] = int32(j + off)
			cnt++
		}
	}
	return cnt
}
