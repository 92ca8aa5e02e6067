package tensor

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"unsafe"
)

// rawT is a tensor of any dtype given as its little-endian bytes.
type rawT struct {
	dtype DType
	shape []int
	data  []byte
}

// writeRaw encodes a safetensors file of raw tensors in name order, after
// pad bytes of a filler U8 tensor (so that pad=1 puts the rest at odd
// offsets).
func writeRaw(t testing.TB, tensors map[string]rawT, pad int) []byte {
	t.Helper()
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	hdr := map[string]any{}
	off := 0
	var body []byte
	if pad > 0 {
		hdr["0pad"] = map[string]any{"dtype": "U8", "shape": []int{pad}, "data_offsets": []int{0, pad}}
		body = make([]byte, pad)
		off = pad
	}
	for _, n := range names {
		r := tensors[n]
		hdr[n] = map[string]any{"dtype": string(r.dtype), "shape": r.shape, "data_offsets": []int{off, off + len(r.data)}}
		body = append(body, r.data...)
		off += len(r.data)
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	return append(append(out, js...), body...)
}

func halfBytes(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUint16s checks the 16-bit view: the raw values, in place for an
// aligned mapped tensor, copied (and still right) at an odd offset; shape
// and dtype checks name file and tensor; Release keeps the data readable.
func TestUint16s(t *testing.T) {
	bf := []uint16{0x3f80, 0xc000, 0x0000, 0x7f80, 0x0001, 0xbf80}  // 1, -2, 0, +Inf, tiny, -1
	f16 := []uint16{0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000, 0x3555} // 1, -2, 2^-24, 65504, -0, ~1/3
	for _, pad := range []int{0, 1} {
		path := filepath.Join(t.TempDir(), "w.safetensors")
		writeFile(t, path, writeRaw(t, map[string]rawT{
			"bf":  {BF16, []int{2, 3}, halfBytes(bf)},
			"f16": {F16, []int{3, 2}, halfBytes(f16)},
			"f32": {F32, []int{1}, []byte{0, 0, 0x80, 0x3f}},
		}, pad))
		f, err := OpenSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string][]uint16{"bf": bf, "f16": f16} {
			info, _ := f.Info(name)
			got, dt, err := f.Uint16s(name, info.Shape...)
			if err != nil {
				t.Fatalf("pad %d: %v", pad, err)
			}
			if dt != info.DType || !equalU16(got, want) {
				t.Errorf("pad %d: Uint16s(%s) = %v %x, want %s %x", pad, name, dt, got, info.DType, want)
			}
			e := f.tensors[name]
			inPlace := unsafe.Pointer(&got[0]) == unsafe.Pointer(&e.data[0])
			if inPlace != (pad == 0) {
				t.Errorf("pad %d: %s in place = %v", pad, name, inPlace)
			}
			// The widened values equal Float32's.
			wide := make([]float32, len(got))
			Widen(wide, got, dt)
			want32, _ := f.Float32(name)
			for i := range wide {
				if math.Float32bits(wide[i]) != math.Float32bits(want32[i]) {
					t.Errorf("%s: Widen[%d] = %g, Float32 %g", name, i, wide[i], want32[i])
				}
			}
			if err := f.Release(name); err != nil {
				t.Fatal(err)
			}
			if again, _, _ := f.Uint16s(name); !equalU16(again, want) {
				t.Errorf("pad %d: %s after Release = %x", pad, name, again)
			}
		}
		if _, _, err := f.Uint16s("bf", 3, 2); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"bf"`) || !strings.Contains(err.Error(), "[2 3]") {
			t.Errorf("shape mismatch error = %v", err)
		}
		if _, _, err := f.Uint16s("f32"); err == nil || !strings.Contains(err.Error(), "F32") || !strings.Contains(err.Error(), `"f32"`) {
			t.Errorf("dtype error = %v", err)
		}
		if _, _, err := f.Uint16s("nope"); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("missing error = %v", err)
		}
		f.Close()
		if _, _, err := f.Uint16s("bf"); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("closed error = %v", err)
		}
	}
}

func equalU16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWidenAll checks Widen on every 16-bit pattern against Float32's
// decoding of the same bytes.
func TestWidenAll(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	for _, dt := range []DType{BF16, F16} {
		got := make([]float32, len(src))
		Widen(got, src, dt)
		want := make([]float32, len(src))
		decodeFloat32(want, halfBytes(src), dt)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s %#04x: %g, want %g", dt, i, got[i], want[i])
			}
		}
	}
	for name, f := range map[string]func(){
		"len":   func() { Widen(make([]float32, 2), make([]uint16, 3), BF16) },
		"dtype": func() { Widen(make([]float32, 2), make([]uint16, 2), F32) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Widen %s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// rssKB reads the process's resident memory (Linux; VmRSS counts mapped
// file pages whether the file is on disk or on tmpfs).
func rssKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb
			}
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// TestReleaseDropsPages shows that Release takes a read tensor's pages out
// of the resident set, which is what keeps a 16-bit model's peak at about
// its packed size while it is packed tensor by tensor.
func TestReleaseDropsPages(t *testing.T) {
	const n = 16 << 20 // 32 MiB of BF16
	v := make([]uint16, n)
	for i := range v {
		v[i] = uint16(i)
	}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	writeFile(t, path, writeRaw(t, map[string]rawT{"w": {BF16, []int{n}, halfBytes(v)}}, 0))
	f, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v = nil
	runtime.GC()
	debug.FreeOSMemory() // so that the scavenger cannot shrink RSS meanwhile
	before := rssKB(t)
	w, _, err := f.Uint16s("w")
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for i := 0; i < len(w); i += 2048 { // touch every page
		sum += uint64(w[i])
	}
	touched := rssKB(t)
	if touched-before < 24<<10 {
		t.Skipf("reading 32 MiB raised VmRSS by only %d kB; cannot observe", touched-before)
	}
	if err := f.Release("w"); err != nil {
		t.Fatal(err)
	}
	after := rssKB(t)
	if after-before > 4<<10 {
		t.Errorf("VmRSS %d kB before, %d touched, %d after Release: pages not dropped", before, touched, after)
	}
	if w[12345] != 12345 || sum == 0 {
		t.Errorf("data changed after Release")
	}
}
