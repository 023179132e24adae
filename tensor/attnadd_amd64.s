//go:build gc && !purego

#include "textflag.h"

// func attnValuesAdd64AVX2(y, a, v *float32, ldv, n int)
//
// Y0..Y7 hold y[0:64], loaded first; each position adds a[p]·v[p, 0:64]
// with 8 FMAs; y is stored back at the end.
TEXT ·attnValuesAdd64AVX2(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ ldv+24(FP), BX
	SHLQ $2, BX                   // row stride in bytes
	MOVQ n+32(FP), CX
	VMOVUPS (DI), Y0              // y[0:64] in eight registers
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7

avaloop:
	PREFETCHT0 (DX)(BX*4)         // row p+4
	PREFETCHT0 64(DX)(BX*4)
	PREFETCHT0 128(DX)(BX*4)
	PREFETCHT0 192(DX)(BX*4)
	VBROADCASTSS (SI), Y8         // a[p]
	VFMADD231PS (DX), Y8, Y0      // y[0:8] += a[p]·v[p, 0:8]
	VFMADD231PS 32(DX), Y8, Y1
	VFMADD231PS 64(DX), Y8, Y2
	VFMADD231PS 96(DX), Y8, Y3
	VFMADD231PS 128(DX), Y8, Y4
	VFMADD231PS 160(DX), Y8, Y5
	VFMADD231PS 192(DX), Y8, Y6
	VFMADD231PS 224(DX), Y8, Y7
	ADDQ $4, SI
	ADDQ BX, DX
	DECQ CX
	JNZ  avaloop

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
