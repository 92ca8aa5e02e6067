//go:build purego

package kernel

// buildPurego is set by the purego build tag, which forces the portable
// kernel and leaves the assembly out of the build.
const buildPurego = true
