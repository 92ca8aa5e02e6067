package kernel

import (
	"sync"
	"sync/atomic"
)

// sumGo adds the values of s with 8 independent partial sums.
func sumGo(s []float32) float32 {
	var p [8]float32
	for len(s) >= 8 {
		v := s[:8]
		p[0] += v[0]
		p[1] += v[1]
		p[2] += v[2]
		p[3] += v[3]
		p[4] += v[4]
		p[5] += v[5]
		p[6] += v[6]
		p[7] += v[7]
		s = s[8:]
	}
	for _, v := range s {
		p[0] += v
	}
	return p[0] + p[1] + p[2] + p[3] + p[4] + p[5] + p[6] + p[7]
}

// streamRead reads every value of the packed matrix once, split over the
// workers in the same two-panel items as the GEMV path, and returns their
// sum. It measures the memory-bandwidth ceiling of a one-row product.
func streamRead(p *Packed) float32 {
	const gp = 2
	items := (p.panels + gp - 1) / gp
	workers := min(Threads(), items)
	var next atomic.Int64
	sums := make([]float32, workers)
	work := func(id int) {
		for {
			it := int(next.Add(1) - 1)
			if it >= items {
				return
			}
			p0, p1 := it*gp, min(p.panels, it*gp+gp)
			sz := p.k * panelWidth
			sums[id] += sumFloats(p.data[p0*sz : p1*sz])
		}
	}
	var wg sync.WaitGroup
	for id := 1; id < workers; id++ {
		wg.Go(func() { work(id) })
	}
	work(0)
	wg.Wait()
	var s float32
	for _, v := range sums {
		s += v
	}
	return s
}
