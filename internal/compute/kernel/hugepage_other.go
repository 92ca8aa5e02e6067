//go:build !linux

package kernel

// adviseHugePages is a no-op where transparent huge pages are not available.
func adviseHugePages([]float32) {}
