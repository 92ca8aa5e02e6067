//go:build amd64 && !purego

package kernel

import (
	"os"
	"strings"
	"testing"
)

// TestIsIntel checks the CPUID vendor probe against the kernel's
// /proc/cpuinfo (where there is one).
func TestIsIntel(t *testing.T) {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip("no /proc/cpuinfo")
	}
	want := strings.Contains(string(info), "GenuineIntel")
	if got := isIntel(); got != want {
		t.Errorf("isIntel() = %v, /proc/cpuinfo says GenuineIntel: %v", got, want)
	}
}
