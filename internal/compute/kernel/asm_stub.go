//go:build !amd64 || purego

package kernel

// asmImpls lists the assembly implementations this CPU supports, best first;
// there are none on this architecture or in a purego build.
func asmImpls() []*impl { return nil }

// spinPause would pause the core briefly; there is no PAUSE here.
func spinPause() {}
