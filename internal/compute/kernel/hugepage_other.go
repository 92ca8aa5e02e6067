//go:build !linux

package kernel

// adviseHugePages is a no-op where transparent huge pages are not available.
func adviseHugePages([]float32) {}

// adviseHugePagesBytes is a no-op where transparent huge pages are not available.
func adviseHugePagesBytes([]byte) {}
