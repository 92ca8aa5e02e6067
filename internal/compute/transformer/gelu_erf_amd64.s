//go:build amd64 && !purego

#include "textflag.h"

// Exact GELU, 0.5·x·(1 + erf(x/√2)) = max(x, 0) - 0.5·|x|·erfc(|x|/√2),
// vectorised in float32 for GPT-NeoX/Pythia's MLP. erfc(z) = t·exp(P(t) - z²)
// with t = 1/(1 + z/2) and P Numerical Recipes' Chebyshev fit (erfcc, the
// same polynomial as geluErfBias); exp as in gelu_exp_amd64.s (Cephes expf).
// Full-vector constants (64 bytes each) are read as memory operands;
// the scalars after them are broadcast into registers once.

DATA erf16<>+0(SB)/4, $0x7fffffff // absmask
DATA erf16<>+4(SB)/4, $0x7fffffff
DATA erf16<>+8(SB)/4, $0x7fffffff
DATA erf16<>+12(SB)/4, $0x7fffffff
DATA erf16<>+16(SB)/4, $0x7fffffff
DATA erf16<>+20(SB)/4, $0x7fffffff
DATA erf16<>+24(SB)/4, $0x7fffffff
DATA erf16<>+28(SB)/4, $0x7fffffff
DATA erf16<>+32(SB)/4, $0x7fffffff
DATA erf16<>+36(SB)/4, $0x7fffffff
DATA erf16<>+40(SB)/4, $0x7fffffff
DATA erf16<>+44(SB)/4, $0x7fffffff
DATA erf16<>+48(SB)/4, $0x7fffffff
DATA erf16<>+52(SB)/4, $0x7fffffff
DATA erf16<>+56(SB)/4, $0x7fffffff
DATA erf16<>+60(SB)/4, $0x7fffffff
DATA erf16<>+64(SB)/4, $0x3e2ef945 // c9
DATA erf16<>+68(SB)/4, $0x3e2ef945
DATA erf16<>+72(SB)/4, $0x3e2ef945
DATA erf16<>+76(SB)/4, $0x3e2ef945
DATA erf16<>+80(SB)/4, $0x3e2ef945
DATA erf16<>+84(SB)/4, $0x3e2ef945
DATA erf16<>+88(SB)/4, $0x3e2ef945
DATA erf16<>+92(SB)/4, $0x3e2ef945
DATA erf16<>+96(SB)/4, $0x3e2ef945
DATA erf16<>+100(SB)/4, $0x3e2ef945
DATA erf16<>+104(SB)/4, $0x3e2ef945
DATA erf16<>+108(SB)/4, $0x3e2ef945
DATA erf16<>+112(SB)/4, $0x3e2ef945
DATA erf16<>+116(SB)/4, $0x3e2ef945
DATA erf16<>+120(SB)/4, $0x3e2ef945
DATA erf16<>+124(SB)/4, $0x3e2ef945
DATA erf16<>+128(SB)/4, $0xbf527892 // c8
DATA erf16<>+132(SB)/4, $0xbf527892
DATA erf16<>+136(SB)/4, $0xbf527892
DATA erf16<>+140(SB)/4, $0xbf527892
DATA erf16<>+144(SB)/4, $0xbf527892
DATA erf16<>+148(SB)/4, $0xbf527892
DATA erf16<>+152(SB)/4, $0xbf527892
DATA erf16<>+156(SB)/4, $0xbf527892
DATA erf16<>+160(SB)/4, $0xbf527892
DATA erf16<>+164(SB)/4, $0xbf527892
DATA erf16<>+168(SB)/4, $0xbf527892
DATA erf16<>+172(SB)/4, $0xbf527892
DATA erf16<>+176(SB)/4, $0xbf527892
DATA erf16<>+180(SB)/4, $0xbf527892
DATA erf16<>+184(SB)/4, $0xbf527892
DATA erf16<>+188(SB)/4, $0xbf527892
DATA erf16<>+192(SB)/4, $0x3fbe87b0 // c7
DATA erf16<>+196(SB)/4, $0x3fbe87b0
DATA erf16<>+200(SB)/4, $0x3fbe87b0
DATA erf16<>+204(SB)/4, $0x3fbe87b0
DATA erf16<>+208(SB)/4, $0x3fbe87b0
DATA erf16<>+212(SB)/4, $0x3fbe87b0
DATA erf16<>+216(SB)/4, $0x3fbe87b0
DATA erf16<>+220(SB)/4, $0x3fbe87b0
DATA erf16<>+224(SB)/4, $0x3fbe87b0
DATA erf16<>+228(SB)/4, $0x3fbe87b0
DATA erf16<>+232(SB)/4, $0x3fbe87b0
DATA erf16<>+236(SB)/4, $0x3fbe87b0
DATA erf16<>+240(SB)/4, $0x3fbe87b0
DATA erf16<>+244(SB)/4, $0x3fbe87b0
DATA erf16<>+248(SB)/4, $0x3fbe87b0
DATA erf16<>+252(SB)/4, $0x3fbe87b0
DATA erf16<>+256(SB)/4, $0xbf914e5d // c6
DATA erf16<>+260(SB)/4, $0xbf914e5d
DATA erf16<>+264(SB)/4, $0xbf914e5d
DATA erf16<>+268(SB)/4, $0xbf914e5d
DATA erf16<>+272(SB)/4, $0xbf914e5d
DATA erf16<>+276(SB)/4, $0xbf914e5d
DATA erf16<>+280(SB)/4, $0xbf914e5d
DATA erf16<>+284(SB)/4, $0xbf914e5d
DATA erf16<>+288(SB)/4, $0xbf914e5d
DATA erf16<>+292(SB)/4, $0xbf914e5d
DATA erf16<>+296(SB)/4, $0xbf914e5d
DATA erf16<>+300(SB)/4, $0xbf914e5d
DATA erf16<>+304(SB)/4, $0xbf914e5d
DATA erf16<>+308(SB)/4, $0xbf914e5d
DATA erf16<>+312(SB)/4, $0xbf914e5d
DATA erf16<>+316(SB)/4, $0xbf914e5d
DATA erf16<>+320(SB)/4, $0x3e8ec7cc // c5
DATA erf16<>+324(SB)/4, $0x3e8ec7cc
DATA erf16<>+328(SB)/4, $0x3e8ec7cc
DATA erf16<>+332(SB)/4, $0x3e8ec7cc
DATA erf16<>+336(SB)/4, $0x3e8ec7cc
DATA erf16<>+340(SB)/4, $0x3e8ec7cc
DATA erf16<>+344(SB)/4, $0x3e8ec7cc
DATA erf16<>+348(SB)/4, $0x3e8ec7cc
DATA erf16<>+352(SB)/4, $0x3e8ec7cc
DATA erf16<>+356(SB)/4, $0x3e8ec7cc
DATA erf16<>+360(SB)/4, $0x3e8ec7cc
DATA erf16<>+364(SB)/4, $0x3e8ec7cc
DATA erf16<>+368(SB)/4, $0x3e8ec7cc
DATA erf16<>+372(SB)/4, $0x3e8ec7cc
DATA erf16<>+376(SB)/4, $0x3e8ec7cc
DATA erf16<>+380(SB)/4, $0x3e8ec7cc
DATA erf16<>+384(SB)/4, $0xbe3ec24c // c4
DATA erf16<>+388(SB)/4, $0xbe3ec24c
DATA erf16<>+392(SB)/4, $0xbe3ec24c
DATA erf16<>+396(SB)/4, $0xbe3ec24c
DATA erf16<>+400(SB)/4, $0xbe3ec24c
DATA erf16<>+404(SB)/4, $0xbe3ec24c
DATA erf16<>+408(SB)/4, $0xbe3ec24c
DATA erf16<>+412(SB)/4, $0xbe3ec24c
DATA erf16<>+416(SB)/4, $0xbe3ec24c
DATA erf16<>+420(SB)/4, $0xbe3ec24c
DATA erf16<>+424(SB)/4, $0xbe3ec24c
DATA erf16<>+428(SB)/4, $0xbe3ec24c
DATA erf16<>+432(SB)/4, $0xbe3ec24c
DATA erf16<>+436(SB)/4, $0xbe3ec24c
DATA erf16<>+440(SB)/4, $0xbe3ec24c
DATA erf16<>+444(SB)/4, $0xbe3ec24c
DATA erf16<>+448(SB)/4, $0x3dc636c9 // c3
DATA erf16<>+452(SB)/4, $0x3dc636c9
DATA erf16<>+456(SB)/4, $0x3dc636c9
DATA erf16<>+460(SB)/4, $0x3dc636c9
DATA erf16<>+464(SB)/4, $0x3dc636c9
DATA erf16<>+468(SB)/4, $0x3dc636c9
DATA erf16<>+472(SB)/4, $0x3dc636c9
DATA erf16<>+476(SB)/4, $0x3dc636c9
DATA erf16<>+480(SB)/4, $0x3dc636c9
DATA erf16<>+484(SB)/4, $0x3dc636c9
DATA erf16<>+488(SB)/4, $0x3dc636c9
DATA erf16<>+492(SB)/4, $0x3dc636c9
DATA erf16<>+496(SB)/4, $0x3dc636c9
DATA erf16<>+500(SB)/4, $0x3dc636c9
DATA erf16<>+504(SB)/4, $0x3dc636c9
DATA erf16<>+508(SB)/4, $0x3dc636c9
DATA erf16<>+512(SB)/4, $0x3ebf88fb // c2
DATA erf16<>+516(SB)/4, $0x3ebf88fb
DATA erf16<>+520(SB)/4, $0x3ebf88fb
DATA erf16<>+524(SB)/4, $0x3ebf88fb
DATA erf16<>+528(SB)/4, $0x3ebf88fb
DATA erf16<>+532(SB)/4, $0x3ebf88fb
DATA erf16<>+536(SB)/4, $0x3ebf88fb
DATA erf16<>+540(SB)/4, $0x3ebf88fb
DATA erf16<>+544(SB)/4, $0x3ebf88fb
DATA erf16<>+548(SB)/4, $0x3ebf88fb
DATA erf16<>+552(SB)/4, $0x3ebf88fb
DATA erf16<>+556(SB)/4, $0x3ebf88fb
DATA erf16<>+560(SB)/4, $0x3ebf88fb
DATA erf16<>+564(SB)/4, $0x3ebf88fb
DATA erf16<>+568(SB)/4, $0x3ebf88fb
DATA erf16<>+572(SB)/4, $0x3ebf88fb
DATA erf16<>+576(SB)/4, $0x3f8000c7 // c1
DATA erf16<>+580(SB)/4, $0x3f8000c7
DATA erf16<>+584(SB)/4, $0x3f8000c7
DATA erf16<>+588(SB)/4, $0x3f8000c7
DATA erf16<>+592(SB)/4, $0x3f8000c7
DATA erf16<>+596(SB)/4, $0x3f8000c7
DATA erf16<>+600(SB)/4, $0x3f8000c7
DATA erf16<>+604(SB)/4, $0x3f8000c7
DATA erf16<>+608(SB)/4, $0x3f8000c7
DATA erf16<>+612(SB)/4, $0x3f8000c7
DATA erf16<>+616(SB)/4, $0x3f8000c7
DATA erf16<>+620(SB)/4, $0x3f8000c7
DATA erf16<>+624(SB)/4, $0x3f8000c7
DATA erf16<>+628(SB)/4, $0x3f8000c7
DATA erf16<>+632(SB)/4, $0x3f8000c7
DATA erf16<>+636(SB)/4, $0x3f8000c7
DATA erf16<>+640(SB)/4, $0xbfa1fc4e // c0
DATA erf16<>+644(SB)/4, $0xbfa1fc4e
DATA erf16<>+648(SB)/4, $0xbfa1fc4e
DATA erf16<>+652(SB)/4, $0xbfa1fc4e
DATA erf16<>+656(SB)/4, $0xbfa1fc4e
DATA erf16<>+660(SB)/4, $0xbfa1fc4e
DATA erf16<>+664(SB)/4, $0xbfa1fc4e
DATA erf16<>+668(SB)/4, $0xbfa1fc4e
DATA erf16<>+672(SB)/4, $0xbfa1fc4e
DATA erf16<>+676(SB)/4, $0xbfa1fc4e
DATA erf16<>+680(SB)/4, $0xbfa1fc4e
DATA erf16<>+684(SB)/4, $0xbfa1fc4e
DATA erf16<>+688(SB)/4, $0xbfa1fc4e
DATA erf16<>+692(SB)/4, $0xbfa1fc4e
DATA erf16<>+696(SB)/4, $0xbfa1fc4e
DATA erf16<>+700(SB)/4, $0xbfa1fc4e
DATA erf16<>+704(SB)/4, $0x3f318000 // ln2hi
DATA erf16<>+708(SB)/4, $0x3f318000
DATA erf16<>+712(SB)/4, $0x3f318000
DATA erf16<>+716(SB)/4, $0x3f318000
DATA erf16<>+720(SB)/4, $0x3f318000
DATA erf16<>+724(SB)/4, $0x3f318000
DATA erf16<>+728(SB)/4, $0x3f318000
DATA erf16<>+732(SB)/4, $0x3f318000
DATA erf16<>+736(SB)/4, $0x3f318000
DATA erf16<>+740(SB)/4, $0x3f318000
DATA erf16<>+744(SB)/4, $0x3f318000
DATA erf16<>+748(SB)/4, $0x3f318000
DATA erf16<>+752(SB)/4, $0x3f318000
DATA erf16<>+756(SB)/4, $0x3f318000
DATA erf16<>+760(SB)/4, $0x3f318000
DATA erf16<>+764(SB)/4, $0x3f318000
DATA erf16<>+768(SB)/4, $0xb95e8083 // ln2lo
DATA erf16<>+772(SB)/4, $0xb95e8083
DATA erf16<>+776(SB)/4, $0xb95e8083
DATA erf16<>+780(SB)/4, $0xb95e8083
DATA erf16<>+784(SB)/4, $0xb95e8083
DATA erf16<>+788(SB)/4, $0xb95e8083
DATA erf16<>+792(SB)/4, $0xb95e8083
DATA erf16<>+796(SB)/4, $0xb95e8083
DATA erf16<>+800(SB)/4, $0xb95e8083
DATA erf16<>+804(SB)/4, $0xb95e8083
DATA erf16<>+808(SB)/4, $0xb95e8083
DATA erf16<>+812(SB)/4, $0xb95e8083
DATA erf16<>+816(SB)/4, $0xb95e8083
DATA erf16<>+820(SB)/4, $0xb95e8083
DATA erf16<>+824(SB)/4, $0xb95e8083
DATA erf16<>+828(SB)/4, $0xb95e8083
DATA erf16<>+832(SB)/4, $0x39506967 // p0
DATA erf16<>+836(SB)/4, $0x39506967
DATA erf16<>+840(SB)/4, $0x39506967
DATA erf16<>+844(SB)/4, $0x39506967
DATA erf16<>+848(SB)/4, $0x39506967
DATA erf16<>+852(SB)/4, $0x39506967
DATA erf16<>+856(SB)/4, $0x39506967
DATA erf16<>+860(SB)/4, $0x39506967
DATA erf16<>+864(SB)/4, $0x39506967
DATA erf16<>+868(SB)/4, $0x39506967
DATA erf16<>+872(SB)/4, $0x39506967
DATA erf16<>+876(SB)/4, $0x39506967
DATA erf16<>+880(SB)/4, $0x39506967
DATA erf16<>+884(SB)/4, $0x39506967
DATA erf16<>+888(SB)/4, $0x39506967
DATA erf16<>+892(SB)/4, $0x39506967
DATA erf16<>+896(SB)/4, $0x3ab743ce // p1
DATA erf16<>+900(SB)/4, $0x3ab743ce
DATA erf16<>+904(SB)/4, $0x3ab743ce
DATA erf16<>+908(SB)/4, $0x3ab743ce
DATA erf16<>+912(SB)/4, $0x3ab743ce
DATA erf16<>+916(SB)/4, $0x3ab743ce
DATA erf16<>+920(SB)/4, $0x3ab743ce
DATA erf16<>+924(SB)/4, $0x3ab743ce
DATA erf16<>+928(SB)/4, $0x3ab743ce
DATA erf16<>+932(SB)/4, $0x3ab743ce
DATA erf16<>+936(SB)/4, $0x3ab743ce
DATA erf16<>+940(SB)/4, $0x3ab743ce
DATA erf16<>+944(SB)/4, $0x3ab743ce
DATA erf16<>+948(SB)/4, $0x3ab743ce
DATA erf16<>+952(SB)/4, $0x3ab743ce
DATA erf16<>+956(SB)/4, $0x3ab743ce
DATA erf16<>+960(SB)/4, $0x3c088908 // p2
DATA erf16<>+964(SB)/4, $0x3c088908
DATA erf16<>+968(SB)/4, $0x3c088908
DATA erf16<>+972(SB)/4, $0x3c088908
DATA erf16<>+976(SB)/4, $0x3c088908
DATA erf16<>+980(SB)/4, $0x3c088908
DATA erf16<>+984(SB)/4, $0x3c088908
DATA erf16<>+988(SB)/4, $0x3c088908
DATA erf16<>+992(SB)/4, $0x3c088908
DATA erf16<>+996(SB)/4, $0x3c088908
DATA erf16<>+1000(SB)/4, $0x3c088908
DATA erf16<>+1004(SB)/4, $0x3c088908
DATA erf16<>+1008(SB)/4, $0x3c088908
DATA erf16<>+1012(SB)/4, $0x3c088908
DATA erf16<>+1016(SB)/4, $0x3c088908
DATA erf16<>+1020(SB)/4, $0x3c088908
DATA erf16<>+1024(SB)/4, $0x3d2aa9c1 // p3
DATA erf16<>+1028(SB)/4, $0x3d2aa9c1
DATA erf16<>+1032(SB)/4, $0x3d2aa9c1
DATA erf16<>+1036(SB)/4, $0x3d2aa9c1
DATA erf16<>+1040(SB)/4, $0x3d2aa9c1
DATA erf16<>+1044(SB)/4, $0x3d2aa9c1
DATA erf16<>+1048(SB)/4, $0x3d2aa9c1
DATA erf16<>+1052(SB)/4, $0x3d2aa9c1
DATA erf16<>+1056(SB)/4, $0x3d2aa9c1
DATA erf16<>+1060(SB)/4, $0x3d2aa9c1
DATA erf16<>+1064(SB)/4, $0x3d2aa9c1
DATA erf16<>+1068(SB)/4, $0x3d2aa9c1
DATA erf16<>+1072(SB)/4, $0x3d2aa9c1
DATA erf16<>+1076(SB)/4, $0x3d2aa9c1
DATA erf16<>+1080(SB)/4, $0x3d2aa9c1
DATA erf16<>+1084(SB)/4, $0x3d2aa9c1
DATA erf16<>+1088(SB)/4, $0x3e2aaaaa // p4
DATA erf16<>+1092(SB)/4, $0x3e2aaaaa
DATA erf16<>+1096(SB)/4, $0x3e2aaaaa
DATA erf16<>+1100(SB)/4, $0x3e2aaaaa
DATA erf16<>+1104(SB)/4, $0x3e2aaaaa
DATA erf16<>+1108(SB)/4, $0x3e2aaaaa
DATA erf16<>+1112(SB)/4, $0x3e2aaaaa
DATA erf16<>+1116(SB)/4, $0x3e2aaaaa
DATA erf16<>+1120(SB)/4, $0x3e2aaaaa
DATA erf16<>+1124(SB)/4, $0x3e2aaaaa
DATA erf16<>+1128(SB)/4, $0x3e2aaaaa
DATA erf16<>+1132(SB)/4, $0x3e2aaaaa
DATA erf16<>+1136(SB)/4, $0x3e2aaaaa
DATA erf16<>+1140(SB)/4, $0x3e2aaaaa
DATA erf16<>+1144(SB)/4, $0x3e2aaaaa
DATA erf16<>+1148(SB)/4, $0x3e2aaaaa
DATA erf16<>+1152(SB)/4, $0x3f000000 // p5
DATA erf16<>+1156(SB)/4, $0x3f000000
DATA erf16<>+1160(SB)/4, $0x3f000000
DATA erf16<>+1164(SB)/4, $0x3f000000
DATA erf16<>+1168(SB)/4, $0x3f000000
DATA erf16<>+1172(SB)/4, $0x3f000000
DATA erf16<>+1176(SB)/4, $0x3f000000
DATA erf16<>+1180(SB)/4, $0x3f000000
DATA erf16<>+1184(SB)/4, $0x3f000000
DATA erf16<>+1188(SB)/4, $0x3f000000
DATA erf16<>+1192(SB)/4, $0x3f000000
DATA erf16<>+1196(SB)/4, $0x3f000000
DATA erf16<>+1200(SB)/4, $0x3f000000
DATA erf16<>+1204(SB)/4, $0x3f000000
DATA erf16<>+1208(SB)/4, $0x3f000000
DATA erf16<>+1212(SB)/4, $0x3f000000
DATA erf16<>+1216(SB)/4, $0x3eb504f3 // k = 0.3535533905932738
DATA erf16<>+1220(SB)/4, $0x3f800000 // one = 1.0
DATA erf16<>+1224(SB)/4, $0x40000000 // two = 2.0
DATA erf16<>+1228(SB)/4, $0x3f3504f3 // invsqrt2 = 0.7071067811865476
DATA erf16<>+1232(SB)/4, $0x3f000000 // half = 0.5
DATA erf16<>+1236(SB)/4, $0x41500000 // amax = 13.0
DATA erf16<>+1240(SB)/4, $0x3fb8aa3b // log2e = 1.4426950408889634
DATA erf16<>+1244(SB)/4, $0xc2ae0000 // elo = -87.0
DATA erf16<>+1248(SB)/4, $0x42b00000 // ehi = 88.0
GLOBL erf16<>(SB), RODATA|NOPTR, $1252

// func geluErfBias512(dst, src, bias *float32, n int)
// n must be a positive multiple of 16.
TEXT ·geluErfBias512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS erf16<>+1216(SB), Z31
	VBROADCASTSS erf16<>+1220(SB), Z30
	VBROADCASTSS erf16<>+1224(SB), Z29
	VBROADCASTSS erf16<>+1228(SB), Z28
	VBROADCASTSS erf16<>+1232(SB), Z27
	VBROADCASTSS erf16<>+1236(SB), Z26 // 13.0
	VBROADCASTSS erf16<>+1240(SB), Z25
	VPXORD       Z24, Z24, Z24

loop:
	VMOVUPS      (SI), Z0
	VADDPS       (DX), Z0, Z0      // x = src + bias
	VPANDD       erf16<>+0(SB), Z0, Z1 // |x|
	VMINPS       Z26, Z1, Z1       // a = min(|x|, 13): beyond, erfc(a/√2) < 1e-37 and e^y below stays normal
	VMOVAPS      Z1, Z2
	VFMADD213PS  Z30, Z31, Z2      // d = 1 + a/(2√2) = 1 + z/2
	VRCP14PS     Z2, Z3            // 1/d to 14 bits, then one Newton step
	VFNMADD213PS Z29, Z3, Z2       // 2 - d·r0
	VMULPS       Z2, Z3, Z3        // t
	VMOVUPS      erf16<>+64(SB), Z5
	VFMADD213PS  erf16<>+128(SB), Z3, Z5
	VFMADD213PS  erf16<>+192(SB), Z3, Z5
	VFMADD213PS  erf16<>+256(SB), Z3, Z5
	VFMADD213PS  erf16<>+320(SB), Z3, Z5
	VFMADD213PS  erf16<>+384(SB), Z3, Z5
	VFMADD213PS  erf16<>+448(SB), Z3, Z5
	VFMADD213PS  erf16<>+512(SB), Z3, Z5
	VFMADD213PS  erf16<>+576(SB), Z3, Z5
	VFMADD213PS  erf16<>+640(SB), Z3, Z5 // P(t)
	// z² = a²/2 as hi + lo (exact), and the range reduction of
	// y = P(t) - z² done before rounding y: near y = -87 one float32
	// ulp of y alone would be a relative error of 8e-6 in e^y.
	VMULPS       Z1, Z1, Z4
	VMOVAPS      Z4, Z9
	VFMSUB231PS  Z1, Z1, Z9        // a·a - fl(a·a), exact
	VMULPS       Z27, Z4, Z4       // z² hi
	VMULPS       Z27, Z9, Z9       // z² lo
	VSUBPS       Z4, Z5, Z2        // y ≈ P(t) - z², for n only
	VMULPS       Z25, Z2, Z6
	VRNDSCALEPS  $0, Z6, Z6        // n = round(y·log2 e)
	VFNMSUB231PS erf16<>+704(SB), Z6, Z4 // -n·ln2hi - z² hi (n·ln2hi is exact)
	VADDPS       Z5, Z4, Z4        // + P(t)
	VFNMADD231PS erf16<>+768(SB), Z6, Z4 // - n·ln2lo
	VSUBPS       Z9, Z4, Z5        // r = y - n·ln2, |r| <= ln2/2
	VMULPS       Z5, Z5, Z7        // r²
	VMOVUPS      erf16<>+832(SB), Z8
	VFMADD213PS  erf16<>+896(SB), Z5, Z8
	VFMADD213PS  erf16<>+960(SB), Z5, Z8
	VFMADD213PS  erf16<>+1024(SB), Z5, Z8
	VFMADD213PS  erf16<>+1088(SB), Z5, Z8
	VFMADD213PS  erf16<>+1152(SB), Z5, Z8
	VFMADD213PS  Z5, Z7, Z8        // r + r²·P(r)
	VADDPS       Z30, Z8, Z8       // e^r
	VSCALEFPS    Z6, Z8, Z8        // e^y
	VMULPS       Z3, Z8, Z8        // erfc(z)
	VMULPS       Z27, Z1, Z1       // a/2
	VMULPS       Z1, Z8, Z8        // a/2·erfc(z)
	VMAXPS       Z24, Z0, Z0
	VSUBPS       Z8, Z0, Z0        // max(x, 0) - a/2·erfc(z)
	VMOVUPS      Z0, (DI)
	ADDQ         $64, SI
	ADDQ         $64, DX
	ADDQ         $64, DI
	SUBQ         $16, CX
	JNZ          loop
	VZEROUPPER
	RET

// func siluMul512(dst, gate, up *float32, n int)
// dst[i] = silu(g[i])·u[i] = g[i]/(1 + e^-g[i])·u[i] (Llama's and Qwen's gated
// MLP); n must be a positive multiple of 16. exp as above, the division a
// reciprocal refined by one Newton step (as in gelu_exp_amd64.s).
TEXT ·siluMul512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS erf16<>+1220(SB), Z30
	VBROADCASTSS erf16<>+1224(SB), Z29
	VBROADCASTSS erf16<>+1240(SB), Z25
	VBROADCASTSS erf16<>+1244(SB), Z26
	VBROADCASTSS erf16<>+1248(SB), Z23
	VPXORD       Z24, Z24, Z24

siluloop:
	VMOVUPS      (SI), Z0          // g
	VSUBPS       Z0, Z24, Z1       // y = -g
	VMAXPS       Z26, Z1, Z1
	VMINPS       Z23, Z1, Z1       // 2^n stays a normal float
	VMULPS       Z25, Z1, Z6
	VRNDSCALEPS  $0, Z6, Z6        // n = round(y·log2 e)
	VFNMADD231PS erf16<>+704(SB), Z6, Z1
	VFNMADD231PS erf16<>+768(SB), Z6, Z1 // r = y - n·ln2
	VMULPS       Z1, Z1, Z7        // r²
	VMOVUPS      erf16<>+832(SB), Z8
	VFMADD213PS  erf16<>+896(SB), Z1, Z8
	VFMADD213PS  erf16<>+960(SB), Z1, Z8
	VFMADD213PS  erf16<>+1024(SB), Z1, Z8
	VFMADD213PS  erf16<>+1088(SB), Z1, Z8
	VFMADD213PS  erf16<>+1152(SB), Z1, Z8
	VFMADD213PS  Z1, Z7, Z8        // r + r²·P(r)
	VADDPS       Z30, Z8, Z8       // e^r
	VSCALEFPS    Z6, Z8, Z8        // e^-g
	VADDPS       Z30, Z8, Z8       // d = 1 + e^-g
	VRCP14PS     Z8, Z5
	VFNMADD213PS Z29, Z5, Z8       // 2 - d·r0
	VMULPS       Z8, Z5, Z5        // 1/d
	VMULPS       Z5, Z0, Z0        // silu(g)
	VMULPS       (DX), Z0, Z0      // ·u
	VMOVUPS      Z0, (DI)
	ADDQ         $64, SI
	ADDQ         $64, DX
	ADDQ         $64, DI
	SUBQ         $16, CX
	JNZ          siluloop
	VZEROUPPER
	RET
