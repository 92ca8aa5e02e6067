package transformer

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzSampler: any logits (NaN and infinities included) and settings that
// pass Validate give a token inside the vocabulary, and the same seed the
// same token.
func FuzzSampler(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64}, 1.0, 0, 0.9, 1.0, uint64(1))
	f.Add([]byte{0, 0, 192, 127, 0, 0, 128, 255}, 0.5, 1, 0.0, -2.0, uint64(2))
	f.Fuzz(func(t *testing.T, raw []byte, temp float64, topK int, topP, freq float64, seed uint64) {
		n := len(raw) / 4
		if n == 0 {
			return
		}
		logits := make([]float32, n)
		for i := range logits {
			logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		s := Sampling{Temperature: temp, TopK: topK, TopP: topP, FreqPenalty: freq, Seed: seed}
		if s.Validate() != nil {
			return
		}
		ctx := []int{0, n - 1, n + 5, -1}
		a := NewSampler(s).Next(logits, ctx)
		b := NewSampler(s).Next(logits, ctx)
		if a < 0 || a >= n || a != b {
			t.Fatalf("tokens %d, %d of %d", a, b, n)
		}
	})
}
