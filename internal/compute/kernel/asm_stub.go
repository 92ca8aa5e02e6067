//go:build !amd64 || purego

package kernel

// asmImpls lists the assembly implementations this CPU supports, best first;
// there are none on this architecture or in a purego build.
func asmImpls() []*impl { return nil }

// sumFloats adds the values of s; it is the streaming-read reference for the
// GEMV benchmarks.
func sumFloats(s []float32) float32 { return sumGo(s) }

// clockGHz would estimate the core clock; there is no probe here.
func clockGHz() float64 { return 0 }

// spinPause would pause the core briefly; there is no PAUSE here.
func spinPause() {}
