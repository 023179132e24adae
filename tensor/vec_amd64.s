//go:build gc && !purego

#include "textflag.h"

#define A_PTR SI
#define B_PTR DI
#define LEN CX
#define IDX AX
#define END32 BX

// func dotAVX2(a, b *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), A_PTR
	MOVQ b+8(FP), B_PTR
	MOVQ n+16(FP), LEN
	SHLQ $2, LEN                  // LEN = n in bytes
	MOVQ LEN, END32
	ANDQ $-128, END32             // END32 = bytes covered by 32-wide steps
	VXORPS Y0, Y0, Y0             // four partial sums of 8 lanes
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ IDX, IDX

loop32:
	CMPQ IDX, END32
	JGE  loop8
	VMOVUPS (A_PTR)(IDX*1), Y4    // a[i:i+8]
	VMOVUPS 32(A_PTR)(IDX*1), Y5
	VMOVUPS 64(A_PTR)(IDX*1), Y6
	VMOVUPS 96(A_PTR)(IDX*1), Y7
	VFMADD231PS (B_PTR)(IDX*1), Y4, Y0   // S0 += a[i:i+8]·b[i:i+8]
	VFMADD231PS 32(B_PTR)(IDX*1), Y5, Y1
	VFMADD231PS 64(B_PTR)(IDX*1), Y6, Y2
	VFMADD231PS 96(B_PTR)(IDX*1), Y7, Y3
	ADDQ $128, IDX
	JMP  loop32

loop8:
	CMPQ IDX, LEN
	JGE  reduce
	VMOVUPS (A_PTR)(IDX*1), Y4
	VFMADD231PS (B_PTR)(IDX*1), Y4, Y0
	ADDQ $32, IDX
	JMP  loop8

reduce:
	VADDPS Y1, Y0, Y0             // S0 += S1
	VADDPS Y3, Y2, Y2             // S2 += S3
	VADDPS Y2, Y0, Y0             // S0 += S2
	VEXTRACTF128 $1, Y0, X1       // fold the upper 4 lanes onto the lower 4
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0            // then horizontally
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpyAVX2(dst, x *float32, n int, a float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), B_PTR
	MOVQ x+8(FP), A_PTR
	MOVQ n+16(FP), LEN
	SHLQ $2, LEN
	MOVQ LEN, END32
	ANDQ $-128, END32
	VBROADCASTSS a+24(FP), Y15    // Y15 = a in every lane
	XORQ IDX, IDX

axloop32:
	CMPQ IDX, END32
	JGE  axloop8
	VMOVUPS (B_PTR)(IDX*1), Y0    // dst[i:i+8]
	VMOVUPS 32(B_PTR)(IDX*1), Y1
	VMOVUPS 64(B_PTR)(IDX*1), Y2
	VMOVUPS 96(B_PTR)(IDX*1), Y3
	VFMADD231PS (A_PTR)(IDX*1), Y15, Y0  // dst += a·x
	VFMADD231PS 32(A_PTR)(IDX*1), Y15, Y1
	VFMADD231PS 64(A_PTR)(IDX*1), Y15, Y2
	VFMADD231PS 96(A_PTR)(IDX*1), Y15, Y3
	VMOVUPS Y0, (B_PTR)(IDX*1)
	VMOVUPS Y1, 32(B_PTR)(IDX*1)
	VMOVUPS Y2, 64(B_PTR)(IDX*1)
	VMOVUPS Y3, 96(B_PTR)(IDX*1)
	ADDQ $128, IDX
	JMP  axloop32

axloop8:
	CMPQ IDX, LEN
	JGE  axdone
	VMOVUPS (B_PTR)(IDX*1), Y0
	VFMADD231PS (A_PTR)(IDX*1), Y15, Y0
	VMOVUPS Y0, (B_PTR)(IDX*1)
	ADDQ $32, IDX
	JMP  axloop8

axdone:
	VZEROUPPER
	RET

// REDUCE4T folds four 8-lane sums a, b, c, d into xa = [Σa, Σb, Σc, Σd]
// (clobbers b, c, d and t/xt).
#define REDUCE4T(a, b, c, d, xa, t, xt) \
	VHADDPS b, a, a; \
	VHADDPS d, c, c; \
	VHADDPS c, a, a; \
	VEXTRACTF128 $1, a, xt; \
	VADDPS xt, xa, xa

// func attnScores64AVX2(scores, q, k *float32, ldk, n int, scale float32)
//
//	for p := range n { scores[p] = scale · Σ_{j<64} q[j]·k[p*ldk+j] }   // n a multiple of 4
//
// q lives in Y8..Y15; four positions at a time accumulate in Y0..Y3.
TEXT ·attnScores64AVX2(SB), NOSPLIT, $0-44
	MOVQ scores+0(FP), DI
	MOVQ q+8(FP), AX
	MOVQ k+16(FP), SI
	MOVQ ldk+24(FP), BX
	SHLQ $2, BX                   // row stride in bytes
	LEAQ (BX)(BX*2), R8           // 3 rows
	LEAQ (BX*4), R9               // 4 rows
	MOVQ n+32(FP), CX
	SHRQ $2, CX                   // groups of 4 positions
	VMOVUPS (AX), Y8              // q[0:64]
	VMOVUPS 32(AX), Y9
	VMOVUPS 64(AX), Y10
	VMOVUPS 96(AX), Y11
	VMOVUPS 128(AX), Y12
	VMOVUPS 160(AX), Y13
	VMOVUPS 192(AX), Y14
	VMOVUPS 224(AX), Y15
	TESTQ CX, CX
	JZ    asdone

asloop:
	VMULPS (SI), Y8, Y0           // S[p+i] = q[0:8]·k[p+i, 0:8]
	VMULPS (SI)(BX*1), Y8, Y1
	VMULPS (SI)(BX*2), Y8, Y2
	VMULPS (SI)(R8*1), Y8, Y3
	VFMADD231PS 32(SI), Y9, Y0    // S[p+i] += q[8:16]·k[p+i, 8:16]
	VFMADD231PS 32(SI)(BX*1), Y9, Y1
	VFMADD231PS 32(SI)(BX*2), Y9, Y2
	VFMADD231PS 32(SI)(R8*1), Y9, Y3
	VFMADD231PS 64(SI), Y10, Y0
	VFMADD231PS 64(SI)(BX*1), Y10, Y1
	VFMADD231PS 64(SI)(BX*2), Y10, Y2
	VFMADD231PS 64(SI)(R8*1), Y10, Y3
	VFMADD231PS 96(SI), Y11, Y0
	VFMADD231PS 96(SI)(BX*1), Y11, Y1
	VFMADD231PS 96(SI)(BX*2), Y11, Y2
	VFMADD231PS 96(SI)(R8*1), Y11, Y3
	VFMADD231PS 128(SI), Y12, Y0
	VFMADD231PS 128(SI)(BX*1), Y12, Y1
	VFMADD231PS 128(SI)(BX*2), Y12, Y2
	VFMADD231PS 128(SI)(R8*1), Y12, Y3
	VFMADD231PS 160(SI), Y13, Y0
	VFMADD231PS 160(SI)(BX*1), Y13, Y1
	VFMADD231PS 160(SI)(BX*2), Y13, Y2
	VFMADD231PS 160(SI)(R8*1), Y13, Y3
	VFMADD231PS 192(SI), Y14, Y0
	VFMADD231PS 192(SI)(BX*1), Y14, Y1
	VFMADD231PS 192(SI)(BX*2), Y14, Y2
	VFMADD231PS 192(SI)(R8*1), Y14, Y3
	VFMADD231PS 224(SI), Y15, Y0
	VFMADD231PS 224(SI)(BX*1), Y15, Y1
	VFMADD231PS 224(SI)(BX*2), Y15, Y2
	VFMADD231PS 224(SI)(R8*1), Y15, Y3
	REDUCE4T(Y0, Y1, Y2, Y3, X0, Y4, X4)
	VBROADCASTSS scale+40(FP), X5
	VMULPS X5, X0, X0             // · scale
	VMOVUPS X0, (DI)              // scores[p:p+4]
	ADDQ R9, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  asloop

asdone:
	VZEROUPPER
	RET

// func attnScores64F16AVX2(scores, q *float32, k *uint16, ldk, n int, scale float32)
//
//	for p := range n { scores[p] = scale · Σ_{j<64} q[j]·HalfToFloat(k[p*ldk+j]) }   // n a multiple of 4
//
// As attnScores64AVX2: q lives in Y8..Y15, four positions at a time
// accumulate in Y0..Y3; each 8 halves are widened (VCVTPH2PS) into Y4..Y7.
TEXT ·attnScores64F16AVX2(SB), NOSPLIT, $0-44
	MOVQ scores+0(FP), DI
	MOVQ q+8(FP), AX
	MOVQ k+16(FP), SI
	MOVQ ldk+24(FP), BX
	SHLQ $1, BX                   // row stride in bytes
	LEAQ (BX)(BX*2), R8           // 3 rows
	LEAQ (BX*4), R9               // 4 rows
	MOVQ n+32(FP), CX
	SHRQ $2, CX                   // groups of 4 positions
	VMOVUPS (AX), Y8              // q[0:64]
	VMOVUPS 32(AX), Y9
	VMOVUPS 64(AX), Y10
	VMOVUPS 96(AX), Y11
	VMOVUPS 128(AX), Y12
	VMOVUPS 160(AX), Y13
	VMOVUPS 192(AX), Y14
	VMOVUPS 224(AX), Y15
	TESTQ CX, CX
	JZ    ashdone

ashloop:
	VCVTPH2PS (SI), Y4
	VCVTPH2PS (SI)(BX*1), Y5
	VCVTPH2PS (SI)(BX*2), Y6
	VCVTPH2PS (SI)(R8*1), Y7
	VMULPS Y4, Y8, Y0
	VMULPS Y5, Y8, Y1
	VMULPS Y6, Y8, Y2
	VMULPS Y7, Y8, Y3
	VCVTPH2PS 16(SI), Y4
	VCVTPH2PS 16(SI)(BX*1), Y5
	VCVTPH2PS 16(SI)(BX*2), Y6
	VCVTPH2PS 16(SI)(R8*1), Y7
	VFMADD231PS Y4, Y9, Y0
	VFMADD231PS Y5, Y9, Y1
	VFMADD231PS Y6, Y9, Y2
	VFMADD231PS Y7, Y9, Y3
	VCVTPH2PS 32(SI), Y4
	VCVTPH2PS 32(SI)(BX*1), Y5
	VCVTPH2PS 32(SI)(BX*2), Y6
	VCVTPH2PS 32(SI)(R8*1), Y7
	VFMADD231PS Y4, Y10, Y0
	VFMADD231PS Y5, Y10, Y1
	VFMADD231PS Y6, Y10, Y2
	VFMADD231PS Y7, Y10, Y3
	VCVTPH2PS 48(SI), Y4
	VCVTPH2PS 48(SI)(BX*1), Y5
	VCVTPH2PS 48(SI)(BX*2), Y6
	VCVTPH2PS 48(SI)(R8*1), Y7
	VFMADD231PS Y4, Y11, Y0
	VFMADD231PS Y5, Y11, Y1
	VFMADD231PS Y6, Y11, Y2
	VFMADD231PS Y7, Y11, Y3
	VCVTPH2PS 64(SI), Y4
	VCVTPH2PS 64(SI)(BX*1), Y5
	VCVTPH2PS 64(SI)(BX*2), Y6
	VCVTPH2PS 64(SI)(R8*1), Y7
	VFMADD231PS Y4, Y12, Y0
	VFMADD231PS Y5, Y12, Y1
	VFMADD231PS Y6, Y12, Y2
	VFMADD231PS Y7, Y12, Y3
	VCVTPH2PS 80(SI), Y4
	VCVTPH2PS 80(SI)(BX*1), Y5
	VCVTPH2PS 80(SI)(BX*2), Y6
	VCVTPH2PS 80(SI)(R8*1), Y7
	VFMADD231PS Y4, Y13, Y0
	VFMADD231PS Y5, Y13, Y1
	VFMADD231PS Y6, Y13, Y2
	VFMADD231PS Y7, Y13, Y3
	VCVTPH2PS 96(SI), Y4
	VCVTPH2PS 96(SI)(BX*1), Y5
	VCVTPH2PS 96(SI)(BX*2), Y6
	VCVTPH2PS 96(SI)(R8*1), Y7
	VFMADD231PS Y4, Y14, Y0
	VFMADD231PS Y5, Y14, Y1
	VFMADD231PS Y6, Y14, Y2
	VFMADD231PS Y7, Y14, Y3
	VCVTPH2PS 112(SI), Y4
	VCVTPH2PS 112(SI)(BX*1), Y5
	VCVTPH2PS 112(SI)(BX*2), Y6
	VCVTPH2PS 112(SI)(R8*1), Y7
	VFMADD231PS Y4, Y15, Y0
	VFMADD231PS Y5, Y15, Y1
	VFMADD231PS Y6, Y15, Y2
	VFMADD231PS Y7, Y15, Y3
	REDUCE4T(Y0, Y1, Y2, Y3, X0, Y4, X4)
	VBROADCASTSS scale+40(FP), X5
	VMULPS X5, X0, X0             // · scale
	VMOVUPS X0, (DI)              // scores[p:p+4]
	ADDQ R9, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  ashloop

ashdone:
	VZEROUPPER
	RET

// func attnValuesAdd64F16AVX2(y, a *float32, v *uint16, ldv, n int)
//
//	for j := range 64 { y[j] += Σ_{p<n} a[p] · HalfToFloat(v[p*ldv+j]) }   // n >= 1
//
// Y0..Y7 hold y[0:64]; each position widens its 64 halves into Y9..Y12
// (two rounds) and adds a[p]·v[p, 0:64] with 8 FMAs.
TEXT ·attnValuesAdd64F16AVX2(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ ldv+24(FP), BX
	SHLQ $1, BX                   // row stride in bytes
	MOVQ n+32(FP), CX
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7

avhloop:
	PREFETCHT0 (DX)(BX*4)         // row p+4
	PREFETCHT0 64(DX)(BX*4)
	VBROADCASTSS (SI), Y8         // a[p]
	VCVTPH2PS (DX), Y9            // float32(v[p, 0:8])
	VCVTPH2PS 16(DX), Y10
	VCVTPH2PS 32(DX), Y11
	VCVTPH2PS 48(DX), Y12
	VFMADD231PS Y9, Y8, Y0        // y[0:8] += a[p]·v[p, 0:8]
	VFMADD231PS Y10, Y8, Y1
	VFMADD231PS Y11, Y8, Y2
	VFMADD231PS Y12, Y8, Y3
	VCVTPH2PS 64(DX), Y13
	VCVTPH2PS 80(DX), Y14
	VCVTPH2PS 96(DX), Y15
	VCVTPH2PS 112(DX), Y9
	VFMADD231PS Y13, Y8, Y4
	VFMADD231PS Y14, Y8, Y5
	VFMADD231PS Y15, Y8, Y6
	VFMADD231PS Y9, Y8, Y7
	ADDQ $4, SI
	ADDQ BX, DX
	DECQ CX
	JNZ  avhloop

	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VZEROUPPER
	RET

// func narrowF16AVX2(dst *uint16, src *float32, n int)
//
//	for i := range n { dst[i] = FloatToHalf(src[i]) }   // n a multiple of 8
//
// VCVTPS2PH with immediate 0: round to nearest even (MXCSR not consulted).
TEXT ·narrowF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX                   // groups of 8
	TESTQ CX, CX
	JZ    nhdone

nhloop:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  nhloop

nhdone:
	VZEROUPPER
	RET

// func widenRows64F16AVX2(dst *float32, src *uint16, lds, rows int)
//
//	for r := range rows { for j := range 64 { dst[r*64+j] = HalfToFloat(src[r*lds+j]) } }   // rows >= 1
TEXT ·widenRows64F16AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), BX
	SHLQ $1, BX                   // row stride in bytes
	MOVQ rows+24(FP), CX

wrhloop:
	VCVTPH2PS (SI), Y0
	VCVTPH2PS 16(SI), Y1
	VCVTPH2PS 32(SI), Y2
	VCVTPH2PS 48(SI), Y3
	VCVTPH2PS 64(SI), Y4
	VCVTPH2PS 80(SI), Y5
	VCVTPH2PS 96(SI), Y6
	VCVTPH2PS 112(SI), Y7
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ BX, SI
	ADDQ $256, DI
	DECQ CX
	JNZ  wrhloop
	VZEROUPPER
	RET

// func sumAVX2(x *float32, n int) float32
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0           // acc0 = 0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	SHRQ   $6, CX               // CX = n / 64
	JZ     sumAVX2_done

sumAVX2_loop:
	VADDPS 0(SI), Y0, Y0     // acc0 += x[i : i+8]
	VADDPS 32(SI), Y1, Y1    // acc1 += x[i+8 : i+16]
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VADDPS 128(SI), Y4, Y4
	VADDPS 160(SI), Y5, Y5
	VADDPS 192(SI), Y6, Y6
	VADDPS 224(SI), Y7, Y7   // acc7 += x[i+56 : i+64]
	ADDQ   $256, SI          // i += 64
	DECQ   CX
	JNZ    sumAVX2_loop

sumAVX2_done:
	VADDPS       Y1, Y0, Y0     // fold the accumulators
	VADDPS       Y3, Y2, Y2
	VADDPS       Y5, Y4, Y4
	VADDPS       Y7, Y6, Y6
	VADDPS       Y2, Y0, Y0
	VADDPS       Y6, Y4, Y4
	VADDPS       Y4, Y0, Y0
	VEXTRACTF128 $1, Y0, X1     // high half
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+16(FP)
	RET
