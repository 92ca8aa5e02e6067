//go:build amd64 && !purego

package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The 16-bit forms of the assembly micro-kernels (kernel_amd64.s, from
// gen_amd64.go): k512rN{bf16,f16} and k256rN{bf16,f16} are k512rN and k256rN
// reading a 16-bit panel (row stride 128 bytes) and widening each B vector
// as it loads it, so the FMA sequence, and with it every result, is the
// float32 kernel's on the widened values; k256rNbf16h are the AVX2 bf16
// strips of the high 16 columns of a 32-column half (slot16 in half.go
// gives the bf16 panel order every one of them reads). widen512/256{bf16,f16}
// widen n values (whole panel rows, a multiple of 64) into float32 rows.

//go:noescape
func k512r1bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r2bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r3bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r4bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r5bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r6bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r1bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r2bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r3bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r4bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r5bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r6bf16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r1f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r2f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r3f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r4f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r5f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r6f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r1f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r2f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r3f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r4f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r5f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r6f16(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r2bf16h(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r3bf16h(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r4bf16h(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r5bf16h(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r6bf16h(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func widen512bf16(dst *float32, src *uint16, n int)

//go:noescape
func widen512f16(dst *float32, src *uint16, n int)

//go:noescape
func widen256bf16(dst *float32, src *uint16, n int)

//go:noescape
func widen256f16(dst *float32, src *uint16, n int)

type asmKernel16 func(kc int, a *float32, b *uint16, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

var (
	k512bf16 = [mrBlock + 1]asmKernel16{nil, k512r1bf16, k512r2bf16, k512r3bf16, k512r4bf16, k512r5bf16, k512r6bf16}
	k512f16  = [mrBlock + 1]asmKernel16{nil, k512r1f16, k512r2f16, k512r3f16, k512r4f16, k512r5f16, k512r6f16}
	k256bf16 = [mrBlock + 1]asmKernel16{nil, k256r1bf16, k256r2bf16, k256r3bf16, k256r4bf16, k256r5bf16, k256r6bf16}
	// k256bf16h are the strips of columns 16-31 of a 32-column half of a
	// bf16 panel (k256bf16 computes columns 0-15 given the same half).
	k256bf16h = [mrBlock + 1]asmKernel16{nil, nil, k256r2bf16h, k256r3bf16h, k256r4bf16h, k256r5bf16h, k256r6bf16h}
	k256f16   = [mrBlock + 1]asmKernel16{nil, k256r1f16, k256r2f16, k256r3f16, k256r4f16, k256r5f16, k256r6f16}
)

// cpuVendor returns CPUID leaf 0's vendor string in EBX, EDX, ECX order.
func cpuVendor() (ebx, edx, ecx uint32)

// intelFuseMaxRows is fuseMaxRows on an Intel core with AVX-512. Its 512-bit
// FMAs issue on ports 0 and 5, which also execute the widening shift and
// AND, so the fused bf16 kernel runs at about 3/4 of the float32 one in L1
// (docs/performance.md §8.3). Where a widened chunk serves many row blocks
// it is as fast or faster: measured on an Emerald Rapids Xeon (GFLOP per
// CPU second, one thread, medians) chunk/fused 1.02 at 128×2304×9216, 1.08 at
// 64×2304×9216, 0.96 at 64×4096×14336, 0.89 at 48×2304×9216; at 32 rows and
// below (B walked in short chunks by at most six row blocks, or read once)
// the fused kernel wins. Zen 4 and 5 run vector integer ops on other pipes
// than their FMAs and keep the fused kernel at every size.
const intelFuseMaxRows = 48

// isIntel reports whether the CPU says it is GenuineIntel.
func isIntel() bool {
	b, d, c := cpuVendor()
	return b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e
}

func init() {
	if cpu.X86.HasAVX512F && isIntel() {
		fuseMaxRows = intelFuseMaxRows
	}
	implAVX512.micro16, implAVX512.widen = microAVX512Half, widenAVX512
	// The AVX2 impl needs F16C for f16 (every AVX2 CPU has it; checked
	// anyway) and falls back to the portable widening without it.
	implAVX2.micro16, implAVX2.widen = microAVX2Half, widenAVX2
}

// checkMicro16 is checkMicro for a 16-bit panel.
func checkMicro16(mr, kc int, a []float32, lda int, b []uint16, c []float32, ldc, mode int, bias []float32) {
	_ = a[(mr-1)*lda+kc-1]
	_ = b[kc*panelWidth-1]
	_ = c[(mr-1)*ldc+panelWidth-1]
	if mode == modeBias || mode == modeAddBias {
		_ = bias[panelWidth-1]
	}
}

func microAVX512Half(elem Elem, mr, kc int, a []float32, lda int, b []uint16, c []float32, ldc, mode int, bias []float32, pf pfStream) {
	checkMicro16(mr, kc, a, lda, b, c, ldc, mode, bias)
	f := k512bf16[mr]
	if elem == F16 {
		f = k512f16[mr]
	}
	pp, ps := pf.args()
	f(kc, &a[0], &b[0], &c[0], ldc, mode, unsafe.SliceData(bias), lda, pp, ps)
}

func microAVX2Half(elem Elem, mr, kc int, a []float32, lda int, b []uint16, c []float32, ldc, mode int, bias []float32, pf pfStream) {
	checkMicro16(mr, kc, a, lda, b, c, ldc, mode, bias)
	ks := &k256bf16
	if elem == F16 {
		if !cpu.X86.HasF16C {
			microWidenGo(implAVX2, elem, mr, kc, a, lda, b, c, ldc, mode, bias, pf)
			return
		}
		ks = &k256f16
	}
	bp := unsafe.SliceData(bias)
	pp, ps := pf.args()
	if mr == 1 {
		ks[1](kc, &a[0], &b[0], &c[0], ldc, mode, bp, lda, pp, ps)
		return
	}
	for s := 0; s < panelWidth; s += 16 {
		var bs *float32
		if bp != nil {
			bs = &bias[s]
		}
		f, bs16 := ks[mr], s
		if elem == BF16 {
			// Both 16-column strips of a 32-column half read the
			// half's words (slot16): its low or its high halves.
			bs16 = s &^ 31
			if s&16 != 0 {
				f = k256bf16h[mr]
			}
		}
		f(kc, &a[0], &b[bs16], &c[s], ldc, mode, bs, lda, stripPF(pp, ps, kc, s), ps)
	}
}

// microWidenGo widens the panel into a temporary and runs im's float32
// kernel: for a CPU without the conversion instruction.
func microWidenGo(im *impl, elem Elem, mr, kc int, a []float32, lda int, b []uint16, c []float32, ldc, mode int, bias []float32, pf pfStream) {
	wide := make([]float32, kc*panelWidth)
	widenPanelGo(wide, b[:kc*panelWidth], elem)
	im.micro(mr, kc, a, lda, wide, c, ldc, mode, bias, pf)
}

func widenAVX512(dst []float32, src []uint16, elem Elem) {
	n := len(dst) &^ 63
	if n > 0 {
		_ = src[n-1]
		if elem == F16 {
			widen512f16(&dst[0], &src[0], n)
		} else {
			widen512bf16(&dst[0], &src[0], n)
		}
	}
	widenPanelGo(dst[n:], src[n:len(dst)], elem)
}

func widenAVX2(dst []float32, src []uint16, elem Elem) {
	n := len(dst) &^ 63
	if elem == F16 && !cpu.X86.HasF16C {
		n = 0
	}
	if n > 0 {
		_ = src[n-1]
		if elem == F16 {
			widen256f16(&dst[0], &src[0], n)
		} else {
			widen256bf16(&dst[0], &src[0], n)
		}
	}
	widenPanelGo(dst[n:], src[n:len(dst)], elem)
}
