//go:build !amd64 || purego

package kernel

// sumFloats adds the values of s; it is the streaming-read reference for the
// GEMV benchmarks.
func sumFloats(s []float32) float32 { return sumGo(s) }

// clockGHz would estimate the core clock; there is no probe here.
func clockGHz() float64 { return 0 }
