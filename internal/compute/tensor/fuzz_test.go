package tensor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseSafetensors checks that no input makes the parser or the
// conversion panic, and that accepted files are self-consistent.
func FuzzParseSafetensors(f *testing.F) {
	paths, _ := filepath.Glob(root + "testdata/golden/sae-formats/*/*.safetensors")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 32<<10 {
			f.Add(b)
		}
	}
	f.Add(header(`{"__metadata__":{"a":"b"},"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4))
	f.Add(header(`{"w":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}  `, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseSafetensors("fuzz", data)
		if err != nil {
			return
		}
		for _, n := range file.Names() {
			info, ok := file.Info(n)
			if !ok {
				t.Fatalf("Names lists %q but Info does not find it", n)
			}
			v, err := file.Float32(n, info.Shape...)
			if err == nil && len(v) != info.Len() {
				t.Fatalf("%s: %d values for shape %v", n, len(v), info.Shape)
			}
		}
	})
}

// FuzzParseNPYHeader checks the .npy header parser on arbitrary bytes.
func FuzzParseNPYHeader(f *testing.F) {
	if file, err := OpenNPZ(root + "testdata/golden/sae-formats/gemma-scope-npz/params.npz"); err == nil {
		for _, n := range file.Names() {
			e := file.tensors[n]
			rc, err := e.npz.zf.Open()
			if err != nil {
				continue
			}
			b := make([]byte, e.npz.hdr.dataOff+8)
			n, _ := rc.Read(b)
			rc.Close()
			f.Add(b[:n])
		}
		file.Close()
	}
	f.Add(npyBytes("{'descr': '<f2', 'fortran_order': True, 'shape': (3L, 4L), }\n", nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseNPYHeader(data)
		if err != nil {
			return
		}
		if h.dataOff > len(data) {
			t.Fatalf("data offset %d past the %d bytes parsed", h.dataOff, len(data))
		}
		for _, d := range h.shape {
			if d < 0 {
				t.Fatalf("negative dimension in %v", h.shape)
			}
		}
	})
}

// FuzzParseNPZ checks archive handling (zip and member headers).
func FuzzParseNPZ(f *testing.F) {
	if b, err := os.ReadFile(root + "testdata/golden/sae-formats/gemma-scope-npz/params.npz"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseNPZ("fuzz.npz", data)
		if err != nil {
			return
		}
		for _, n := range file.Names() {
			info, _ := file.Info(n)
			if info.Len() > 1<<20 {
				continue // a forged header may claim a huge size; reading is bounded by the member anyway
			}
			_, _ = file.Float32(n)
		}
	})
}

// FuzzParseIndex checks that no input makes the sharded-index parser panic
// and that an accepted weight_map names only plain shard file names.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"x","a":"y"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../x"}}`))
	f.Add([]byte(`{"weight_map":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		wm, err := ParseIndex("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(wm) == 0 {
			t.Fatal("accepted an empty weight_map")
		}
		for name, shard := range wm {
			if shard == "" || shard == "." || shard == ".." || filepath.Base(shard) != shard || strings.ContainsAny(shard, `/\`) {
				t.Fatalf("tensor %q: accepted shard %q", name, shard)
			}
		}
	})
}
