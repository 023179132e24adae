//go:build gc && !purego

#include "textflag.h"

// Float32 bit patterns of the constants of geluTanhAVX2 (see geluTanh, expf).
#define C_CUBIC $0x3d372713   // 0.044715
#define C_NEG2S $0xbfcc422a   // -2·√(2/π)
#define C_LO $0xc2ae0000      // -87: e^x stays a normal float32
#define C_HI $0x42b00000      // 88: 2^n stays finite
#define C_LOG2E $0x3fb8aa3b   // log2(e)
#define C_LN2HI $0x3f318000   // ln2 = LN2HI + LN2LO
#define C_LN2LO $0xb95e8083
#define C_ONE $0x3f800000     // 1.0

// BCAST puts the float32 with bits c in every lane of y.
#define BCAST(c, y, x) \
	MOVL c, R8; \
	VMOVD R8, x; \
	VBROADCASTSS x, y

// HORNER p = p·r + c (c a constant), r in Y2.
#define HORNER(c) \
	BCAST(c, Y15, X15); \
	VFMADD213PS Y15, Y2, Y4

// func geluTanhAVX2(x *float32, n int)
//
//	for i := range n { x[i] = x[i] / (1 + e^(-2·√(2/π)·(x[i] + 0.044715·x[i]³))) }   // n a multiple of 8
//
// e^t is Cephes expf: t = f·ln2 + r, f = round(t·log2e), e^r by a degree-6
// polynomial, 2^f from the exponent bits.
TEXT ·geluTanhAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	SHRQ $3, CX
	TESTQ CX, CX
	JZ    gdone
	BCAST(C_CUBIC, Y6, X6)
	BCAST(C_NEG2S, Y7, X7)
	BCAST(C_LO, Y8, X8)
	BCAST(C_HI, Y9, X9)
	BCAST(C_LOG2E, Y10, X10)
	BCAST(C_LN2HI, Y11, X11)
	BCAST(C_LN2LO, Y12, X12)
	BCAST(C_ONE, Y13, X13)
	MOVL $127, R8
	VMOVD R8, X14
	VPBROADCASTD X14, Y14         // exponent bias, int32 lanes

gloop:
	VMOVUPS (DI), Y0              // v
	VMULPS Y0, Y0, Y1             // v²
	VMULPS Y0, Y1, Y1             // v³
	VMOVAPS Y0, Y2
	VFMADD231PS Y1, Y6, Y2        // v + 0.044715·v³
	VMULPS Y7, Y2, Y2             // t = -2u
	VMAXPS Y8, Y2, Y2             // clamp t to [-87, 88]
	VMINPS Y9, Y2, Y2
	VMULPS Y10, Y2, Y3
	VROUNDPS $0, Y3, Y3           // f = round(t·log2e)
	VFNMADD231PS Y3, Y11, Y2      // r = t - f·ln2hi
	VFNMADD231PS Y3, Y12, Y2      //       - f·ln2lo
	MOVL $0x39506967, R8          // p = 1.9875691500e-4
	VMOVD R8, X4
	VBROADCASTSS X4, Y4
	HORNER($0x3ab743ce)           // 1.3981999507e-3
	HORNER($0x3c088908)           // 8.3334519073e-3
	HORNER($0x3d2aa9c1)           // 4.1665795894e-2
	HORNER($0x3e2aaaaa)           // 1.6666665459e-1
	HORNER($0x3f000000)           // 5.0000001201e-1
	VMULPS Y2, Y2, Y5             // r²
	VFMADD213PS Y2, Y5, Y4        // p·r² + r
	VADDPS Y13, Y4, Y4            // e^r = p·r² + r + 1
	VCVTPS2DQ Y3, Y3              // f as int32
	VPADDD Y14, Y3, Y3
	VPSLLD $23, Y3, Y3            // 2^f as float32 bits
	VMULPS Y3, Y4, Y4             // e^t
	VADDPS Y13, Y4, Y4            // 1 + e^t
	VDIVPS Y4, Y0, Y0             // v / (1 + e^t)
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ CX
	JNZ  gloop

gdone:
	VZEROUPPER
	RET

// func expSubAVX2(x *float32, n int, m float32) float32
//
//	var s float32
//	for i := range n { x[i] = expf(x[i] - m); s += x[i] }     // n a multiple of 8
//	return s
//
// The softmax numerator; expf as in geluTanhAVX2.
TEXT ·expSubAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y7     // m in every lane
	VXORPS Y6, Y6, Y6             // running sum
	SHRQ $3, CX
	TESTQ CX, CX
	JZ    edone
	BCAST(C_LO, Y8, X8)
	BCAST(C_HI, Y9, X9)
	BCAST(C_LOG2E, Y10, X10)
	BCAST(C_LN2HI, Y11, X11)
	BCAST(C_LN2LO, Y12, X12)
	BCAST(C_ONE, Y13, X13)
	MOVL $127, R8
	VMOVD R8, X14
	VPBROADCASTD X14, Y14

eloop:
	VMOVUPS (DI), Y2
	VSUBPS Y7, Y2, Y2             // t = x - m
	VMAXPS Y8, Y2, Y2             // clamp t to [-87, 88]
	VMINPS Y9, Y2, Y2
	VMULPS Y10, Y2, Y3
	VROUNDPS $0, Y3, Y3           // f = round(t·log2e)
	VFNMADD231PS Y3, Y11, Y2      // r = t - f·ln2
	VFNMADD231PS Y3, Y12, Y2
	MOVL $0x39506967, R8
	VMOVD R8, X4
	VBROADCASTSS X4, Y4
	HORNER($0x3ab743ce)
	HORNER($0x3c088908)
	HORNER($0x3d2aa9c1)
	HORNER($0x3e2aaaaa)
	HORNER($0x3f000000)
	VMULPS Y2, Y2, Y5
	VFMADD213PS Y2, Y5, Y4        // p·r² + r
	VADDPS Y13, Y4, Y4            // e^r
	VCVTPS2DQ Y3, Y3
	VPADDD Y14, Y3, Y3
	VPSLLD $23, Y3, Y3            // 2^f
	VMULPS Y3, Y4, Y4             // e^t
	VMOVUPS Y4, (DI)
	VADDPS Y4, Y6, Y6             // s += e^t
	ADDQ $32, DI
	DECQ CX
	JNZ  eloop

edone:
	VEXTRACTF128 $1, Y6, X0
	VADDPS X6, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET
