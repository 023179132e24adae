//go:build gc && !purego

#include "textflag.h"

// func gemvRowsF16AVX512(out *float32, w *uint16, x *float32, k, rows int)
//
//	for i := range rows { out[i] = Σ_{j<k} HalfToFloat(w[i*k+j]) · x[j] }     // k a multiple of 16
//
// gemvRowsF16AVX2 with 512-bit registers: 64 halves per step widened by
// four VCVTPH2PS into Z4..Z7, four chains of sums; AX counts bytes of the
// half row (x at AX*2).
TEXT ·gemvRowsF16AVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ k+24(FP), CX
	SHLQ $1, CX                   // CX = row bytes
	MOVQ rows+32(FP), R8
	MOVQ CX, R9
	ANDQ $-128, R9                // bytes covered by 64-wide steps
	TESTQ R8, R8
	JZ   gh_done

gh_row:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ AX, AX

gh_loop64:
	CMPQ AX, R9
	JGE  gh_loop16
	VCVTPH2PS (SI)(AX*1), Z4      // float32(w[i, j:j+16])
	VCVTPH2PS 32(SI)(AX*1), Z5
	VCVTPH2PS 64(SI)(AX*1), Z6
	VCVTPH2PS 96(SI)(AX*1), Z7
	VFMADD231PS (DI)(AX*2), Z4, Z0
	VFMADD231PS 64(DI)(AX*2), Z5, Z1
	VFMADD231PS 128(DI)(AX*2), Z6, Z2
	VFMADD231PS 192(DI)(AX*2), Z7, Z3
	ADDQ $128, AX
	JMP  gh_loop64

gh_loop16:
	CMPQ AX, CX
	JGE  gh_sum
	VCVTPH2PS (SI)(AX*1), Z4
	VFMADD231PS (DI)(AX*2), Z4, Z0
	ADDQ $32, AX
	JMP  gh_loop16

gh_sum:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, (DX)                // out[i]
	ADDQ $4, DX
	ADDQ CX, SI                   // next row
	DECQ R8
	JNZ  gh_row

gh_done:
	VZEROUPPER
	RET
