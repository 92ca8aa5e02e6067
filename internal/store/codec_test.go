package store

import (
	"math"
	"slices"
	"testing"
)

func TestTokenAndValueCodecs(t *testing.T) {
	ids := []int32{0, 1, 127, 128, 300, 16383, 16384, 1 << 20, math.MaxInt32, 5}
	prefix := []int32{42}
	got, err := decodeTokens(encodeTokens(ids), prefix)
	if err != nil || !slices.Equal(got, append([]int32{42}, ids...)) {
		t.Fatalf("decodeTokens = %v, %v", got, err)
	}
	for _, bad := range [][]byte{{0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, {0x80, 0x80, 0x80, 0x80, 0x08}} {
		if _, err := decodeTokens(bad, nil); err == nil {
			t.Errorf("decodeTokens(% x) accepted", bad)
		}
	}
	vals := []float32{0, 1.5, 0, 0, float32(math.Copysign(0, -1)), float32(math.NaN()), -2, 0}
	out, err := decodeValuesInto(encodeValues(vals), make([]float32, len(vals)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if math.Float32bits(out[i]) != math.Float32bits(vals[i]) {
			t.Errorf("value %d: %v, want %v", i, out[i], vals[i])
		}
	}
	if _, err := decodeValuesInto(encodeValues(vals), make([]float32, 3)); err == nil {
		t.Error("values past the token count accepted")
	}
}
