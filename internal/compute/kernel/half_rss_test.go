package kernel_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"saex/internal/compute/kernel"
	"saex/internal/compute/tensor"
)

// statusKB reads a "Name:  N kB" line of /proc/self/status.
func statusKB(t *testing.T, name string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			var kb int
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb
			}
		}
	}
	t.Skipf("no %s in /proc/self/status", name)
	return 0
}

// TestPackMappedPeakRSS loads a BF16 checkpoint the way a model should
// (mmap, Uint16s, PackBF16Transposed, Release, tensor by tensor, the
// largest first) and checks that the process's peak resident memory grows
// by at most 1.15× the weights' bytes: each packed copy replaces its mapped
// pages instead of adding to them, so the peak is the packed weights plus
// the one tensor in flight. Without the Release it is about 2×.
func TestPackMappedPeakRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 48 MiB file")
	}
	const in = 4096
	outs := []int{2048, 512, 512, 512, 512, 512, 512, 512, 512} // 16 MiB, then 8 × 4 MiB
	dir := t.TempDir()
	writeBF16File(t, filepath.Join(dir, "model.safetensors"), outs, in)
	ck, err := tensor.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()

	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	base := statusKB(t, "VmRSS")
	packed := make([]*kernel.Packed, len(outs))
	weights := 0
	for i, out := range outs {
		name := fmt.Sprintf("w%d", i)
		raw, dt, err := ck.Uint16s(name, out, in)
		if err != nil || dt != tensor.BF16 {
			t.Fatalf("%s: %v %v", name, dt, err)
		}
		packed[i] = kernel.PackBF16Transposed(raw, in, out)
		if err := ck.Release(name); err != nil {
			t.Fatal(err)
		}
		weights += out * in * 2 / 1024
	}
	peak := statusKB(t, "VmHWM")
	grow := peak - base
	msg := fmt.Sprintf("peak RSS grew by %d kB for %d kB of BF16 weights (%.3f×)", grow, weights, float64(grow)/float64(weights))
	if float64(grow) > 1.15*float64(weights) {
		t.Error(msg + ", want at most 1.15×")
	} else {
		t.Log(msg)
	}
	runtime.KeepAlive(packed)
}

// writeBF16File writes a safetensors file of [outs[i], in] BF16 tensors
// named w0, w1, ... without holding it all in memory.
func writeBF16File(t *testing.T, path string, outs []int, in int) {
	t.Helper()
	hdr := map[string]any{}
	off := 0
	for i, out := range outs {
		hdr[fmt.Sprintf("w%d", i)] = map[string]any{"dtype": "BF16", "shape": []int{out, in}, "data_offsets": []int{off, off + out*in*2}}
		off += out * in * 2
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(js))))
	f.Write(js)
	buf := make([]byte, in*2)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, out := range outs {
		for range out {
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
	}
}
