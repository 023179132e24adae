//go:build gc && !purego

#include "textflag.h"

// Q4STEP adds 64 weights (32 bytes of q4, blocks b and b+1) times 64
// bytes of permuted x to acc: the low nibbles of the 32 bytes then the
// high ones form 64 int8 weights (-8 after masking), whose x bytes
// xpermQ4 placed at the same offsets; dword lanes 0-3 and 8-11 sum block
// b, 4-7 and 12-15 block b+1, scaled by s_b, s_(b+1) (q4_perm).
#define Q4STEP(qoff, xoff, soff, acc) \
	VMOVDQU qoff(SI), Y0; \
	VPSRLW $4, Y0, Y1; \
	VINSERTI64X4 $1, Y1, Z0, Z2; \
	VPANDD Z30, Z2, Z2; \
	VPSUBB Z29, Z2, Z2; \
	VMOVDQU8 xoff(DI)(R10*2), Z4; \
	VPXORD Z3, Z3, Z3; \
	VPDPBUSD Z2, Z4, Z3; \
	VCVTDQ2PS Z3, Z3; \
	VMOVQ soff(BX), X5; \
	VPERMPS Z5, Z31, Z5; \
	VFMADD231PS Z5, Z3, acc

// func gemvRowsQ4VNNIAVX512(out *float32, q *uint8, s *float32, xp *byte, k, rows int)
//
//	for i := range rows {                                  // k a multiple of 64
//		out[i] = Σ_{b<k/32} s[i*k/32+b] · Σ_{j<32} int32(q4(i, 32b+j)) · int32(xp[perm(32b+j)])
//	}
//
// q4(i, n) is weight n of row i (Mat.Q4: byte 16b+j of a row holds weights
// 32b+j in its low nibble and 32b+16+j in its high one, each + 8); perm
// is xpermQ4's order. R10 counts the q4 bytes of the row done (x at
// R10*2).
TEXT ·gemvRowsQ4VNNIAVX512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ q+8(FP), SI
	MOVQ s+16(FP), BX
	MOVQ xp+24(FP), DI
	MOVQ k+32(FP), CX
	SHRQ $1, CX                   // CX = q4 bytes per row
	MOVQ rows+40(FP), R8
	VMOVDQU32 q4_perm<>(SB), Z31
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z30          // low-nibble mask
	MOVL $0x08080808, AX
	VPBROADCASTD AX, Z29          // 8 in every byte
	MOVQ CX, R9
	ANDQ $-64, R9                 // bytes covered by 64-byte (128-weight) steps
	TESTQ R8, R8
	JZ   q4_done

q4_row:
	VXORPS Z6, Z6, Z6             // two chains of float32 sums
	VXORPS Z7, Z7, Z7
	XORQ R10, R10

q4_loop:
	CMPQ R10, R9
	JGE  q4_tail
	Q4STEP(0, 0, 0, Z6)
	Q4STEP(32, 64, 8, Z7)
	ADDQ $64, SI
	ADDQ $64, R10
	ADDQ $16, BX
	JMP  q4_loop

q4_tail:
	CMPQ R10, CX
	JGE  q4_sum
	Q4STEP(0, 0, 0, Z6)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $8, BX

q4_sum:
	VADDPS Z7, Z6, Z6
	VEXTRACTF32X8 $1, Z6, Y7
	VADDPS Y7, Y6, Y6
	VEXTRACTF128 $1, Y6, X7
	VADDPS X7, X6, X6
	VHADDPS X6, X6, X6
	VHADDPS X6, X6, X6
	MOVSS X6, (DX)                // out[i]
	ADDQ $4, DX
	DECQ R8
	JNZ  q4_row

q4_done:
	VZEROUPPER
	RET

// q4_perm: dword lanes 0-3 and 8-11 take scale 0, 4-7 and 12-15 scale 1.
DATA q4_perm<>+0(SB)/8, $0
DATA q4_perm<>+8(SB)/8, $0
DATA q4_perm<>+16(SB)/8, $0x0000000100000001
DATA q4_perm<>+24(SB)/8, $0x0000000100000001
DATA q4_perm<>+32(SB)/8, $0
DATA q4_perm<>+40(SB)/8, $0
DATA q4_perm<>+48(SB)/8, $0x0000000100000001
DATA q4_perm<>+56(SB)/8, $0x0000000100000001
GLOBL q4_perm<>(SB), RODATA|NOPTR, $64
