package store

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

// encodeFloat4Array writes PostgreSQL's binary form of a one-dimensional
// real[] (what the server sends for explanation_embeddings.vec).
func encodeFloat4Array(v []float32) []byte {
	b := binary.BigEndian.AppendUint32(nil, 1) // ndim
	b = binary.BigEndian.AppendUint32(b, 0)    // no NULLs
	b = binary.BigEndian.AppendUint32(b, float4OID)
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	b = binary.BigEndian.AppendUint32(b, 1) // lower bound
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, 4)
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestDecodeFloat4Array(t *testing.T) {
	v := []float32{1.5, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32, -1.0 / 3}
	got := make([]float32, len(v))
	if err := decodeFloat4Array(encodeFloat4Array(v), got); err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if math.Float32bits(got[i]) != math.Float32bits(v[i]) {
			t.Fatalf("value %d: %v, want %v", i, got[i], v[i])
		}
	}
	good := encodeFloat4Array(v)
	bad := map[string][]byte{
		"short":      good[:len(good)-1],
		"long":       append(slices.Clone(good), 0),
		"empty":      nil,
		"2-d":        slices.Concat([]byte{0, 0, 0, 2}, good[4:]),
		"nulls":      slices.Concat(good[:4], []byte{0, 0, 0, 1}, good[8:]),
		"int4":       slices.Concat(good[:8], []byte{0, 0, 0, 23}, good[12:]),
		"null value": slices.Concat(good[:20], []byte{0xff, 0xff, 0xff, 0xff}, good[24:]),
	}
	for name, b := range bad {
		if err := decodeFloat4Array(b, got); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := decodeFloat4Array(good, make([]float32, 4)); err == nil {
		t.Error("wrong length accepted")
	}
}

// FuzzDecodeFloat4Array: any bytes either decode into exactly what encodes
// back to them (up to the array's lower bound), or fail; never a panic.
func FuzzDecodeFloat4Array(f *testing.F) {
	f.Add(encodeFloat4Array([]float32{1, -2, 0.5}), 3)
	f.Add(encodeFloat4Array(nil), 0)
	f.Add(encodeFloat4Array(make([]float32, 256)), 256)
	f.Add([]byte{0, 0, 0, 1}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 4096 {
			return
		}
		dst := make([]float32, n)
		if err := decodeFloat4Array(b, dst); err != nil {
			return
		}
		enc := encodeFloat4Array(dst)
		copy(enc[16:20], b[16:20]) // any lower bound is fine
		if !slices.Equal(enc, b) {
			t.Fatalf("decoded %v, which encodes to % x, not % x", dst, enc, b)
		}
	})
}
