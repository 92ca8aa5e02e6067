//go:build amd64 && !purego

package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_amd64.go

// Assembly micro-kernels (kernel_amd64.s). k512rN computes N rows × 64
// columns with AVX-512; k256rN computes N rows × 16 columns with AVX2+FMA,
// except k256r1, which covers a whole 64-column panel for the GEMV path.
//
//go:noescape
func k512r1(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r2(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r3(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r4(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r5(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k512r6(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r1(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r2(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r3(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r4(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r5(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

//go:noescape
func k256r6(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

// gather512 and gather256 write every j < n with v[j]+bias[j] >= thr to
// idx (which needs n entries) and return how many; n is a multiple of 16 (8).
//
//go:noescape
func gather512(v, bias *float32, n int, thr float32, idx *int32) int

//go:noescape
func gather256(v, bias *float32, n int, thr float32, idx *int32) int

// spinPause executes a few PAUSE instructions.
func spinPause()

type asmKernel func(kc int, a, b, c *float32, ldc, mode int, bias *float32, lda int, pf *byte, pfStep int)

var (
	k512 = [mrBlock + 1]asmKernel{nil, k512r1, k512r2, k512r3, k512r4, k512r5, k512r6}
	k256 = [mrBlock + 1]asmKernel{nil, k256r1, k256r2, k256r3, k256r4, k256r5, k256r6}

	implAVX512 = &impl{name: "avx512", micro: microAVX512, gather: gatherAVX512}
	implAVX2   = &impl{name: "avx2", micro: microAVX2, gather: gatherAVX2}
)

func asmImpls() []*impl {
	var l []*impl
	if cpu.X86.HasAVX512F {
		l = append(l, implAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		l = append(l, implAVX2)
	}
	return l
}

// checkMicro guards the assembly against a driver bug: it reads exactly these
// extents of a, b and c (and 64 values of bias in modeBias and modeAddBias).
func checkMicro(mr, kc int, a []float32, lda int, b, c []float32, ldc, mode int, bias []float32) {
	_ = a[(mr-1)*lda+kc-1]
	_ = b[kc*panelWidth-1]
	_ = c[(mr-1)*ldc+panelWidth-1]
	if mode == modeBias || mode == modeAddBias {
		_ = bias[panelWidth-1]
	}
}

func microAVX512(mr, kc int, a []float32, lda int, b, c []float32, ldc, mode int, bias []float32, pf pfStream) {
	checkMicro(mr, kc, a, lda, b, c, ldc, mode, bias)
	pp, ps := pf.args()
	k512[mr](kc, &a[0], &b[0], &c[0], ldc, mode, unsafe.SliceData(bias), lda, pp, ps)
}

func microAVX2(mr, kc int, a []float32, lda int, b, c []float32, ldc, mode int, bias []float32, pf pfStream) {
	checkMicro(mr, kc, a, lda, b, c, ldc, mode, bias)
	bp := unsafe.SliceData(bias)
	pp, ps := pf.args()
	if mr == 1 {
		k256r1(kc, &a[0], &b[0], &c[0], ldc, mode, bp, lda, pp, ps)
		return
	}
	f := k256[mr]
	for s := 0; s < panelWidth; s += 16 {
		var bs *float32
		if bp != nil {
			bs = &bias[s]
		}
		// Each of the four strips prefetches its quarter of the stream.
		f(kc, &a[0], &b[s], &c[s], ldc, mode, bs, lda, stripPF(pp, ps, kc, s), ps)
	}
}

// stripPF is where the AVX2 strip of columns [s, s+16) starts its part of a
// prefetch stream: after the kc/2 lines of each strip before it.
func stripPF(p *byte, step, kc, s int) *byte {
	return (*byte)(unsafe.Add(unsafe.Pointer(p), s/16*(kc&^3)/2*step))
}

func gatherAVX512(v, bias []float32, thr float32, idx []int32) int {
	n := len(v) &^ 15
	cnt := 0
	if n > 0 {
		_, _ = bias[n-1], idx[n-1]
		cnt = gather512(&v[0], &bias[0], n, thr, &idx[0])
	}
	return cnt + gatherGo(v[n:], bias[n:], thr, idx[cnt:], n)
}

func gatherAVX2(v, bias []float32, thr float32, idx []int32) int {
	n := len(v) &^ 7
	cnt := 0
	if n > 0 {
		_, _ = bias[n-1], idx[n-1]
		cnt = gather256(&v[0], &bias[0], n, thr, &idx[0])
	}
	return cnt + gatherGo(v[n:], bias[n:], thr, idx[cnt:], n)
}
