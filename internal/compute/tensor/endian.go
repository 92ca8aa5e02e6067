package tensor

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// nativeLittle reports whether the host stores numbers little-endian, as
// the file formats do; then F32 data is copied as bytes.
var nativeLittle = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// copyF32 copies little-endian float32 bytes into dst.
func copyF32(dst []float32, src []byte) {
	if len(dst) == 0 {
		return
	}
	if nativeLittle {
		copy(float32Bytes(dst), src)
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// float32Bytes views a float32 slice as its bytes (native order).
func float32Bytes(s []float32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}
