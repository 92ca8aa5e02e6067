package transformer

import "saex/internal/compute/kernel"

// parallelRows splits rows [0, n) into chunks shared out over the kernel's
// workers when the work (n*cost) is large enough to pay for the hand-off.
func parallelRows(n, cost int, fn func(r0, r1 int)) {
	workers := min(kernel.Threads(), n)
	if workers <= 1 || n*cost < 1<<15 {
		fn(0, n)
		return
	}
	// A few chunks per worker, so a worker that starts late takes fewer.
	chunk := (n + 4*workers - 1) / (4 * workers)
	kernel.ForEach((n+chunk-1)/chunk, func(_, c int) {
		fn(c*chunk, min(n, (c+1)*chunk))
	})
}
