//go:build gc && !purego

#include "textflag.h"

// HSUM16 folds the 16 lanes of z (its low halves y, x) into x's lane 0
// (clobbers t/yt/xt).
#define HSUM16(z, y, x, zt, yt, xt) \
	VEXTRACTF64X4 $1, z, yt; \
	VADDPS yt, y, y; \
	VEXTRACTF128 $1, y, xt; \
	VADDPS xt, x, x; \
	VHADDPS x, x, x; \
	VHADDPS x, x, x

// func layerNormStatsAVX512(x *float32, c int) (mean, variance float32)
//
//	mean = Σ x[i] / c;  variance = Σ (x[i] - mean)² / c     // c a multiple of 16
//
// Two passes (no cancellation from E[x²] - E[x]²), four partial sums of 16
// lanes each.
TEXT ·layerNormStatsAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ c+8(FP), CX
	SHLQ $2, CX                   // bytes
	MOVQ CX, DX
	ANDQ $-256, DX                // bytes covered by 64-wide steps
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ AX, AX

lnsum64:
	CMPQ AX, DX
	JGE  lnsum16
	VADDPS (SI)(AX*1), Z0, Z0
	VADDPS 64(SI)(AX*1), Z1, Z1
	VADDPS 128(SI)(AX*1), Z2, Z2
	VADDPS 192(SI)(AX*1), Z3, Z3
	ADDQ $256, AX
	JMP  lnsum64

lnsum16:
	CMPQ AX, CX
	JGE  lnmean
	VADDPS (SI)(AX*1), Z0, Z0
	ADDQ $64, AX
	JMP  lnsum16

lnmean:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM16(Z0, Y0, X0, Z1, Y1, X1)
	MOVQ c+8(FP), BX
	VCVTSI2SSQ BX, X5, X5         // float32(c)
	VDIVSS X5, X0, X0             // mean
	MOVSS X0, mean+16(FP)
	VBROADCASTSS X0, Z4           // mean in every lane
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ AX, AX

lnvar64:
	CMPQ AX, DX
	JGE  lnvar16
	VSUBPS (SI)(AX*1), Z4, Z6     // mean - x (squared below)
	VSUBPS 64(SI)(AX*1), Z4, Z7
	VSUBPS 128(SI)(AX*1), Z4, Z8
	VSUBPS 192(SI)(AX*1), Z4, Z9
	VFMADD231PS Z6, Z6, Z0        // += (x - mean)²
	VFMADD231PS Z7, Z7, Z1
	VFMADD231PS Z8, Z8, Z2
	VFMADD231PS Z9, Z9, Z3
	ADDQ $256, AX
	JMP  lnvar64

lnvar16:
	CMPQ AX, CX
	JGE  lnvar
	VSUBPS (SI)(AX*1), Z4, Z6
	VFMADD231PS Z6, Z6, Z0
	ADDQ $64, AX
	JMP  lnvar16

lnvar:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM16(Z0, Y0, X0, Z1, Y1, X1)
	VDIVSS X5, X0, X0             // variance
	MOVSS X0, variance+20(FP)
	VZEROUPPER
	RET

// func layerNormApplyAVX512(out, x, w, b *float32, c int, mean, rstd float32)
//
//	for i := range c { out[i] = (x[i] - mean)·rstd·w[i] + b[i] }   // c a multiple of 16
TEXT ·layerNormApplyAVX512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), R8
	MOVQ b+24(FP), R9
	MOVQ c+32(FP), CX
	SHLQ $2, CX
	VBROADCASTSS mean+40(FP), Z4
	VBROADCASTSS rstd+44(FP), Z5
	XORQ AX, AX

lnapply:
	VMOVUPS (SI)(AX*1), Z0
	VSUBPS Z4, Z0, Z0             // x - mean
	VMULPS Z5, Z0, Z0             // · rstd
	VMULPS (R8)(AX*1), Z0, Z0     // · w
	VADDPS (R9)(AX*1), Z0, Z0     // + b
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, CX
	JLT  lnapply
	VZEROUPPER
	RET
