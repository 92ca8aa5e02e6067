package tensor

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const root = "../../../"

func writeST(t testing.TB, tensors map[string]Tensor32, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	in := map[string]Tensor32{
		"b":      {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, -6.5}},
		"a":      {Shape: []int{3}, Data: []float32{float32(math.Inf(1)), 0, -1e-30}},
		"scalar": {Shape: []int{}, Data: []float32{42}},
		"empty":  {Shape: []int{0, 4}, Data: nil},
	}
	data := writeST(t, in, map[string]string{"format": "pt"})
	if n := binary.LittleEndian.Uint64(data); (8+n)%8 != 0 {
		t.Errorf("header not padded to 8 bytes: %d", n)
	}
	if again := writeST(t, in, map[string]string{"format": "pt"}); !bytes.Equal(data, again) {
		t.Error("WriteSafetensors is not deterministic")
	}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Names(), ","); got != "a,b,empty,scalar" {
		t.Errorf("Names = %s", got)
	}
	if f.Metadata()["format"] != "pt" {
		t.Errorf("Metadata = %v", f.Metadata())
	}
	for name, want := range in {
		info, ok := f.Info(name)
		if !ok || info.DType != F32 || !equalShape(info.Shape, want.Shape) {
			t.Errorf("Info(%s) = %+v, %v", name, info, ok)
		}
		got, err := f.Float32(name, want.Shape...)
		if err != nil {
			t.Fatalf("Float32(%s): %v", name, err)
		}
		if len(got) != len(want.Data) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want.Data))
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want.Data[i]) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want.Data[i])
			}
		}
	}
	if _, err := f.Float32("b", 3, 2); err == nil || !strings.Contains(err.Error(), `"b"`) || !strings.Contains(err.Error(), path) {
		t.Errorf("shape mismatch error = %v", err)
	}
	if _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing tensor error = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("a"); err == nil {
		t.Error("Float32 after Close succeeded")
	}
}

// header builds a safetensors file from a raw header string and n data bytes.
func header(h string, n int) []byte {
	b := make([]byte, 8, 8+len(h)+n)
	binary.LittleEndian.PutUint64(b, uint64(len(h)))
	b = append(b, h...)
	return append(b, make([]byte, n)...)
}

func TestMalformedSafetensors(t *testing.T) {
	good := writeST(t, map[string]Tensor32{"w": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}}, nil)
	huge := make([]byte, 16)
	binary.LittleEndian.PutUint64(huge, 200<<20)
	past := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(past, uint64(len(good)))
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "truncated", nil},
		{"short", "truncated", []byte{1, 2, 3}},
		{"truncated data", "out of range", good[:len(good)-3]},
		{"header past EOF", "past the end", past},
		{"header too large", "limit", huge},
		{"not object", "not a JSON object", header(`[1,2]`, 0)},
		{"bad json", "header", header(`{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]`, 4)},
		{"unknown dtype", `unknown dtype "F12"`, header(`{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}`, 4)},
		{"size mismatch", "needs 8 bytes", header(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4)},
		{"out of range", "out of range", header(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4)},
		{"reversed offsets", "out of range", header(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, 4)},
		{"overlap", "overlaps", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12)},
		{"hole", "hole", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8)},
		{"uncovered tail", "cover only", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8)},
		{"duplicate", "duplicate", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4)},
		{"bad metadata", "__metadata__", header(`{"__metadata__":{"x":1}}`, 0)},
		{"negative dim", "shape", header(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4)},
		{"overflowing shape", "too large", header(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}`, 4)},
		{"missing shape", "missing shape", header(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4)},
		{"trailing", "trailing", header(`{} x`, 0)},
		{"bad offsets", "data_offsets", header(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, 4)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSafetensors("bad.safetensors", c.data)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "bad.safetensors") {
				t.Errorf("error %q does not name the file or contain %q", err, c.want)
			}
		})
	}
	// Padding spaces after the object are allowed, as is an empty file body.
	if _, err := ParseSafetensors("ok", header(`{}    `, 0)); err != nil {
		t.Error(err)
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := OpenSafetensors(filepath.Join(t.TempDir(), "none.safetensors")); err == nil {
		t.Error("no error for a missing file")
	}
	empty := filepath.Join(t.TempDir(), "empty.safetensors")
	os.WriteFile(empty, nil, 0o644)
	if _, err := OpenSafetensors(empty); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("empty file: %v", err)
	}
}

func TestHalfToFloat32(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		e, m := (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case e == 0:
			want = sign * float64(m) * math.Pow(2, -24)
		case e == 31 && m == 0:
			want = sign * math.Inf(1)
		case e == 31:
			if got := HalfToFloat32(uint16(h)); !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: %v, want NaN", h, got)
			}
			continue
		default:
			want = sign * (1 + float64(m)/1024) * math.Pow(2, float64(e-15))
		}
		got := HalfToFloat32(uint16(h))
		if float64(got) != want || math.Signbit(float64(got)) != (sign < 0) {
			t.Fatalf("%#04x: %v, want %v", h, got, want)
		}
	}
}

func TestDTypes(t *testing.T) {
	// One tensor of each float dtype holding 1.5 and -2.
	data := []byte{}
	data = binary.LittleEndian.AppendUint16(data, 0x3e00) // F16 1.5
	data = binary.LittleEndian.AppendUint16(data, 0xc000) // F16 -2
	data = binary.LittleEndian.AppendUint16(data, 0x3fc0) // BF16 1.5
	data = binary.LittleEndian.AppendUint16(data, 0xc000) // BF16 -2
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(1.5))
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(-2))
	data = binary.LittleEndian.AppendUint32(data, 7)
	h := `{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"bf":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},` +
		`"d":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},"i":{"dtype":"I32","shape":[1],"data_offsets":[24,28]}}`
	b := header(h, 0)
	b = append(b, data...)
	f, err := ParseSafetensors("dt", b)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"h", "bf", "d"} {
		got, err := f.Float32(n, 2)
		if err != nil || got[0] != 1.5 || got[1] != -2 {
			t.Errorf("%s: %v %v", n, got, err)
		}
	}
	if _, err := f.Float32("i"); err == nil || !strings.Contains(err.Error(), "I32") {
		t.Errorf("I32 conversion error = %v", err)
	}
	if v, err := f.Int64("i", 1); err != nil || v[0] != 7 {
		t.Errorf("Int64(i) = %v, %v", v, err)
	}
	if _, err := f.Int64("h"); err == nil || !strings.Contains(err.Error(), "integer") {
		t.Errorf("Int64 of F16 error = %v", err)
	}
}

func TestFixtures(t *testing.T) {
	paths, _ := filepath.Glob(root + "testdata/golden/sae-formats/*/*.safetensors")
	paths = append(paths, root+"demo/demo-gpt2-4l/model/model.safetensors", root+"testdata/golden/demo-reference/reference.safetensors")
	if len(paths) < 20 {
		t.Fatalf("only %d fixtures found", len(paths))
	}
	for _, p := range paths {
		f, err := OpenSafetensors(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range f.Names() {
			info, _ := f.Info(n)
			if info.DType.IsInt() {
				if _, err := f.Int64(n, info.Shape...); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				continue
			}
			v, err := f.Float32(n, info.Shape...)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			for i, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatalf("%s %s[%d] = %v", p, n, i, x)
				}
			}
		}
		f.Close()
	}
	f, err := OpenSafetensors(root + "demo/demo-gpt2-4l/model/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if info, ok := f.Info("transformer.wte.weight"); !ok || info.DType != F16 || !equalShape(info.Shape, []int{4096, 256}) {
		t.Errorf("wte info = %+v", info)
	}
	bf, err := OpenSafetensors(root + "testdata/golden/sae-formats/standard-bf16/sae_weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	if info, _ := bf.Info("W_enc"); info.DType != BF16 {
		t.Errorf("standard-bf16 W_enc dtype = %s", info.DType)
	}
}

func TestNPZ(t *testing.T) {
	path := root + "testdata/golden/sae-formats/gemma-scope-npz/params.npz"
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Names(), ","); got != "W_dec,W_enc,b_dec,b_enc,threshold" {
		t.Errorf("Names = %s", got)
	}
	w, err := f.Float32("W_enc", 24, 96)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 24*96 {
		t.Fatal(len(w))
	}
	if _, err := f.Float32("W_enc", 96, 24); err == nil || !strings.Contains(err.Error(), "W_enc") {
		t.Errorf("shape mismatch error = %v", err)
	}
	if _, err := f.Float32("missing"); err == nil || !strings.Contains(err.Error(), "params.npz") {
		t.Errorf("missing member error = %v", err)
	}
}

func npyBytes(hdr string, data []byte) []byte {
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	return append(append(b, hdr...), data...)
}

func makeNPZ(t *testing.T, members map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	zw.Close()
	return buf.Bytes()
}

func TestNPZMalformed(t *testing.T) {
	f32 := func(v ...float32) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	data := makeNPZ(t, map[string][]byte{
		"ok.npy":      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", f32(1, 2)),
		"half.npy":    npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (1, 1), }\n", []byte{0x00, 0x3c}),
		"fortran.npy": npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }\n", f32(1, 2)),
		"big.npy":     npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", f32(1)),
	})
	f, err := ParseNPZ("m.npz", data)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Float32("ok", 2); err != nil || v[0] != 1 || v[1] != 2 {
		t.Errorf("ok = %v, %v", v, err)
	}
	if v, err := f.Float32("half", 1, 1); err != nil || v[0] != 1 {
		t.Errorf("half = %v, %v", v, err)
	}
	if _, err := f.Float32("fortran"); err == nil || !strings.Contains(err.Error(), "Fortran") {
		t.Errorf("fortran: %v", err)
	}
	if _, err := f.Float32("big"); err == nil || !strings.Contains(err.Error(), ">f4") {
		t.Errorf("big-endian: %v", err)
	}
	bad := []struct{ name, want string }{
		{"short data", "needs"},
		{"bad magic", "magic"},
		{"bad header", "header"},
	}
	members := map[string][]byte{
		"short data": npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", f32(1)),
		"bad magic":  []byte("PK not npy at all"),
		"bad header": npyBytes("{'descr': '<f4', 'shape': (3,), }\n", f32(1, 2, 3)),
	}
	for _, c := range bad {
		_, err := ParseNPZ("m.npz", makeNPZ(t, map[string][]byte{c.name + ".npy": members[c.name]}))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v", c.name, err)
		}
	}
	if _, err := ParseNPZ("m.npz", []byte("not a zip")); err == nil || !strings.Contains(err.Error(), "m.npz") {
		t.Errorf("not a zip: %v", err)
	}
}

func TestParseNPYHeader(t *testing.T) {
	good := []struct {
		hdr   string
		shape []int
	}{
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (24, 96), }", []int{24, 96}},
		{"{'descr':'<f4','fortran_order':False,'shape':(5,)}", []int{5}},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", []int{}},
		{"{'shape': (3L, 4L), 'fortran_order': False, 'descr': '<f4'}", []int{3, 4}},
	}
	for _, c := range good {
		h, err := parseNPYHeader(npyBytes(c.hdr, nil))
		if err != nil || h.dtype != F32 || !equalShape(h.shape, c.shape) {
			t.Errorf("%s: %+v %v", c.hdr, h, err)
		}
	}
	for _, hdr := range []string{"", "{", "{'descr': }", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "{'a': 'b', 'a': 'c'}"} {
		if _, err := parseNPYHeader(npyBytes(hdr, nil)); err == nil {
			t.Errorf("%q: no error", hdr)
		}
	}
}
