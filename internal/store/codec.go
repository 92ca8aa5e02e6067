package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Example rows store tokens and values compactly (docs/performance.md):
//
//	tokens: uvarint dictionary id per token
//	vals:   for each position whose float32 bits are not zero, in order:
//	        uvarint(position - previous position - 1), then float32 little endian
//
// Testing bits rather than v != 0 keeps -0 and NaN exact. Most per-token
// values of an SAE feature are zero, so a 128-token example usually costs a
// few dozen bytes of values instead of 128 float8s.

func encodeTokens(ids []int32) []byte {
	buf := make([]byte, 0, len(ids)*2)
	for _, id := range ids {
		buf = binary.AppendUvarint(buf, uint64(id))
	}
	return buf
}

func decodeTokens(b []byte, dst []int32) ([]int32, error) {
	// At most one id per byte: grow once, then write in place.
	n := len(dst)
	dst = slices.Grow(dst, len(b))[:n+len(b)]
	for i := 0; i < len(b); {
		if c := b[i]; c < 0x80 { // ids below 128 (the commonest tokens) are one byte
			dst[n] = int32(c)
			n++
			i++
			continue
		}
		v, k := binary.Uvarint(b[i:])
		if k <= 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("corrupt token ids")
		}
		dst[n] = int32(v)
		n++
		i += k
	}
	return dst[:n], nil
}

func encodeValues(vals []float32) []byte {
	var buf []byte
	prev := -1
	for i, v := range vals {
		bits := math.Float32bits(v)
		if bits == 0 {
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(i-prev-1))
		buf = binary.LittleEndian.AppendUint32(buf, bits)
		prev = i
	}
	if buf == nil {
		buf = []byte{}
	}
	return buf
}

// decodeValuesInto expands vals into out, which must be zeroed and as long
// as the example has tokens.
func decodeValuesInto(b []byte, out []float32) ([]float32, error) {
	n := len(out)
	pos := -1
	for len(b) > 0 {
		d, k := binary.Uvarint(b)
		if k <= 0 || len(b) < k+4 {
			return nil, fmt.Errorf("corrupt values")
		}
		pos += int(d) + 1
		if pos >= n || pos < 0 {
			return nil, fmt.Errorf("corrupt values: position %d of %d", pos, n)
		}
		out[pos] = math.Float32frombits(binary.LittleEndian.Uint32(b[k:]))
		b = b[k+4:]
	}
	return out, nil
}
