//go:build gc && !purego

#include "textflag.h"

// Register roles shared by the kernels below.
#define DST DX   // *[4]float32 or *[12]float32 results
#define W0 SI    // weight row 0 (rows 1..3 in R8, R9, R10)
#define W1 R8
#define W2 R9
#define W3 R10
#define XP DI    // activation row 0
#define IDX AX   // byte offset into the rows
#define END CX   // byte offset where the rows end

// REDUCE4 folds four 8-lane sums a, b, c, d into xa = [Σa, Σb, Σc, Σd]
// (clobbers b, c, d and Y15).
#define REDUCE4(a, b, c, d, xa) \
	VHADDPS b, a, a; \
	VHADDPS d, c, c; \
	VHADDPS c, a, a; \
	VEXTRACTF128 $1, a, X15; \
	VADDPS X15, xa, xa

// func gemv4F32AVX2(dst *[4]float32, w *float32, ldw int, x *float32, k int)
//
//	for i := range 4 { dst[i] = Σ_{j<k} w[i*ldw+j] · x[j] }    // k a multiple of 8
TEXT ·gemv4F32AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DST
	MOVQ w+8(FP), W0
	MOVQ ldw+16(FP), BX
	SHLQ $2, BX                   // BX = row stride in bytes
	LEAQ (W0)(BX*1), W1
	LEAQ (W1)(BX*1), W2
	LEAQ (W2)(BX*1), W3
	LEAQ (W3)(BX*1), R12          // R12, R13, DX, BX = the next 4 rows (row 4·ldw..7·ldw),
	LEAQ (R12)(BX*1), R13         // prefetched at the same offsets as these stream
	LEAQ (R13)(BX*1), DX
	ADDQ DX, BX
	MOVQ x+24(FP), XP
	MOVQ k+32(FP), END
	SHLQ $2, END
	MOVQ END, R11
	ANDQ $-64, R11                // R11 = bytes covered by 16-wide steps
	VXORPS Y0, Y0, Y0             // Y0..Y3: row sums of even 8-blocks
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4             // Y4..Y7: row sums of odd 8-blocks
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ IDX, IDX

f32loop16:
	CMPQ IDX, R11
	JGE  f32loop8
	PREFETCHT0 (R12)(IDX*1)       // rows 4..7, 64 bytes each per step
	PREFETCHT0 (R13)(IDX*1)
	PREFETCHT0 (DX)(IDX*1)
	PREFETCHT0 (BX)(IDX*1)
	VMOVUPS (XP)(IDX*1), Y8       // x[j:j+8]
	VMOVUPS 32(XP)(IDX*1), Y9     // x[j+8:j+16]
	VFMADD231PS (W0)(IDX*1), Y8, Y0    // S0 += w0[j:j+8]·x[j:j+8]
	VFMADD231PS 32(W0)(IDX*1), Y9, Y4
	VFMADD231PS (W1)(IDX*1), Y8, Y1
	VFMADD231PS 32(W1)(IDX*1), Y9, Y5
	VFMADD231PS (W2)(IDX*1), Y8, Y2
	VFMADD231PS 32(W2)(IDX*1), Y9, Y6
	VFMADD231PS (W3)(IDX*1), Y8, Y3
	VFMADD231PS 32(W3)(IDX*1), Y9, Y7
	ADDQ $64, IDX
	JMP  f32loop16

f32loop8:
	CMPQ IDX, END
	JGE  f32reduce
	VMOVUPS (XP)(IDX*1), Y8
	VFMADD231PS (W0)(IDX*1), Y8, Y0
	VFMADD231PS (W1)(IDX*1), Y8, Y1
	VFMADD231PS (W2)(IDX*1), Y8, Y2
	VFMADD231PS (W3)(IDX*1), Y8, Y3
	ADDQ $32, IDX
	JMP  f32loop8

f32reduce:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	REDUCE4(Y0, Y1, Y2, Y3, X0)
	MOVQ dst+0(FP), DST
	VMOVUPS X0, (DST)             // dst[0:4]
	VZEROUPPER
	RET

// func tile4x2F32AVX2(dst *[8]float32, w *float32, ldw int, x *float32, ldx int, k int)
//
//	for n := range 2 { for i := range 4 {                        // k a multiple of 8
//		dst[n*4+i] = Σ_{j<k} w[i*ldw+j] · x[n*ldx+j]
//	}}
//
// The tile of tiles4x3F32AVX2 for the last 2 rows of x: 8 accumulators, Y[n*4+i].
TEXT ·tile4x2F32AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DST
	MOVQ w+8(FP), W0
	MOVQ ldw+16(FP), BX
	SHLQ $2, BX
	LEAQ (W0)(BX*1), W1
	LEAQ (W1)(BX*1), W2
	LEAQ (W2)(BX*1), W3
	MOVQ x+24(FP), XP
	MOVQ ldx+32(FP), BX
	SHLQ $2, BX
	LEAQ (XP)(BX*1), R11          // activation row 1
	MOVQ k+40(FP), END
	SHLQ $2, END
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ IDX, IDX

t2loop:
	CMPQ IDX, END
	JGE  t2reduce
	VMOVUPS (XP)(IDX*1), Y12      // x0[j:j+8]
	VMOVUPS (R11)(IDX*1), Y13     // x1[j:j+8]
	VMOVUPS (W0)(IDX*1), Y15      // w0[j:j+8]
	VFMADD231PS Y15, Y12, Y0      // S[0,0] += w0·x0
	VFMADD231PS Y15, Y13, Y4      // S[1,0] += w0·x1
	VMOVUPS (W1)(IDX*1), Y14
	VFMADD231PS Y14, Y12, Y1
	VFMADD231PS Y14, Y13, Y5
	VMOVUPS (W2)(IDX*1), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VMOVUPS (W3)(IDX*1), Y14
	VFMADD231PS Y14, Y12, Y3
	VFMADD231PS Y14, Y13, Y7
	ADDQ $32, IDX
	JMP  t2loop

t2reduce:
	REDUCE4(Y0, Y1, Y2, Y3, X0)
	VMOVUPS X0, (DST)             // dst[0:4]   activation row 0
	REDUCE4(Y4, Y5, Y6, Y7, X4)
	VMOVUPS X4, 16(DST)           // dst[4:8]   activation row 1
	VZEROUPPER
	RET

// func widenF16AVX2(dst *float32, src *uint16, n int)
//
//	for i := range n { dst[i] = HalfToFloat(src[i]) }     // n a multiple of 8
TEXT ·widenF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	TESTQ CX, CX
	JZ    wfdone

wfloop:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  wfloop

wfdone:
	VZEROUPPER
	RET

// func widenQ8AVX2(dst *float32, q *int8, s *float32, n int)
//
//	for i := range n { dst[i] = float32(q[i]) * s[i/32] }   // n a multiple of 32
TEXT ·widenQ8AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ s+16(FP), BX
	MOVQ n+24(FP), CX
	SHRQ $5, CX
	TESTQ CX, CX
	JZ    wqdone

wqloop:
	VBROADCASTSS (BX), Y4         // the block's scale
	VPMOVSXBD (SI), Y0
	VPMOVSXBD 8(SI), Y1
	VPMOVSXBD 16(SI), Y2
	VPMOVSXBD 24(SI), Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS Y4, Y0, Y0
	VMULPS Y4, Y1, Y1
	VMULPS Y4, Y2, Y2
	VMULPS Y4, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	ADDQ $4, BX
	DECQ CX
	JNZ  wqloop

wqdone:
	VZEROUPPER
	RET

// PFDIST is how far ahead of the weight stream the int8 GEMV prefetches:
// there hardware prefetch alone leaves a core short of its share of
// bandwidth, as widening costs about as much time as the load (measured:
// it helps int8, and slows the float32 and float16 streams).
#define PFDIST 2048

// HSUM4 folds four 8-lane sums into the low lane of X0 (clobbers Y1..Y3).
#define HSUM4 \
	VADDPS Y1, Y0, Y0; \
	VADDPS Y3, Y2, Y2; \
	VADDPS Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VHADDPS X0, X0, X0; \
	VHADDPS X0, X0, X0

// func gemvRowsF32AVX2(out *float32, w *float32, x *float32, k, rows int)
//
//	for i := range rows { out[i] = Σ_{j<k} w[i*k+j] · x[j] }     // k a multiple of 8
//
// The rows are contiguous, so the weights are read as one sequential
// stream (what the hardware prefetcher streams best); x stays in L1.
TEXT ·gemvRowsF32AVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ k+24(FP), CX
	SHLQ $2, CX                   // CX = row bytes
	MOVQ rows+32(FP), R8
	MOVQ CX, R9
	ANDQ $-128, R9                // R9 = bytes covered by 32-wide steps
	TESTQ R8, R8
	JZ    rf32done

rf32row:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ IDX, IDX

rf32loop32:
	CMPQ IDX, R9
	JGE  rf32loop8
	VMOVUPS (SI)(IDX*1), Y4       // w[i, j:j+8]
	VMOVUPS 32(SI)(IDX*1), Y5
	VMOVUPS 64(SI)(IDX*1), Y6
	VMOVUPS 96(SI)(IDX*1), Y7
	VFMADD231PS (DI)(IDX*1), Y4, Y0    // S += w·x
	VFMADD231PS 32(DI)(IDX*1), Y5, Y1
	VFMADD231PS 64(DI)(IDX*1), Y6, Y2
	VFMADD231PS 96(DI)(IDX*1), Y7, Y3
	ADDQ $128, IDX
	JMP  rf32loop32

rf32loop8:
	CMPQ IDX, CX
	JGE  rf32sum
	VMOVUPS (SI)(IDX*1), Y4
	VFMADD231PS (DI)(IDX*1), Y4, Y0
	ADDQ $32, IDX
	JMP  rf32loop8

rf32sum:
	HSUM4
	MOVSS X0, (DX)                // out[i]
	ADDQ $4, DX
	ADDQ CX, SI                   // next row
	DECQ R8
	JNZ  rf32row

rf32done:
	VZEROUPPER
	RET

// func gemvRowsF16AVX2(out *float32, w *uint16, x *float32, k, rows int)
//
//	for i := range rows { out[i] = Σ_{j<k} HalfToFloat(w[i*k+j]) · x[j] }     // k a multiple of 8
//
// IDX counts bytes of the half row; x is addressed at IDX*2.
TEXT ·gemvRowsF16AVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ k+24(FP), CX
	SHLQ $1, CX                   // CX = row bytes
	MOVQ rows+32(FP), R8
	MOVQ CX, R9
	ANDQ $-32, R9                 // bytes covered by 16-wide steps
	TESTQ R8, R8
	JZ    rf16done

rf16row:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ IDX, IDX

rf16loop16:
	CMPQ IDX, R9
	JGE  rf16loop8
	VCVTPH2PS (SI)(IDX*1), Y4     // float32(w[i, j:j+8])
	VCVTPH2PS 16(SI)(IDX*1), Y5
	VFMADD231PS (DI)(IDX*2), Y4, Y0
	VFMADD231PS 32(DI)(IDX*2), Y5, Y1
	ADDQ $32, IDX
	JMP  rf16loop16

rf16loop8:
	CMPQ IDX, CX
	JGE  rf16sum
	VCVTPH2PS (SI)(IDX*1), Y4
	VFMADD231PS (DI)(IDX*2), Y4, Y2
	ADDQ $16, IDX
	JMP  rf16loop8

rf16sum:
	HSUM4
	MOVSS X0, (DX)
	ADDQ $4, DX
	ADDQ CX, SI
	DECQ R8
	JNZ  rf16row

rf16done:
	VZEROUPPER
	RET

// Q8BLK adds one block of 32 to acc: acc += scale · Σ q[0:32]·x[0:32].
#define Q8BLK(qoff, xoff, soff, acc) \
	VPMOVSXBD qoff(SI), Y4; \
	VPMOVSXBD qoff+8(SI), Y5; \
	VPMOVSXBD qoff+16(SI), Y6; \
	VPMOVSXBD qoff+24(SI), Y7; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VCVTDQ2PS Y6, Y6; \
	VCVTDQ2PS Y7, Y7; \
	VMULPS xoff(DI)(R10*4), Y4, Y8; \
	VFMADD231PS xoff+32(DI)(R10*4), Y5, Y8; \
	VFMADD231PS xoff+64(DI)(R10*4), Y6, Y8; \
	VFMADD231PS xoff+96(DI)(R10*4), Y7, Y8; \
	VBROADCASTSS soff(BX), Y9; \
	VFMADD231PS Y9, Y8, acc

// func gemvRowsQ8AVX2(out *float32, q *int8, s *float32, x *float32, k, rows int)
//
//	for i := range rows {                                  // k a multiple of 32
//		out[i] = Σ_{j<k} float32(q[i*k+j]) · s[i*k/32+j/32] · x[j]
//	}
//
// Weights and scales are each one sequential stream; R10 counts the
// bytes of the row done (x is at R10*4).
TEXT ·gemvRowsQ8AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ q+8(FP), SI
	MOVQ s+16(FP), BX
	MOVQ x+24(FP), DI
	MOVQ k+32(FP), CX             // row bytes
	MOVQ rows+40(FP), R8
	TESTQ R8, R8
	JZ    rq8done

rq8row:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ R10, R10
	MOVQ CX, R11
	SUBQ $64, R11                 // R11 = last start of a block pair

rq8pair:
	CMPQ R10, R11
	JG   rq8single
	PREFETCHT0 PFDIST(SI)         // the weight stream, PFDIST bytes ahead
	PREFETCHT0 (PFDIST/8)(BX)     // and the scales at the same pace
	Q8BLK(0, 0, 0, Y0)            // two blocks, two chains
	Q8BLK(32, 128, 4, Y1)
	ADDQ $64, SI
	ADDQ $8, BX
	ADDQ $64, R10
	JMP  rq8pair

rq8single:
	CMPQ R10, CX
	JGE  rq8sum
	Q8BLK(0, 0, 0, Y0)
	ADDQ $32, SI
	ADDQ $4, BX
	ADDQ $32, R10
	JMP  rq8single

rq8sum:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, (DX)
	ADDQ $4, DX
	DECQ R8
	JNZ  rq8row

rq8done:
	VZEROUPPER
	RET

// TILEBODY is one 8-wide step of a 4×3 register tile: twelve accumulators
// Y[n*4+i] (activation row n, weight row i) stay in registers; each step
// loads 3 activation and 4 weight vectors for 12 FMAs.
#define TILEBODY \
	VMOVUPS (XP)(IDX*1), Y12; \
	VMOVUPS (R11)(IDX*1), Y13; \
	VMOVUPS (R12)(IDX*1), Y14; \
	VMOVUPS (W0)(IDX*1), Y15; \
	VFMADD231PS Y15, Y12, Y0; \
	VFMADD231PS Y15, Y13, Y4; \
	VFMADD231PS Y15, Y14, Y8; \
	VMOVUPS (W1)(IDX*1), Y15; \
	VFMADD231PS Y15, Y12, Y1; \
	VFMADD231PS Y15, Y13, Y5; \
	VFMADD231PS Y15, Y14, Y9; \
	VMOVUPS (W2)(IDX*1), Y15; \
	VFMADD231PS Y15, Y12, Y2; \
	VFMADD231PS Y15, Y13, Y6; \
	VFMADD231PS Y15, Y14, Y10; \
	VMOVUPS (W3)(IDX*1), Y15; \
	VFMADD231PS Y15, Y12, Y3; \
	VFMADD231PS Y15, Y13, Y7; \
	VFMADD231PS Y15, Y14, Y11

// func tiles4x3F32AVX2(dst *float32, w *float32, ldw int, x *float32, ldx int, k int, ntiles int, pf *float32)
//
//	for t := range ntiles { for n := range 3 { for i := range 4 {   // k a multiple of 8, ntiles >= 1
//		dst[(3*t+n)*4+i] = Σ_{j<k} w[i*ldw+j] · x[(3*t+n)*ldx+j]
//	}}}
//
// The 4×3 tile (TILEBODY) run down 3·ntiles rows of x in one call; the 4
// weight rows stay in L1. A non-nil pf is prefetched (into L2) during the first tile.
TEXT ·tiles4x3F32AVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DST
	MOVQ w+8(FP), W0
	MOVQ ldw+16(FP), BX
	SHLQ $2, BX
	LEAQ (W0)(BX*1), W1
	LEAQ (W1)(BX*1), W2
	LEAQ (W2)(BX*1), W3
	MOVQ x+24(FP), XP
	MOVQ ldx+32(FP), BX
	SHLQ $2, BX                   // BX = x row stride in bytes
	LEAQ (XP)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	MOVQ k+40(FP), END
	SHLQ $2, END
	MOVQ pf+56(FP), R13

tsouter:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ IDX, IDX
	TESTQ R13, R13
	JNZ  tsinnerP

tsinner:
	CMPQ IDX, END
	JGE  tsreduce
	TILEBODY
	ADDQ $32, IDX
	JMP  tsinner

tsinnerP:
	CMPQ IDX, END
	JGE  tsreduceP
	PREFETCHT1 (R13)(IDX*4)       // 4 rows × 32 bytes of pf per step
	PREFETCHT1 64(R13)(IDX*4)
	TILEBODY
	ADDQ $32, IDX
	JMP  tsinnerP

tsreduceP:
	XORQ R13, R13                 // prefetch during the first tile only

tsreduce:
	REDUCE4(Y0, Y1, Y2, Y3, X0)
	VMOVUPS X0, (DST)             // row 3t
	REDUCE4(Y4, Y5, Y6, Y7, X4)
	VMOVUPS X4, 16(DST)           // row 3t+1
	REDUCE4(Y8, Y9, Y10, Y11, X8)
	VMOVUPS X8, 32(DST)           // row 3t+2
	ADDQ $48, DST
	LEAQ (XP)(BX*2), XP           // next 3 rows of x
	ADDQ BX, XP
	LEAQ (XP)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	DECQ ntiles+48(FP)
	JNZ  tsouter
	VZEROUPPER
	RET

// OSTEP is step u of the outer-product tile: x rows 0..15 of column k+u
// (xt[(k+u)*16:], two vectors) times w[j][k+u] broadcast, for the 6
// weight rows j (rows 0..2 at SI + j·BX, rows 3..5 at R8 + (j-3)·BX).
#define OSTEP(wo, xo) \
	VMOVUPS xo(DI), Y12; \
	VMOVUPS xo+32(DI), Y13; \
	VBROADCASTSS wo(SI), Y14; \
	VFMADD231PS Y14, Y12, Y0; \
	VFMADD231PS Y14, Y13, Y1; \
	VBROADCASTSS wo(SI)(BX*1), Y15; \
	VFMADD231PS Y15, Y12, Y2; \
	VFMADD231PS Y15, Y13, Y3; \
	VBROADCASTSS wo(SI)(BX*2), Y14; \
	VFMADD231PS Y14, Y12, Y4; \
	VFMADD231PS Y14, Y13, Y5; \
	VBROADCASTSS wo(R8), Y15; \
	VFMADD231PS Y15, Y12, Y6; \
	VFMADD231PS Y15, Y13, Y7; \
	VBROADCASTSS wo(R8)(BX*1), Y14; \
	VFMADD231PS Y14, Y12, Y8; \
	VFMADD231PS Y14, Y13, Y9; \
	VBROADCASTSS wo(R8)(BX*2), Y15; \
	VFMADD231PS Y15, Y12, Y10; \
	VFMADD231PS Y15, Y13, Y11

// OTRANS transposes the 6 accumulators of 8 x rows (weight row j in
// r0..r5, lane i = x row i) into dst rows [i][0:6] at off(DX), stride 32
// bytes (clobbers r0..r5 and Y12..Y15).
#define OTRANS(r0, r1, r2, r3, r4, r5, x1, x2, x3, x4, x5, off) \
	VUNPCKLPS r1, r0, Y12;          /* t0 = [w0 w1] of x rows 0, 1 | 4, 5 */ \
	VUNPCKHPS r1, r0, r0;           /* t1 = rows 2, 3 | 6, 7 */ \
	VUNPCKLPS r3, r2, Y13;          /* t2 = [w2 w3] of rows 0, 1 | 4, 5 */ \
	VUNPCKHPS r3, r2, r2;           /* t3 */ \
	VUNPCKLPS r5, r4, Y14;          /* t4 = [w4 w5] of rows 0, 1 | 4, 5 */ \
	VUNPCKHPS r5, r4, r4;           /* t5 = rows 2, 3 | 6, 7 */ \
	VSHUFPS $0x44, Y13, Y12, r1;    /* [w0..w3] of row 0 | 4 */ \
	VSHUFPS $0xEE, Y13, Y12, r3;    /* row 1 | 5 */ \
	VSHUFPS $0x44, r2, r0, r5;      /* row 2 | 6 */ \
	VSHUFPS $0xEE, r2, r0, Y15;     /* row 3 | 7 */ \
	VMOVUPS x1, off(DX);            /* dst[i][0:4] */ \
	VMOVLPS X14, off+16(DX);        /* dst[i][4:6] */ \
	VMOVUPS x3, off+32(DX); \
	VMOVHPS X14, off+48(DX); \
	VMOVUPS x5, off+64(DX); \
	VMOVLPS x4, off+80(DX); \
	VMOVUPS X15, off+96(DX); \
	VMOVHPS x4, off+112(DX); \
	VEXTRACTF128 $1, r1, off+128(DX); /* rows 4..7 from the upper lanes */ \
	VEXTRACTF128 $1, Y14, X14; \
	VMOVLPS X14, off+144(DX); \
	VEXTRACTF128 $1, r3, off+160(DX); \
	VMOVHPS X14, off+176(DX); \
	VEXTRACTF128 $1, r5, off+192(DX); \
	VEXTRACTF128 $1, r4, x2; \
	VMOVLPS x2, off+208(DX); \
	VEXTRACTF128 $1, Y15, off+224(DX); \
	VMOVHPS x2, off+240(DX)

// func outer6x16F32AVX2(dst *[128]float32, w *float32, ldw int, xt *float32, k int, pf *float32, pfn int)
//
//	for i := range 16 { for j := range 6 {                        // k >= 1
//		dst[i*8+j] = Σ_{kk<k} w[j*ldw+kk] · xt[kk*16+i]
//	}}
//
// An outer-product register tile: 12 accumulators Y[2j], Y[2j+1] hold
// 16 x rows of weight row j; each step of k broadcasts one value of each
// of the 6 weight rows against 16 contiguous values of the packed,
// transposed x (no horizontal sums). The tile is transposed once at the
// end; dst[i*8+6:i*8+8] are not written. The pfn bytes at pf are
// prefetched, one line per 4 steps of k.
TEXT ·outer6x16F32AVX2(SB), NOSPLIT, $0-56
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), BX
	SHLQ $2, BX                   // BX = weight row stride in bytes
	LEAQ (SI)(BX*2), R8
	ADDQ BX, R8                   // R8 = weight row 3
	MOVQ xt+24(FP), DI
	MOVQ k+32(FP), CX
	MOVQ pf+40(FP), R13
	MOVQ pfn+48(FP), R14
	ADDQ R13, R14                 // R14 = end of the prefetch
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

o4loop:
	CMPQ CX, $4
	JLT  o1loop
	CMPQ R13, R14
	JAE  o4body
	PREFETCHT0 (R13)              // the next weight rows, a line per step
	ADDQ $64, R13

o4body:
	OSTEP(0, 0)                   // acc[j] += w[j][k]·xt[k]
	OSTEP(4, 64)                  // k+1
	OSTEP(8, 128)                 // k+2
	OSTEP(12, 192)                // k+3
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $256, DI
	SUBQ $4, CX
	JMP  o4loop

o1loop:
	TESTQ CX, CX
	JZ    ostore
	OSTEP(0, 0)
	ADDQ $4, SI
	ADDQ $4, R8
	ADDQ $64, DI
	DECQ CX
	JMP  o1loop

ostore:
	MOVQ dst+0(FP), DX
	OTRANS(Y0, Y2, Y4, Y6, Y8, Y10, X2, X4, X6, X8, X10, 0)     // x rows 0..7
	OTRANS(Y1, Y3, Y5, Y7, Y9, Y11, X3, X5, X7, X9, X11, 256)   // x rows 8..15
	VZEROUPPER
	RET

// func addTile6AVX2(out *float32, ldo int, tile *[128]float32, bias *[8]float32, acc int)
//
//	for i := range 16 { for j := range 6 {
//		out[i*ldo+j] = tile[i*8+j] + bias[j] (+ out[i*ldo+j] if acc != 0)
//	}}
TEXT ·addTile6AVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ ldo+8(FP), BX
	SHLQ $2, BX                   // BX = out row stride in bytes
	MOVQ tile+16(FP), SI
	MOVQ bias+24(FP), R8
	VMOVUPS (R8), X12             // bias[0:4]
	VMOVSD 16(R8), X13            // bias[4:6]
	MOVQ $16, CX
	MOVQ acc+32(FP), AX
	TESTQ AX, AX
	JZ    atset

atadd:
	VADDPS (SI), X12, X0          // tile[i][0:4] + bias
	VMOVSD 16(SI), X1
	VADDPS X13, X1, X1            // tile[i][4:6] + bias
	VADDPS (DI), X0, X0           // + out[i][0:4]
	VMOVSD 16(DI), X2
	VADDPS X2, X1, X1             // + out[i][4:6]
	VMOVUPS X0, (DI)
	VMOVSD X1, 16(DI)
	ADDQ $32, SI
	ADDQ BX, DI
	DECQ CX
	JNZ  atadd
	RET

atset:
	VADDPS (SI), X12, X0
	VMOVSD 16(SI), X1
	VADDPS X13, X1, X1
	VMOVUPS X0, (DI)
	VMOVSD X1, 16(DI)
	ADDQ $32, SI
	ADDQ BX, DI
	DECQ CX
	JNZ  atset
	RET

// func packXT8AVX2(dst *float32, src *float32, lds int, k int)
//
//	for r := range 8 { for j := range k {                        // k a multiple of 8
//		dst[j*16+r] = src[r*lds+j]
//	}}
//
// 8 rows of x into one half of a packed panel (see packXT), by 8×8
// transposes in registers.
TEXT ·packXT8AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), BX
	SHLQ $2, BX                   // BX = source row stride in bytes
	LEAQ (SI)(BX*2), R8
	ADDQ BX, R8                   // R8 = row 3
	LEAQ (R8)(BX*2), R9
	ADDQ BX, R9                   // R9 = row 6
	MOVQ k+24(FP), CX
	SHRQ $3, CX
	TESTQ CX, CX
	JZ    pxdone

pxloop:
	VMOVUPS (SI), Y0              // r0 = x[0][j:j+8]
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS (SI)(BX*2), Y2
	VMOVUPS (R8), Y3
	VMOVUPS (R8)(BX*1), Y4
	VMOVUPS (R8)(BX*2), Y5
	VMOVUPS (R9), Y6
	VMOVUPS (R9)(BX*1), Y7
	VUNPCKLPS Y1, Y0, Y8          // [r0 r1] of columns 0, 1 | 4, 5
	VUNPCKHPS Y1, Y0, Y9          // columns 2, 3 | 6, 7
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0    // [r0..r3] of column 0 | 4
	VSHUFPS $0xEE, Y10, Y8, Y1    // column 1 | 5
	VSHUFPS $0x44, Y11, Y9, Y2    // column 2 | 6
	VSHUFPS $0xEE, Y11, Y9, Y3    // column 3 | 7
	VSHUFPS $0x44, Y14, Y12, Y4   // [r4..r7] of column 0 | 4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8  // column 0 = [r0..r7][j]
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12 // column 4
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)              // dst[j*16 : j*16+8]
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $512, DI
	DECQ CX
	JNZ  pxloop

pxdone:
	VZEROUPPER
	RET

// func unpackQ4AVX2(dst *int8, src *uint8, nb int)
//
//	for b := range nb { for j := range 16 {           // nb blocks of 32 values, 16 bytes each
//		dst[32b+j] = int8(src[16b+j] & 15) - 8
//		dst[32b+j+16] = int8(src[16b+j] >> 4) - 8
//	}}
TEXT ·unpackQ4AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	MOVL $0x0f0f0f0f, AX
	VMOVD AX, X7
	VPBROADCASTD X7, Y7           // low-nibble mask
	MOVL $0x08080808, AX
	VMOVD AX, X6
	VPBROADCASTD X6, Y6           // 8 in every byte
	MOVQ CX, R8
	SHRQ $1, R8                   // R8 = pairs of blocks
	JZ   uqodd

uqloop:
	VMOVDQU (SI), Y0              // blocks b, b+1
	VPAND Y7, Y0, Y1              // values 0..15 of each block
	VPSRLW $4, Y0, Y2
	VPAND Y7, Y2, Y2              // values 16..31
	VPSUBB Y6, Y1, Y1             // - 8
	VPSUBB Y6, Y2, Y2
	VPERM2I128 $0x20, Y2, Y1, Y3  // block b: [0..15 | 16..31]
	VPERM2I128 $0x31, Y2, Y1, Y4  // block b+1
	VMOVDQU Y3, (DI)
	VMOVDQU Y4, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ R8
	JNZ  uqloop

uqodd:
	TESTQ $1, CX
	JZ   uqdone
	VMOVDQU (SI), X0
	VPAND X7, X0, X1
	VPSRLW $4, X0, X2
	VPAND X7, X2, X2
	VPSUBB X6, X1, X1
	VPSUBB X6, X2, X2
	VMOVDQU X1, (DI)
	VMOVDQU X2, 16(DI)

uqdone:
	VZEROUPPER
	RET
