//go:build amd64 && !purego

#include "textflag.h"

// Layer-norm moments and application, and the row maximum and scaling of
// the causal softmax, vectorised (AVX-512 and AVX2). The moments are
// accumulated in float64 as the plain Go code does; the application does
// the same float32 operations in the same order ((x-mean)·inv·w + b, no
// fused multiply-add), so it matches plain Go bit for bit.

// func moments512(x *float32, n int) (mean, m2 float64)
// mean of x[0:n] and Σ(x-mean)², n a positive multiple of 16.
TEXT ·moments512(SB), NOSPLIT, $0-32
	MOVQ       x+0(FP), SI
	MOVQ       n+8(FP), CX
	MOVQ       SI, DI
	MOVQ       CX, DX
	VXORPD     Z0, Z0, Z0
	VXORPD     Z1, Z1, Z1

sumloop512:
	VCVTPS2PD  (SI), Z2
	VCVTPS2PD  32(SI), Z3
	VADDPD     Z2, Z0, Z0
	VADDPD     Z3, Z1, Z1
	ADDQ       $64, SI
	SUBQ       $16, CX
	JNZ        sumloop512
	VADDPD     Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPD     Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD     X1, X0, X0
	VHADDPD    X0, X0, X0
	CVTSQ2SD   DX, X5
	VDIVSD     X5, X0, X0
	MOVSD      X0, mean+16(FP)
	VBROADCASTSD X0, Z4
	VXORPD     Z0, Z0, Z0
	VXORPD     Z1, Z1, Z1

devloop512:
	VCVTPS2PD  (DI), Z2
	VCVTPS2PD  32(DI), Z3
	VSUBPD     Z4, Z2, Z2
	VSUBPD     Z4, Z3, Z3
	VFMADD231PD Z2, Z2, Z0
	VFMADD231PD Z3, Z3, Z1
	ADDQ       $64, DI
	SUBQ       $16, DX
	JNZ        devloop512
	VADDPD     Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPD     Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD     X1, X0, X0
	VHADDPD    X0, X0, X0
	MOVSD      X0, m2+24(FP)
	VZEROUPPER
	RET

// func moments256(x *float32, n int) (mean, m2 float64)
// As moments512 with AVX2; n a positive multiple of 8.
TEXT ·moments256(SB), NOSPLIT, $0-32
	MOVQ       x+0(FP), SI
	MOVQ       n+8(FP), CX
	MOVQ       SI, DI
	MOVQ       CX, DX
	VXORPD     Y0, Y0, Y0
	VXORPD     Y1, Y1, Y1

sumloop256:
	VCVTPS2PD  (SI), Y2
	VCVTPS2PD  16(SI), Y3
	VADDPD     Y2, Y0, Y0
	VADDPD     Y3, Y1, Y1
	ADDQ       $32, SI
	SUBQ       $8, CX
	JNZ        sumloop256
	VADDPD     Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD     X1, X0, X0
	VHADDPD    X0, X0, X0
	CVTSQ2SD   DX, X5
	VDIVSD     X5, X0, X0
	MOVSD      X0, mean+16(FP)
	VBROADCASTSD X0, Y4
	VXORPD     Y0, Y0, Y0
	VXORPD     Y1, Y1, Y1

devloop256:
	VCVTPS2PD  (DI), Y2
	VCVTPS2PD  16(DI), Y3
	VSUBPD     Y4, Y2, Y2
	VSUBPD     Y4, Y3, Y3
	VFMADD231PD Y2, Y2, Y0
	VFMADD231PD Y3, Y3, Y1
	ADDQ       $32, DI
	SUBQ       $8, DX
	JNZ        devloop256
	VADDPD     Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD     X1, X0, X0
	VHADDPD    X0, X0, X0
	MOVSD      X0, m2+24(FP)
	VZEROUPPER
	RET

// func lnApply512(dst, x, w, b *float32, n int, mean, inv float32)
// dst[i] = (x[i]-mean)·inv·w[i] + b[i], n a positive multiple of 16.
TEXT ·lnApply512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), R8
	MOVQ         b+24(FP), R9
	MOVQ         n+32(FP), CX
	VBROADCASTSS mean+40(FP), Z5
	VBROADCASTSS inv+44(FP), Z6

apply512:
	VMOVUPS      (SI), Z0
	VSUBPS       Z5, Z0, Z0
	VMULPS       Z6, Z0, Z0
	VMULPS       (R8), Z0, Z0
	VADDPS       (R9), Z0, Z0
	VMOVUPS      Z0, (DI)
	ADDQ         $64, SI
	ADDQ         $64, DI
	ADDQ         $64, R8
	ADDQ         $64, R9
	SUBQ         $16, CX
	JNZ          apply512
	VZEROUPPER
	RET

// func lnApply256(dst, x, w, b *float32, n int, mean, inv float32)
// As lnApply512 with AVX2; n a positive multiple of 8.
TEXT ·lnApply256(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), R8
	MOVQ         b+24(FP), R9
	MOVQ         n+32(FP), CX
	VBROADCASTSS mean+40(FP), Y5
	VBROADCASTSS inv+44(FP), Y6

apply256:
	VMOVUPS      (SI), Y0
	VSUBPS       Y5, Y0, Y0
	VMULPS       Y6, Y0, Y0
	VMULPS       (R8), Y0, Y0
	VADDPS       (R9), Y0, Y0
	VMOVUPS      Y0, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	ADDQ         $32, R8
	ADDQ         $32, R9
	SUBQ         $8, CX
	JNZ          apply256
	VZEROUPPER
	RET

// func max512(p *float32, n int) float32
// The largest of p[0:n], n a positive multiple of 16.
TEXT ·max512(SB), NOSPLIT, $0-20
	MOVQ          p+0(FP), SI
	MOVQ          n+8(FP), CX
	VMOVUPS       (SI), Z0

maxloop512:
	VMAXPS        (SI), Z0, Z0
	ADDQ          $64, SI
	SUBQ          $16, CX
	JNZ           maxloop512
	VEXTRACTF32X8 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VMAXPS        X1, X0, X0
	MOVSS         X0, ret+16(FP)
	VZEROUPPER
	RET

// func max256(p *float32, n int) float32
// As max512 with AVX2; n a positive multiple of 8.
TEXT ·max256(SB), NOSPLIT, $0-20
	MOVQ         p+0(FP), SI
	MOVQ         n+8(FP), CX
	VMOVUPS      (SI), Y0

maxloop256:
	VMAXPS       (SI), Y0, Y0
	ADDQ         $32, SI
	SUBQ         $8, CX
	JNZ          maxloop256
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	MOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET

// func scale512(p *float32, n int, s float32)
// p[i] *= s for i < n, n a positive multiple of 16.
TEXT ·scale512(SB), NOSPLIT, $0-20
	MOVQ         p+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Z1

scaleloop512:
	VMULPS       (SI), Z1, Z0
	VMOVUPS      Z0, (SI)
	ADDQ         $64, SI
	SUBQ         $16, CX
	JNZ          scaleloop512
	VZEROUPPER
	RET

// func scale256(p *float32, n int, s float32)
// As scale512 with AVX2; n a positive multiple of 8.
TEXT ·scale256(SB), NOSPLIT, $0-20
	MOVQ         p+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Y1

scaleloop256:
	VMULPS       (SI), Y1, Y0
	VMOVUPS      Y0, (SI)
	ADDQ         $32, SI
	SUBQ         $8, CX
	JNZ          scaleloop256
	VZEROUPPER
	RET
