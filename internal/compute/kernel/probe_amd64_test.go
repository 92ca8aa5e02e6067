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

// addChain runs 16n dependent integer adds (16n core cycles).
func addChain(n int)

// sumFloats adds the values of s (len a multiple of 64) with the widest loads
// the CPU has; it is the streaming-read reference for the GEMV benchmarks.
func sumFloats(s []float32) float32 {
	if cpu.X86.HasAVX512F && len(s) > 0 {
		return sum512(&s[0], len(s))
	}
	return sumGo(s)
}

// clockGHz estimates the current core clock from a chain of dependent adds
// (one per cycle); 0 where no probe exists.
func clockGHz() float64 {
	const n = 1 << 20
	t0 := time.Now()
	addChain(n)
	return 16 * n / float64(time.Since(t0).Nanoseconds())
}
