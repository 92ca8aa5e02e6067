package kernel

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestForEach checks that every index runs exactly once with a worker id
// below Threads() that no other running call shares, from concurrent
// callers and from calls nested inside a ForEach.
func TestForEach(t *testing.T) {
	withThreads(3, func() {
		const callers, n = 4, 500
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for round := range 50 {
					counts := make([]atomic.Int32, n)
					var busy [3]atomic.Int32
					ForEach(n, func(w, i int) {
						if w < 0 || w >= 3 {
							t.Errorf("worker %d outside [0, 3)", w)
							return
						}
						if busy[w].Add(1) != 1 {
							t.Errorf("worker id %d used by two calls at once", w)
						}
						counts[i].Add(1)
						if round%10 == 0 && i%100 == 0 { // nested
							var inner atomic.Int32
							ForEach(7, func(_, _ int) { inner.Add(1) })
							if inner.Load() != 7 {
								t.Errorf("nested ForEach ran %d of 7", inner.Load())
							}
						}
						busy[w].Add(-1)
					})
					for i := range counts {
						if c := counts[i].Load(); c != 1 {
							t.Fatalf("index %d ran %d times", i, c)
						}
					}
				}
			})
		}
		wg.Wait()
	})
	ForEach(0, func(_, _ int) { t.Error("ran for n = 0") })
}
