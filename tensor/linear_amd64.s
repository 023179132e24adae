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
