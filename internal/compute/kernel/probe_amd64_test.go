//go:build amd64 && !purego

package kernel

import (
	"time"

	"golang.org/x/sys/cpu"
)

// Benchmark probes (kernel_amd64.s): they measure the machine, not the
// product, so their Go side lives with the benchmarks, out of the server
// binary.

// sum512 adds n float32 (a multiple of 64) with AVX-512 loads.
//
//go:noescape
func sum512(p *float32, n int) float32

// mulChain runs 16n dependent 64-bit multiplies (48n core cycles).
func mulChain(n int)

// sumFloats adds the values of s (len a multiple of 64) with the widest loads
// the CPU has; it is the streaming-read reference for the GEMV benchmarks.
func sumFloats(s []float32) float32 {
	if cpu.X86.HasAVX512F && len(s) > 0 {
		return sum512(&s[0], len(s))
	}
	return sumGo(s)
}

// clockGHz estimates the current core clock from a chain of dependent
// multiplies (3 cycles each), the best of 5 tries of about 0.1 ms: time
// spent descheduled only lowers a reading.
func clockGHz() float64 {
	const n = 1 << 11
	best := 0.0
	for range 5 {
		t0 := time.Now()
		mulChain(n)
		best = max(best, 48*n/float64(time.Since(t0).Nanoseconds()))
	}
	return best
}
