package kernel

// asmImpls lists the assembly implementations this CPU supports, best first.
func asmImpls() []*impl { return nil }
