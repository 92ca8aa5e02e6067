//go:build amd64 && !purego

#include "textflag.h"

// GPT-2 GELU, gelu_new(u) = u / (1 + exp(-2·√(2/π)·(u + 0.044715·u³))),
// vectorised in float32. exp follows Cephes expf: n = round(y·log2 e),
// r = y - n·ln2 (in two parts), e^r = 1 + r + r²·P(r), times 2^n.

DATA gelu16<>+0(SB)/4, $0x3d372713 // c0447 = 0.044715
DATA gelu16<>+4(SB)/4, $0xbfcc422a // mk2 = -1.5957691216057308
DATA gelu16<>+8(SB)/4, $0xc2ae0000 // lo = -87.0
DATA gelu16<>+12(SB)/4, $0x42b00000 // hi = 88.0
DATA gelu16<>+16(SB)/4, $0x3fb8aa3b // log2e = 1.4426950408889634
DATA gelu16<>+20(SB)/4, $0x3f318000 // ln2hi = 0.693359375
DATA gelu16<>+24(SB)/4, $0xb95e8083 // ln2lo = -0.00021219444
DATA gelu16<>+28(SB)/4, $0x39506967 // p0 = 0.000198756915
DATA gelu16<>+32(SB)/4, $0x3ab743ce // p1 = 0.0013981999507
DATA gelu16<>+36(SB)/4, $0x3c088908 // p2 = 0.0083334519073
DATA gelu16<>+40(SB)/4, $0x3d2aa9c1 // p3 = 0.041665795894
DATA gelu16<>+44(SB)/4, $0x3e2aaaaa // p4 = 0.16666665459
DATA gelu16<>+48(SB)/4, $0x3f000000 // p5 = 0.50000001201
DATA gelu16<>+52(SB)/4, $0x3f800000 // one = 1.0
DATA gelu16<>+56(SB)/4, $0xc1a00000 // xmin = -20.0
DATA gelu16<>+60(SB)/4, $0x40000000 // two = 2.0
GLOBL gelu16<>(SB), RODATA|NOPTR, $64

DATA gelu8<>+0(SB)/4, $0x3d372713
DATA gelu8<>+4(SB)/4, $0x3d372713
DATA gelu8<>+8(SB)/4, $0x3d372713
DATA gelu8<>+12(SB)/4, $0x3d372713
DATA gelu8<>+16(SB)/4, $0x3d372713
DATA gelu8<>+20(SB)/4, $0x3d372713
DATA gelu8<>+24(SB)/4, $0x3d372713
DATA gelu8<>+28(SB)/4, $0x3d372713
DATA gelu8<>+32(SB)/4, $0xbfcc422a
DATA gelu8<>+36(SB)/4, $0xbfcc422a
DATA gelu8<>+40(SB)/4, $0xbfcc422a
DATA gelu8<>+44(SB)/4, $0xbfcc422a
DATA gelu8<>+48(SB)/4, $0xbfcc422a
DATA gelu8<>+52(SB)/4, $0xbfcc422a
DATA gelu8<>+56(SB)/4, $0xbfcc422a
DATA gelu8<>+60(SB)/4, $0xbfcc422a
DATA gelu8<>+64(SB)/4, $0xc2ae0000
DATA gelu8<>+68(SB)/4, $0xc2ae0000
DATA gelu8<>+72(SB)/4, $0xc2ae0000
DATA gelu8<>+76(SB)/4, $0xc2ae0000
DATA gelu8<>+80(SB)/4, $0xc2ae0000
DATA gelu8<>+84(SB)/4, $0xc2ae0000
DATA gelu8<>+88(SB)/4, $0xc2ae0000
DATA gelu8<>+92(SB)/4, $0xc2ae0000
DATA gelu8<>+96(SB)/4, $0x42b00000
DATA gelu8<>+100(SB)/4, $0x42b00000
DATA gelu8<>+104(SB)/4, $0x42b00000
DATA gelu8<>+108(SB)/4, $0x42b00000
DATA gelu8<>+112(SB)/4, $0x42b00000
DATA gelu8<>+116(SB)/4, $0x42b00000
DATA gelu8<>+120(SB)/4, $0x42b00000
DATA gelu8<>+124(SB)/4, $0x42b00000
DATA gelu8<>+128(SB)/4, $0x3fb8aa3b
DATA gelu8<>+132(SB)/4, $0x3fb8aa3b
DATA gelu8<>+136(SB)/4, $0x3fb8aa3b
DATA gelu8<>+140(SB)/4, $0x3fb8aa3b
DATA gelu8<>+144(SB)/4, $0x3fb8aa3b
DATA gelu8<>+148(SB)/4, $0x3fb8aa3b
DATA gelu8<>+152(SB)/4, $0x3fb8aa3b
DATA gelu8<>+156(SB)/4, $0x3fb8aa3b
DATA gelu8<>+160(SB)/4, $0x3f318000
DATA gelu8<>+164(SB)/4, $0x3f318000
DATA gelu8<>+168(SB)/4, $0x3f318000
DATA gelu8<>+172(SB)/4, $0x3f318000
DATA gelu8<>+176(SB)/4, $0x3f318000
DATA gelu8<>+180(SB)/4, $0x3f318000
DATA gelu8<>+184(SB)/4, $0x3f318000
DATA gelu8<>+188(SB)/4, $0x3f318000
DATA gelu8<>+192(SB)/4, $0xb95e8083
DATA gelu8<>+196(SB)/4, $0xb95e8083
DATA gelu8<>+200(SB)/4, $0xb95e8083
DATA gelu8<>+204(SB)/4, $0xb95e8083
DATA gelu8<>+208(SB)/4, $0xb95e8083
DATA gelu8<>+212(SB)/4, $0xb95e8083
DATA gelu8<>+216(SB)/4, $0xb95e8083
DATA gelu8<>+220(SB)/4, $0xb95e8083
DATA gelu8<>+224(SB)/4, $0x39506967
DATA gelu8<>+228(SB)/4, $0x39506967
DATA gelu8<>+232(SB)/4, $0x39506967
DATA gelu8<>+236(SB)/4, $0x39506967
DATA gelu8<>+240(SB)/4, $0x39506967
DATA gelu8<>+244(SB)/4, $0x39506967
DATA gelu8<>+248(SB)/4, $0x39506967
DATA gelu8<>+252(SB)/4, $0x39506967
DATA gelu8<>+256(SB)/4, $0x3ab743ce
DATA gelu8<>+260(SB)/4, $0x3ab743ce
DATA gelu8<>+264(SB)/4, $0x3ab743ce
DATA gelu8<>+268(SB)/4, $0x3ab743ce
DATA gelu8<>+272(SB)/4, $0x3ab743ce
DATA gelu8<>+276(SB)/4, $0x3ab743ce
DATA gelu8<>+280(SB)/4, $0x3ab743ce
DATA gelu8<>+284(SB)/4, $0x3ab743ce
DATA gelu8<>+288(SB)/4, $0x3c088908
DATA gelu8<>+292(SB)/4, $0x3c088908
DATA gelu8<>+296(SB)/4, $0x3c088908
DATA gelu8<>+300(SB)/4, $0x3c088908
DATA gelu8<>+304(SB)/4, $0x3c088908
DATA gelu8<>+308(SB)/4, $0x3c088908
DATA gelu8<>+312(SB)/4, $0x3c088908
DATA gelu8<>+316(SB)/4, $0x3c088908
DATA gelu8<>+320(SB)/4, $0x3d2aa9c1
DATA gelu8<>+324(SB)/4, $0x3d2aa9c1
DATA gelu8<>+328(SB)/4, $0x3d2aa9c1
DATA gelu8<>+332(SB)/4, $0x3d2aa9c1
DATA gelu8<>+336(SB)/4, $0x3d2aa9c1
DATA gelu8<>+340(SB)/4, $0x3d2aa9c1
DATA gelu8<>+344(SB)/4, $0x3d2aa9c1
DATA gelu8<>+348(SB)/4, $0x3d2aa9c1
DATA gelu8<>+352(SB)/4, $0x3e2aaaaa
DATA gelu8<>+356(SB)/4, $0x3e2aaaaa
DATA gelu8<>+360(SB)/4, $0x3e2aaaaa
DATA gelu8<>+364(SB)/4, $0x3e2aaaaa
DATA gelu8<>+368(SB)/4, $0x3e2aaaaa
DATA gelu8<>+372(SB)/4, $0x3e2aaaaa
DATA gelu8<>+376(SB)/4, $0x3e2aaaaa
DATA gelu8<>+380(SB)/4, $0x3e2aaaaa
DATA gelu8<>+384(SB)/4, $0x3f000000
DATA gelu8<>+388(SB)/4, $0x3f000000
DATA gelu8<>+392(SB)/4, $0x3f000000
DATA gelu8<>+396(SB)/4, $0x3f000000
DATA gelu8<>+400(SB)/4, $0x3f000000
DATA gelu8<>+404(SB)/4, $0x3f000000
DATA gelu8<>+408(SB)/4, $0x3f000000
DATA gelu8<>+412(SB)/4, $0x3f000000
DATA gelu8<>+416(SB)/4, $0x3f800000
DATA gelu8<>+420(SB)/4, $0x3f800000
DATA gelu8<>+424(SB)/4, $0x3f800000
DATA gelu8<>+428(SB)/4, $0x3f800000
DATA gelu8<>+432(SB)/4, $0x3f800000
DATA gelu8<>+436(SB)/4, $0x3f800000
DATA gelu8<>+440(SB)/4, $0x3f800000
DATA gelu8<>+444(SB)/4, $0x3f800000
DATA gelu8<>+448(SB)/4, $127
DATA gelu8<>+452(SB)/4, $127
DATA gelu8<>+456(SB)/4, $127
DATA gelu8<>+460(SB)/4, $127
DATA gelu8<>+464(SB)/4, $127
DATA gelu8<>+468(SB)/4, $127
DATA gelu8<>+472(SB)/4, $127
DATA gelu8<>+476(SB)/4, $127
DATA gelu8<>+480(SB)/4, $0xc1a00000
DATA gelu8<>+484(SB)/4, $0xc1a00000
DATA gelu8<>+488(SB)/4, $0xc1a00000
DATA gelu8<>+492(SB)/4, $0xc1a00000
DATA gelu8<>+496(SB)/4, $0xc1a00000
DATA gelu8<>+500(SB)/4, $0xc1a00000
DATA gelu8<>+504(SB)/4, $0xc1a00000
DATA gelu8<>+508(SB)/4, $0xc1a00000
GLOBL gelu8<>(SB), RODATA|NOPTR, $512

// func geluNewBias512(dst, src, bias *float32, n int)
// n must be a positive multiple of 16.
TEXT ·geluNewBias512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS gelu16<>+0(SB), Z20
	VBROADCASTSS gelu16<>+4(SB), Z21
	VBROADCASTSS gelu16<>+8(SB), Z22
	VBROADCASTSS gelu16<>+12(SB), Z23
	VBROADCASTSS gelu16<>+16(SB), Z24
	VBROADCASTSS gelu16<>+20(SB), Z25
	VBROADCASTSS gelu16<>+24(SB), Z26
	VBROADCASTSS gelu16<>+28(SB), Z27
	VBROADCASTSS gelu16<>+32(SB), Z28
	VBROADCASTSS gelu16<>+36(SB), Z29
	VBROADCASTSS gelu16<>+40(SB), Z30
	VBROADCASTSS gelu16<>+44(SB), Z31
	VBROADCASTSS gelu16<>+48(SB), Z19
	VBROADCASTSS gelu16<>+52(SB), Z18
	VBROADCASTSS gelu16<>+56(SB), Z17
	VBROADCASTSS gelu16<>+60(SB), Z16

loop512:
	VMOVUPS     (SI), Z0
	VADDPS      (DX), Z0, Z0   // x = src + bias
	VMAXPS      Z17, Z0, Z0    // gelu(x) is 0 to float32 precision below -20; this keeps x³ finite
	VMULPS      Z0, Z0, Z1
	VMULPS      Z0, Z1, Z1     // x³
	VFMADD213PS Z0, Z20, Z1    // x + 0.044715·x³
	VMULPS      Z21, Z1, Z1    // y = -2·√(2/π)·(...)
	VMAXPS      Z22, Z1, Z1
	VMINPS      Z23, Z1, Z1    // clamp so 2^n stays a normal float
	VMULPS      Z24, Z1, Z2
	VRNDSCALEPS $0, Z2, Z2     // n = round(y·log2 e)
	VFNMADD231PS Z25, Z2, Z1
	VFNMADD231PS Z26, Z2, Z1   // r = y - n·ln2
	VMULPS      Z1, Z1, Z3     // r²
	VMOVAPS     Z27, Z4
	VFMADD213PS Z28, Z1, Z4
	VFMADD213PS Z29, Z1, Z4
	VFMADD213PS Z30, Z1, Z4
	VFMADD213PS Z31, Z1, Z4
	VFMADD213PS Z19, Z1, Z4    // P(r)
	VFMADD213PS Z1, Z3, Z4     // r + r²·P(r)
	VADDPS      Z18, Z4, Z4    // e^r
	VSCALEFPS   Z2, Z4, Z4     // e^y = e^r·2^n
	VADDPS      Z18, Z4, Z4    // 1 + e^y
	// x / (1 + e^y) as x·r with r a reciprocal refined once by Newton's
	// step (relative error about 2^-27): a 512-bit VDIVPS issues only
	// every 16 cycles on Intel cores and would bound the whole loop.
	VRCP14PS    Z4, Z5         // r0 ≈ 1/d to 14 bits
	VFNMADD213PS Z16, Z5, Z4   // 2 - d·r0
	VMULPS      Z4, Z5, Z5     // r1 = r0·(2 - d·r0)
	VMULPS      Z5, Z0, Z0
	VMOVUPS     Z0, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DX
	ADDQ        $64, DI
	SUBQ        $16, CX
	JNZ         loop512
	VZEROUPPER
	RET

// func geluNewBias256(dst, src, bias *float32, n int)
// n must be a positive multiple of 8. Needs AVX2 and FMA.
TEXT ·geluNewBias256(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ n+24(FP), CX
	VMOVUPS gelu8<>+416(SB), Y15
	VMOVUPS gelu8<>+0(SB), Y14
	VMOVUPS gelu8<>+128(SB), Y13
	VMOVUPS gelu8<>+160(SB), Y12
	VMOVUPS gelu8<>+192(SB), Y11
	VMOVUPS gelu8<>+224(SB), Y10

loop256:
	VMOVUPS     (SI), Y0
	VADDPS      (DX), Y0, Y0
	VMAXPS      gelu8<>+480(SB), Y0, Y0
	VMULPS      Y0, Y0, Y1
	VMULPS      Y0, Y1, Y1
	VFMADD213PS Y0, Y14, Y1
	VMULPS      gelu8<>+32(SB), Y1, Y1
	VMAXPS      gelu8<>+64(SB), Y1, Y1
	VMINPS      gelu8<>+96(SB), Y1, Y1
	VMULPS      Y13, Y1, Y2
	VROUNDPS    $0, Y2, Y2
	VFNMADD231PS Y12, Y2, Y1
	VFNMADD231PS Y11, Y2, Y1
	VMULPS      Y1, Y1, Y3
	VMOVAPS     Y10, Y4
	VFMADD213PS gelu8<>+256(SB), Y1, Y4
	VFMADD213PS gelu8<>+288(SB), Y1, Y4
	VFMADD213PS gelu8<>+320(SB), Y1, Y4
	VFMADD213PS gelu8<>+352(SB), Y1, Y4
	VFMADD213PS gelu8<>+384(SB), Y1, Y4
	VFMADD213PS Y1, Y3, Y4
	VADDPS      Y15, Y4, Y4
	VCVTTPS2DQ  Y2, Y5         // n as int32 (already integral)
	VPADDD      gelu8<>+448(SB), Y5, Y5
	VPSLLD      $23, Y5, Y5     // 2^n as a float's bits
	VMULPS      Y5, Y4, Y4
	VADDPS      Y15, Y4, Y4
	VDIVPS      Y4, Y0, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNZ         loop256
	VZEROUPPER
	RET

// func expShift512(row *float32, n int, scale, shift float32, sums *[16]float32)
// row[j] = exp(row[j]·scale - shift) for j < n (a positive multiple of
// 16); the lanes' running sums of the results are added into sums.
TEXT ·expShift512(SB), NOSPLIT, $0-32
	MOVQ         row+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Z16
	VBROADCASTSS shift+20(FP), Z17
	MOVQ         sums+24(FP), DX
	VMOVUPS      (DX), Z15
	VBROADCASTSS gelu16<>+8(SB), Z22
	VBROADCASTSS gelu16<>+12(SB), Z23
	VBROADCASTSS gelu16<>+16(SB), Z24
	VBROADCASTSS gelu16<>+20(SB), Z25
	VBROADCASTSS gelu16<>+24(SB), Z26
	VBROADCASTSS gelu16<>+28(SB), Z27
	VBROADCASTSS gelu16<>+32(SB), Z28
	VBROADCASTSS gelu16<>+36(SB), Z29
	VBROADCASTSS gelu16<>+40(SB), Z30
	VBROADCASTSS gelu16<>+44(SB), Z31
	VBROADCASTSS gelu16<>+48(SB), Z19
	VBROADCASTSS gelu16<>+52(SB), Z18

exploop512:
	VMOVUPS      (SI), Z1
	VFMSUB213PS  Z17, Z16, Z1  // y = x·scale - shift
	VMAXPS       Z22, Z1, Z1
	VMINPS       Z23, Z1, Z1
	VMULPS       Z24, Z1, Z2
	VRNDSCALEPS  $0, Z2, Z2
	VFNMADD231PS Z25, Z2, Z1
	VFNMADD231PS Z26, Z2, Z1
	VMULPS       Z1, Z1, Z3
	VMOVAPS      Z27, Z4
	VFMADD213PS  Z28, Z1, Z4
	VFMADD213PS  Z29, Z1, Z4
	VFMADD213PS  Z30, Z1, Z4
	VFMADD213PS  Z31, Z1, Z4
	VFMADD213PS  Z19, Z1, Z4
	VFMADD213PS  Z1, Z3, Z4
	VADDPS       Z18, Z4, Z4
	VSCALEFPS    Z2, Z4, Z4
	VMOVUPS      Z4, (SI)
	VADDPS       Z4, Z15, Z15
	ADDQ         $64, SI
	SUBQ         $16, CX
	JNZ          exploop512
	VMOVUPS      Z15, (DX)
	VZEROUPPER
	RET

// func expShift256(row *float32, n int, scale, shift float32, sums *[16]float32)
// As expShift512 for AVX2+FMA; n is a positive multiple of 8 and only
// sums[0:8] is used.
TEXT ·expShift256(SB), NOSPLIT, $0-32
	MOVQ         row+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Y14
	VBROADCASTSS shift+20(FP), Y13
	MOVQ         sums+24(FP), DX
	VMOVUPS      (DX), Y15
	VMOVUPS      gelu8<>+416(SB), Y12
	VMOVUPS      gelu8<>+128(SB), Y11
	VMOVUPS      gelu8<>+160(SB), Y10
	VMOVUPS      gelu8<>+192(SB), Y9
	VMOVUPS      gelu8<>+224(SB), Y8

exploop256:
	VMOVUPS      (SI), Y1
	VFMSUB213PS  Y13, Y14, Y1
	VMAXPS       gelu8<>+64(SB), Y1, Y1
	VMINPS       gelu8<>+96(SB), Y1, Y1
	VMULPS       Y11, Y1, Y2
	VROUNDPS     $0, Y2, Y2
	VFNMADD231PS Y10, Y2, Y1
	VFNMADD231PS Y9, Y2, Y1
	VMULPS       Y1, Y1, Y3
	VMOVAPS      Y8, Y4
	VFMADD213PS  gelu8<>+256(SB), Y1, Y4
	VFMADD213PS  gelu8<>+288(SB), Y1, Y4
	VFMADD213PS  gelu8<>+320(SB), Y1, Y4
	VFMADD213PS  gelu8<>+352(SB), Y1, Y4
	VFMADD213PS  gelu8<>+384(SB), Y1, Y4
	VFMADD213PS  Y1, Y3, Y4
	VADDPS       Y12, Y4, Y4
	VCVTTPS2DQ   Y2, Y5
	VPADDD       gelu8<>+448(SB), Y5, Y5
	VPSLLD       $23, Y5, Y5
	VMULPS       Y5, Y4, Y4
	VMOVUPS      Y4, (SI)
	VADDPS       Y4, Y15, Y15
	ADDQ         $32, SI
	SUBQ         $8, CX
	JNZ          exploop256
	VMOVUPS      Y15, (DX)
	VZEROUPPER
	RET
