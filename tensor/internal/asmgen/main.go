// Command asmgen writes tensor/linear512_amd64.s, the AVX-512 kernels of
// Linear, whose register tiles come in several widths that differ only in
// register names and offsets:
//
//	go generate ./tensor    (runs: go run ./internal/asmgen -o linear512_amd64.s)
//
// Each kernel's doc comment in linear512_amd64.go is the Go loop it
// computes; the pure-Go twins in linear_generic.go are the oracle.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
)

// pfAhead is how far ahead of its use each weight row is prefetched.
const pfAhead = 512

// dotPfAhead and dotPfAheadF16 are how far ahead of its use the
// dot-product tile prefetches each stream of float32 and float16 weights.
const (
	dotPfAhead    = 2048
	dotPfAheadF16 = 1024
)

// panelPfAhead and panelPfAheadF16 are how far ahead of its use the
// strip kernels prefetch their one stream of float32 or float16 weights.
// 8 KiB for float32: against 4 KiB, two threads streaming batch 8's GEMMs
// held 95% of a two-thread read instead of 87% while the bus gave ~70 GB/s
// and 98% instead of 99% at ~46 GB/s (README, "Prefetching further ahead").
const (
	panelPfAhead    = 8192
	panelPfAheadF16 = 4096
)

// sumPfAhead is how far ahead sumAVX512 prefetches: of the reads tried
// in Go on the Zen 5 host (a 256-bit dot of x with itself, 512-bit adds
// with no prefetch and with 1, 2 or 4 KiB), 1 KiB was the fastest, 2-8%
// above no prefetch.
const sumPfAhead = 1024

// gen accumulates the assembly text.
type gen struct{ bytes.Buffer }

func (g *gen) l(format string, args ...any) { fmt.Fprintf(&g.Buffer, "\t"+format+"\n", args...) }
func (g *gen) label(s string)               { fmt.Fprintf(&g.Buffer, "%s:\n", s) }
func (g *gen) raw(s string)                 { g.WriteString(s) }

// rowAddr is the address of weight row j (of 12) at byte offset off along
// the row: rows 0..2 from SI, 3..5 from R8, 6..8 from R9, 9..11 from R10,
// each base plus 0, 1 or 2 row strides (BX).
func rowAddr(j, off int) string { return rowAddrIn(wBases, "BX", j, off) }

// wBases and sBases hold rows 0, 3, 6, 9 of the weights and of their
// scales.
var (
	wBases = [4]string{"SI", "R8", "R9", "R10"}
	sBases = [4]string{"R11", "R12", "R13", "R14"}
)

// rowAddrIn is rowAddr for the rows based at bases with the stride in
// register stride.
func rowAddrIn(bases [4]string, stride string, j, off int) string {
	base := bases[j/3]
	switch j % 3 {
	case 0:
		return fmt.Sprintf("%d(%s)", off, base)
	case 1:
		return fmt.Sprintf("%d(%s)(%s*1)", off, base, stride)
	}
	return fmt.Sprintf("%d(%s)(%s*2)", off, base, stride)
}

// rowBases sets SI, R8, R9, R10 to weight rows 0, 3, 6, 9 from w (SI) and
// the row stride in bytes (BX).
func (g *gen) rowBases() {
	g.l("LEAQ (SI)(BX*2), R8")
	g.l("ADDQ BX, R8                   // R8 = weight row 3")
	g.l("LEAQ (R8)(BX*2), R9")
	g.l("ADDQ BX, R9                   // R9 = weight row 6")
	g.l("LEAQ (R9)(BX*2), R10")
	g.l("ADDQ BX, R10                  // R10 = weight row 9")
}

// outerF32 writes outer12x{P}F32AVX512: 12 weight rows broadcast from
// memory against P packed x rows (one Y or Z register), 12 accumulators.
func (g *gen) outerF32(p int) {
	r := "Y"
	if p == 16 {
		r = "Z"
	}
	name := fmt.Sprintf("outer12x%dF32AVX512", p)
	fmt.Fprintf(g, `
// func %[1]s(dst *float32, w *float32, ldw int, xt *float32, k int, pf *float32)
//
//	for j := range 12 { for i := range %[2]d {                     // k >= 0
//		dst[j*%[2]d+i] = Σ_{kk<k} w[j*ldw+kk] · xt[kk*16+i]
//	}}
//
// 12 accumulators %[3]s0..%[3]s11 (weight row j, lanes = x rows); each step of k
// loads x[k] for the panel's rows once and broadcasts w[j][k] from memory
// into one FMA per row: no horizontal sums, W read in place, each row
// prefetched pfAhead bytes ahead. Every 16 steps it also prefetches 12
// cache lines from pf on (the next group, 48·k bytes in all; nil: none).
TEXT ·%[1]s(SB), NOSPLIT, $0-48
`, name, p, r)
	g.l("MOVQ w+8(FP), SI")
	g.l("MOVQ ldw+16(FP), BX")
	g.l("SHLQ $2, BX                   // BX = weight row stride in bytes")
	g.rowBases()
	g.l("MOVQ xt+24(FP), DI")
	g.l("MOVQ k+32(FP), CX")
	g.l("MOVQ pf+40(FP), R11             // the next group, or nil")
	g.l("MOVQ $768, R12                 // its advance per 16 steps (0 for nil)")
	g.l("TESTQ R11, R11")
	g.l("JNZ  %s_pf", name)
	g.l("MOVQ SI, R11                   // nil: the group's own first lines, standing still")
	g.l("XORQ R12, R12")
	g.label(name + "_pf")
	for j := range 12 {
		g.l("VXORPS %s%d, %s%d, %s%d", r, j, r, j, r, j)
	}
	// 16 steps at a time: each row advances one cache line, prefetched
	// pfAhead bytes before its use; 12 lines of the next group with them.
	g.label(name + "_loop16")
	g.l("CMPQ CX, $16")
	g.l("JLT  %s_loop4", name)
	for u := range 16 {
		x := fmt.Sprintf("%s%d", r, 12+u%2)
		g.l("VMOVUPS %d(DI), %s          // x[k+%d][0:%d]", 64*u, x, u, p)
		if u < 12 {
			g.l("PREFETCHT0 %s", rowAddr(u, pfAhead))
			g.l("PREFETCHT0 %d(R11)", 64*u)
		}
		for j := range 12 {
			g.l("VFMADD231PS.BCST %s, %s, %s%d", rowAddr(j, 4*u), x, r, j)
		}
	}
	for _, b := range []string{"SI", "R8", "R9", "R10"} {
		g.l("ADDQ $64, %s", b)
	}
	g.l("ADDQ R12, R11")
	g.l("ADDQ $1024, DI")
	g.l("SUBQ $16, CX")
	g.l("JMP  %s_loop16", name)
	g.label(name + "_loop4")
	g.l("CMPQ CX, $4")
	g.l("JLT  %s_loop1", name)
	for u := range 4 {
		x := fmt.Sprintf("%s%d", r, 12+u%2)
		g.l("VMOVUPS %d(DI), %s          // x[k+%d][0:%d]", 64*u, x, u, p)
		for j := range 12 {
			g.l("VFMADD231PS.BCST %s, %s, %s%d", rowAddr(j, 4*u), x, r, j)
		}
	}
	for _, b := range []string{"SI", "R8", "R9", "R10"} {
		g.l("ADDQ $16, %s", b)
	}
	g.l("ADDQ $256, DI")
	g.l("SUBQ $4, CX")
	g.l("JMP  %s_loop4", name)
	g.label(name + "_loop1")
	g.l("TESTQ CX, CX")
	g.l("JZ   %s_store", name)
	g.l("VMOVUPS (DI), %s12", r)
	for j := range 12 {
		g.l("VFMADD231PS.BCST %s, %s12, %s%d", rowAddr(j, 0), r, r, j)
	}
	for _, b := range []string{"SI", "R8", "R9", "R10"} {
		g.l("ADDQ $4, %s", b)
	}
	g.l("ADDQ $64, DI")
	g.l("DECQ CX")
	g.l("JMP  %s_loop1", name)
	g.label(name + "_store")
	g.l("MOVQ dst+0(FP), DX")
	for j := range 12 {
		g.l("VMOVUPS %s%d, %d(DX)", r, j, 4*p*j)
	}
	g.l("VZEROUPPER")
	g.l("RET")
}

// outerF32x32 writes outer12x32F32AVX512: 12 weight rows against two
// panels (32 x rows, two Z registers), each w[j][k] broadcast once into a
// register for two FMAs; 24 accumulators.
func (g *gen) outerF32x32() {
	name := "outer12x32F32AVX512"
	fmt.Fprintf(g, `
// func %[1]s(dst *float32, w *float32, ldw int, xt *float32, ldp int, k int)
//
//	for j := range 12 { for i := range 32 {                    // k >= 0
//		dst[j*32+i] = Σ_{kk<k} w[j*ldw+kk] · xt[(i/16)*ldp + kk*16 + i%%16]
//	}}
//
// 24 accumulators Z(2j), Z(2j+1): weight row j against the 16 rows of
// the panel at xt and the 16 of the panel ldp floats further. Each step
// of k loads both panels' x[k] and broadcasts w[j][k] once for two FMAs.
TEXT ·%[1]s(SB), NOSPLIT, $0-48
`, name)
	g.l("MOVQ w+8(FP), SI")
	g.l("MOVQ ldw+16(FP), BX")
	g.l("SHLQ $2, BX                   // BX = weight row stride in bytes")
	g.rowBases()
	g.l("MOVQ xt+24(FP), DI")
	g.l("MOVQ ldp+32(FP), DX")
	g.l("SHLQ $2, DX                   // DX = panel stride in bytes")
	g.l("MOVQ k+40(FP), CX")
	for j := range 24 {
		g.l("VXORPS Z%d, Z%d, Z%d", j, j, j)
	}
	step := func(u int) {
		xa, xb := 24+2*(u%2), 25+2*(u%2)
		g.l("VMOVUPS %d(DI), Z%d          // x[k+%d], panel 0", 64*u, xa, u)
		g.l("VMOVUPS %d(DI)(DX*1), Z%d    // panel 1", 64*u, xb)
		for j := range 12 {
			bc := 28 + j%4
			g.l("VBROADCASTSS %s, Z%d", rowAddr(j, 4*u), bc)
			g.l("VFMADD231PS Z%d, Z%d, Z%d", bc, xa, 2*j)
			g.l("VFMADD231PS Z%d, Z%d, Z%d", bc, xb, 2*j+1)
		}
	}
	g.label(name + "_loop4")
	g.l("CMPQ CX, $4")
	g.l("JLT  %s_loop1", name)
	for u := range 4 {
		step(u)
	}
	for _, b := range []string{"SI", "R8", "R9", "R10"} {
		g.l("ADDQ $16, %s", b)
	}
	g.l("ADDQ $256, DI")
	g.l("SUBQ $4, CX")
	g.l("JMP  %s_loop4", name)
	g.label(name + "_loop1")
	g.l("TESTQ CX, CX")
	g.l("JZ   %s_store", name)
	step(0)
	for _, b := range []string{"SI", "R8", "R9", "R10"} {
		g.l("ADDQ $4, %s", b)
	}
	g.l("ADDQ $64, DI")
	g.l("DECQ CX")
	g.l("JMP  %s_loop1", name)
	g.label(name + "_store")
	g.l("MOVQ dst+0(FP), DX")
	for j := range 24 {
		g.l("VMOVUPS Z%d, %d(DX)", j, 64*j)
	}
	g.l("VZEROUPPER")
	g.l("RET")
}

// vnni writes vnni12x{P}Q8AVX512: 12 int8 weight rows against P rows of
// x quantised to unsigned bytes and packed by groups of 4 columns
// ([K/4][16][4], see packXQ). Per block of 32 columns, 12 int32
// accumulators (Z12..Z23) take 8 VPDPBUSDs each (4 bytes of w[j]
// broadcast against the panel's 4 columns), then are converted and
// added, times the block's scale, into 12 float32 accumulators (Z0..Z11).
func (g *gen) vnni(p int) {
	r := "Y"
	if p == 16 {
		r = "Z"
	}
	name := fmt.Sprintf("vnni12x%dQ8AVX512", p)
	fmt.Fprintf(g, `
// func %[1]s(dst *float32, w *int8, ldw int, s *float32, lds int, xq *byte, kb int, pf *int8)
//
//	for j := range 12 { for i := range %[2]d {                     // kb >= 0 blocks of 32
//		dst[j*%[2]d+i] = Σ_{b<kb} s[j*lds+b] · Σ_{kk<32} int32(w[j*ldw+32b+kk]) · int32(xq[(8b+kk/4)*64 + 4i + kk%%4])
//	}}
//
// Each block prefetches every row pfAhead bytes ahead, and 6 cache lines
// from pf on (the next group: 384·kb bytes in all; nil: none).
TEXT ·%[1]s(SB), NOSPLIT, $0-64
`, name, p)
	g.l("MOVQ w+8(FP), SI")
	g.l("MOVQ ldw+16(FP), BX           // BX = weight row stride in bytes")
	g.rowBases()
	g.l("MOVQ s+24(FP), R11")
	g.l("MOVQ lds+32(FP), DX")
	g.l("SHLQ $2, DX                   // DX = scale row stride in bytes")
	g.l("LEAQ (R11)(DX*2), R12")
	g.l("ADDQ DX, R12                  // R12 = scale row 3")
	g.l("LEAQ (R12)(DX*2), R13")
	g.l("ADDQ DX, R13                  // R13 = scale row 6")
	g.l("LEAQ (R13)(DX*2), R14")
	g.l("ADDQ DX, R14                  // R14 = scale row 9")
	g.l("MOVQ xq+40(FP), DI")
	g.l("MOVQ kb+48(FP), CX")
	g.l("MOVQ pf+56(FP), AX             // the next group, or nil")
	g.l("MOVQ $384, R15                 // its advance per block (0 for nil)")
	g.l("TESTQ AX, AX")
	g.l("JNZ  %s_pf", name)
	g.l("MOVQ SI, AX                    // nil: the group's own first lines, standing still")
	g.l("XORQ R15, R15")
	g.label(name + "_pf")
	for j := range 12 {
		g.l("VXORPS %s%d, %s%d, %s%d", r, j, r, j, r, j)
	}
	g.l("TESTQ CX, CX")
	g.l("JZ   %s_store", name)
	g.label(name + "_block")
	for j := range 12 {
		g.l("VPXORD %s%d, %s%d, %s%d", r, 12+j, r, 12+j, r, 12+j)
		g.l("PREFETCHT0 %s", rowAddr(j, pfAhead))
	}
	for q := range 6 {
		g.l("PREFETCHT0 %d(AX)", 64*q)
	}
	for q := range 8 {
		x := fmt.Sprintf("%s%d", r, 24+q%2)
		g.l("VMOVDQU32 %d(DI), %s        // x columns 4q..4q+3 of the block, every row", 64*q, x)
		for j := range 12 {
			g.l("VPDPBUSD.BCST %s, %s, %s%d", rowAddr(j, 4*q), x, r, 12+j)
		}
	}
	for j := range 12 {
		g.l("VCVTDQ2PS %s%d, %s%d", r, 12+j, r, 12+j)
		g.l("VFMADD231PS.BCST %s, %s%d, %s%d", rowAddrIn(sBases, "DX", j, 0), r, 12+j, r, j)
	}
	for _, b := range wBases {
		g.l("ADDQ $32, %s", b)
	}
	for _, b := range sBases {
		g.l("ADDQ $4, %s", b)
	}
	g.l("ADDQ R15, AX")
	g.l("ADDQ $512, DI")
	g.l("DECQ CX")
	g.l("JNZ  %s_block", name)
	g.label(name + "_store")
	g.l("MOVQ dst+0(FP), DX")
	for j := range 12 {
		g.l("VMOVUPS %s%d, %d(DX)", r, j, 4*p*j)
	}
	g.l("VZEROUPPER")
	g.l("RET")
}

// storeT writes storeTile12AVX512, the store of every 12-row tile.
func (g *gen) storeT() {
	g.raw(`
// func storeTile12AVX512(out *float32, ldo int, tile *float32, lanes int, nn int, rows int, alpha *float32, beta *[16]float32, bias *[16]float32, acc int)
//
//	for i := range nn { for j := range rows {
//		v := alpha[i]·(tile[j*lanes+i] + beta[j]) + bias[j]
//		out[i*ldo+j] = v (+ out[i*ldo+j] if acc != 0)
//	}}
//
// Row i of the result is gathered from the tile's lane i (the tile is
// by weight row) and stored under a mask of rows lanes.
TEXT ·storeTile12AVX512(SB), NOSPLIT, $0-80
	MOVQ out+0(FP), DI
	MOVQ ldo+8(FP), BX
	SHLQ $2, BX                   // BX = out row stride in bytes
	MOVQ tile+16(FP), SI
	MOVQ lanes+24(FP), AX
	SHLQ $2, AX                   // AX = tile row stride in bytes
	MOVQ nn+32(FP), CX
	MOVQ rows+40(FP), DX
	MOVQ $1, R8
	SHLXQ DX, R8, R8
	DECQ R8                       // R8 = (1 << rows) - 1
	KMOVW R8, K2                  // K2: the rows stored
	MOVQ alpha+48(FP), R9
	MOVQ beta+56(FP), R10
	VMOVUPS (R10), Z4             // beta[0:16]
	MOVQ bias+64(FP), R10
	VMOVUPS (R10), Z5             // bias[0:16]
	VPBROADCASTD AX, Z1
	VPMULLD st_iota<>(SB), Z1, Z1 // Z1 = byte offsets j*lanes*4 of lane 0
	MOVQ acc+72(FP), R11
	TESTQ CX, CX
	JZ   st_done

st_row:
	KMOVW K2, K1
	VXORPS Z0, Z0, Z0
	VGATHERDPS (SI)(Z1*1), K1, Z0 // Z0[j] = tile[j*lanes + i]
	VADDPS Z4, Z0, Z0             // + beta
	VBROADCASTSS (R9), Z2
	VFMADD213PS Z5, Z2, Z0        // alpha[i]·v + bias
	TESTQ R11, R11
	JZ   st_set
	VMOVUPS.Z (DI), K2, Z3
	VADDPS Z3, Z0, Z0             // + out[i][0:rows]

st_set:
	VMOVUPS Z0, K2, (DI)
	ADDQ $4, SI                   // lane i+1
	ADDQ $4, R9
	ADDQ BX, DI
	DECQ CX
	JNZ  st_row

st_done:
	VZEROUPPER
	RET

DATA st_iota<>+0(SB)/4, $0
DATA st_iota<>+4(SB)/4, $1
DATA st_iota<>+8(SB)/4, $2
DATA st_iota<>+12(SB)/4, $3
DATA st_iota<>+16(SB)/4, $4
DATA st_iota<>+20(SB)/4, $5
DATA st_iota<>+24(SB)/4, $6
DATA st_iota<>+28(SB)/4, $7
DATA st_iota<>+32(SB)/4, $8
DATA st_iota<>+36(SB)/4, $9
DATA st_iota<>+40(SB)/4, $10
DATA st_iota<>+44(SB)/4, $11
DATA st_iota<>+48(SB)/4, $12
DATA st_iota<>+52(SB)/4, $13
DATA st_iota<>+56(SB)/4, $14
DATA st_iota<>+60(SB)/4, $15
GLOBL st_iota<>(SB), RODATA|NOPTR, $64
`)
}

// quant writes quantPackRowAVX512 and, from the same text, quantRowAVX512
// (contiguous bytes, for the GEMV).
func (g *gen) quant() {
	packed := g.quantText()
	g.raw(packed)
	flat := strings.NewReplacer(
		"quantPackRowAVX512", "quantRowAVX512",
		"dst[(j/4)*64 + j%4]", "dst[j]",
		"packed by groups of 4 columns, 64 bytes apart (a panel of\n// packXQ)", "stored contiguously (x of the GEMV)",
		"q_", "qf_",
		"\tVMOVD X1, (DI)                // columns j..j+3\n\tVPEXTRD $1, X1, 64(DI)\n\tVPEXTRD $2, X1, 128(DI)\n\tVPEXTRD $3, X1, 192(DI)\n", "\tVMOVDQU X1, (DI)              // columns j..j+15\n",
		"ADDQ $256, DI", "ADDQ $16, DI",
	).Replace(packed)
	g.raw(flat)
}

func (g *gen) quantText() string {
	return (`
// func quantPackRowAVX512(dst *byte, src *float32, k int) float32
//
//	amax := max_j |src[j]|; s := amax/127 (0 if amax is 0)
//	for j := range k {                                        // k a multiple of 16
//		dst[(j/4)*64 + j%4] = byte(int8(roundEven(src[j]/s))) ^ 0x80
//	}
//	return s
//
// One row of x quantised (symmetric, per row) to unsigned bytes offset
// by 128 and packed by groups of 4 columns, 64 bytes apart (a panel of
// packXQ). Division by s is multiplication by 127/amax; VCVTPS2DQ rounds
// to nearest even.
TEXT ·quantPackRowAVX512(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ k+16(FP), CX
	SHRQ $4, CX                   // CX = 16-value steps
	VXORPS Z0, Z0, Z0             // Z0 = running max |x|
	MOVQ SI, R8
	MOVQ CX, R9

q_max:
	VMOVUPS (R8), Z1
	VPANDD.BCST q_abs<>(SB), Z1, Z1 // |x|
	VMAXPS Z1, Z0, Z0
	ADDQ $64, R8
	DECQ R9
	JNZ  q_max
	VEXTRACTF32X8 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXPS X1, X0, X0             // X0[0] = amax
	VXORPS X2, X2, X2
	VUCOMISS X2, X0
	JNE  q_scale
	MOVL $0, ret+24(FP)           // all zero: every byte 0x80, scale 0
	VXORPS Z3, Z3, Z3
	JMP  q_pack

q_scale:
	MOVL $0x42FE0000, AX          // 127.0
	VMOVD AX, X1
	VDIVSS X1, X0, X2             // s = amax/127
	MOVSS X2, ret+24(FP)
	VDIVSS X0, X1, X3             // 127/amax
	VBROADCASTSS X3, Z3

q_pack:
	VPBROADCASTD q_x80<>(SB), X4  // 0x80 in every byte

q_loop:
	VMULPS (SI), Z3, Z1
	VCVTPS2DQ Z1, Z1              // round to nearest even
	VPMOVDB Z1, X1                // 16 int8 (|v| <= 127)
	VPXORD X4, X1, X1             // + 128 as unsigned
	VMOVD X1, (DI)                // columns j..j+3
	VPEXTRD $1, X1, 64(DI)
	VPEXTRD $2, X1, 128(DI)
	VPEXTRD $3, X1, 192(DI)
	ADDQ $64, SI
	ADDQ $256, DI
	DECQ CX
	JNZ  q_loop
	VZEROUPPER
	RET

DATA q_abs<>+0(SB)/4, $0x7fffffff
GLOBL q_abs<>(SB), RODATA|NOPTR, $4
DATA q_x80<>+0(SB)/4, $0x80808080
GLOBL q_x80<>(SB), RODATA|NOPTR, $4
`)
}

// gemvQ8 writes gemvRowsQ8VNNIAVX512.
func (g *gen) gemvQ8() {
	g.raw(`
// func gemvRowsQ8VNNIAVX512(out *float32, q *int8, s *float32, xq *byte, k, rows int)
//
//	for i := range rows {                                  // k a multiple of 32
//		out[i] = Σ_{b<k/32} s[i*k/32+b] · Σ_{j<32} int32(q[i*k+32b+j]) · int32(xq[32b+j])
//	}
//
// The int8 GEMV with VNNI: xq is x quantised to unsigned bytes (x + 128,
// quantRow); each VPDPBUSD multiplies 64 weights with 64 bytes of x into
// 16 int32 sums, lanes 0..7 block b and 8..15 block b+1, which are
// converted and multiplied by [s_b ×8, s_(b+1) ×8] into float32 sums.
// Weights and scales are each one sequential stream.
TEXT ·gemvRowsQ8VNNIAVX512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ q+8(FP), SI
	MOVQ s+16(FP), BX
	MOVQ xq+24(FP), DI
	MOVQ k+32(FP), CX             // row bytes
	MOVQ rows+40(FP), R8
	VMOVDQU32 gq_perm<>(SB), Z31  // lanes 0..7 take scale 0, 8..15 scale 1
	MOVQ CX, R9
	ANDQ $-128, R9                // R9 = bytes covered by 128-wide steps
	MOVQ CX, R11
	ANDQ $-64, R11                // R11 = bytes covered by 64-wide steps
	TESTQ R8, R8
	JZ   gq_done

gq_row:
	VXORPS Z0, Z0, Z0             // float32 sums, two chains
	VXORPS Z1, Z1, Z1
	VXORPS Y5, Y5, Y5             // the last 32-byte block
	XORQ R10, R10

gq_loop128:
	CMPQ R10, R9
	JGE  gq_loop64
	VMOVDQU8 (DI)(R10*1), Z4      // x bytes j..j+63
	VMOVDQU8 64(DI)(R10*1), Z8
	VPXORD Z2, Z2, Z2
	VPXORD Z6, Z6, Z6
	VPDPBUSD (SI)(R10*1), Z4, Z2  // int32 sums of 4 products, blocks b, b+1
	VPDPBUSD 64(SI)(R10*1), Z8, Z6
	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS Z6, Z6
	VMOVQ (BX), X3                // s_b, s_(b+1)
	VMOVQ 8(BX), X7
	VPERMPS Z3, Z31, Z3
	VPERMPS Z7, Z31, Z7
	VFMADD231PS Z3, Z2, Z0
	VFMADD231PS Z7, Z6, Z1
	ADDQ $128, R10
	ADDQ $16, BX
	JMP  gq_loop128

gq_loop64:
	CMPQ R10, R11
	JGE  gq_tail
	VMOVDQU8 (DI)(R10*1), Z4
	VPXORD Z2, Z2, Z2
	VPDPBUSD (SI)(R10*1), Z4, Z2
	VCVTDQ2PS Z2, Z2
	VMOVQ (BX), X3
	VPERMPS Z3, Z31, Z3
	VFMADD231PS Z3, Z2, Z0
	ADDQ $64, R10
	ADDQ $8, BX

gq_tail:
	CMPQ R10, CX
	JGE  gq_sum
	VMOVDQU (DI)(R10*1), Y4       // one block of 32
	VPXORD Y2, Y2, Y2
	VPDPBUSD (SI)(R10*1), Y4, Y2
	VCVTDQ2PS Y2, Y2
	VBROADCASTSS (BX), Y3
	VFMADD231PS Y3, Y2, Y5
	ADDQ $32, R10
	ADDQ $4, BX

gq_sum:
	VADDPS Z1, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VADDPS Y5, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, (DX)                // out[i]
	ADDQ $4, DX
	ADDQ CX, SI                   // next row
	DECQ R8
	JNZ  gq_row

gq_done:
	VZEROUPPER
	RET

DATA gq_perm<>+0(SB)/8, $0
DATA gq_perm<>+8(SB)/8, $0
DATA gq_perm<>+16(SB)/8, $0
DATA gq_perm<>+24(SB)/8, $0
DATA gq_perm<>+32(SB)/8, $0x0000000100000001
DATA gq_perm<>+40(SB)/8, $0x0000000100000001
DATA gq_perm<>+48(SB)/8, $0x0000000100000001
DATA gq_perm<>+56(SB)/8, $0x0000000100000001
GLOBL gq_perm<>(SB), RODATA|NOPTR, $64
`)
}

// Registers of the vector expf: constants in Z16..Z29 (flashConsts).
const (
	zLo, zHi, zLog2e, zLn2hi, zLn2lo, zOne, z127 = "Z16", "Z17", "Z18", "Z19", "Z20", "Z21", "Z22"
)

// zPoly are the Cephes expf coefficients, highest first, in Z23..Z28.
var zPoly = [6]string{"Z23", "Z24", "Z25", "Z26", "Z27", "Z28"}

// flashConsts loads the constants of exp into Z16..Z28.
func (g *gen) flashConsts() {
	for _, c := range []struct {
		reg  string
		bits uint32
		what string
	}{
		{zLo, 0xc2ae0000, "-87: e^x stays a normal float32"},
		{zHi, 0x42b00000, "88: 2^n stays finite"},
		{zLog2e, 0x3fb8aa3b, "log2(e)"},
		{zLn2hi, 0x3f318000, "ln2 = ln2hi + ln2lo"},
		{zLn2lo, 0xb95e8083, ""},
		{zOne, 0x3f800000, "1.0"},
		{z127, 127, "exponent bias (int32)"},
		{zPoly[0], 0x39506967, "1.9875691500e-4"},
		{zPoly[1], 0x3ab743ce, "1.3981999507e-3"},
		{zPoly[2], 0x3c088908, "8.3334519073e-3"},
		{zPoly[3], 0x3d2aa9c1, "4.1665795894e-2"},
		{zPoly[4], 0x3e2aaaaa, "1.6666665459e-1"},
		{zPoly[5], 0x3f000000, "5.0000001201e-1"},
	} {
		g.l("MOVL $0x%08x, AX", c.bits)
		g.l("VPBROADCASTD AX, %s          // %s", c.reg, c.what)
	}
}

// exp writes e = expf(t) for 16 lanes, as expSubAVX2 computes it
// (clobbers t, f, p).
func (g *gen) exp(t, f, p, e string) {
	g.l("VMAXPS %s, %s, %s              // clamp t to [-87, 88]", zLo, t, t)
	g.l("VMINPS %s, %s, %s", zHi, t, t)
	g.l("VMULPS %s, %s, %s", zLog2e, t, f)
	g.l("VRNDSCALEPS $0, %s, %s          // f = round(t·log2e)", f, f)
	g.l("VFNMADD231PS %s, %s, %s        // r = t - f·ln2", f, zLn2hi, t)
	g.l("VFNMADD231PS %s, %s, %s", f, zLn2lo, t)
	g.l("VMOVAPS %s, %s", zPoly[0], p)
	for _, c := range zPoly[1:] {
		g.l("VFMADD213PS %s, %s, %s        // p = p·r + c", c, t, p)
	}
	g.l("VMULPS %s, %s, %s              // r²", t, t, e)
	g.l("VFMADD213PS %s, %s, %s        // p·r² + r", t, e, p)
	g.l("VADDPS %s, %s, %s              // e^r", zOne, p, p)
	g.l("VCVTPS2DQ %s, %s", f, f)
	g.l("VPADDD %s, %s, %s", z127, f, f)
	g.l("VPSLLD $23, %s, %s              // 2^f", f, f)
	g.l("VMULPS %s, %s, %s              // e^t", f, p, e)
}

// flashSoftmax writes flashSoftmax16AVX512, the online-softmax step of
// a tile of scores (keys in rows, 16 query rows in the lanes).
func (g *gen) flashSoftmax() {
	g.raw(`
// func flashSoftmax16AVX512(s *float32, nk int, st *[48]float32)
//
//	m, l, corr := st[0:16], st[16:32], st[32:48]
//	for i := range 16 {                                       // nk >= 1
//		mNew := max(m[i], max_{j<nk} s[j*16+i])
//		corr[i] = expf(m[i] - mNew)
//		for j := range nk { s[j*16+i] = expf(s[j*16+i] - mNew) }
//		l[i] = l[i]·corr[i] + Σ_j s[j*16+i]
//		m[i] = mNew
//	}
//
// expf as in expSubAVX2 (arguments clamped to [-87, 88]).
TEXT ·flashSoftmax16AVX512(SB), NOSPLIT, $0-24
	MOVQ s+0(FP), DI
	MOVQ nk+8(FP), CX
	MOVQ st+16(FP), SI
`)
	g.flashConsts()
	g.l("VMOVUPS (SI), Z2               // m")
	g.l("VMOVUPS 64(SI), Z1             // l")
	g.l("VMOVAPS Z2, Z0")
	g.l("MOVQ DI, R8")
	g.l("MOVQ CX, R9")
	g.label("fs_max")
	g.l("VMAXPS (R8), Z0, Z0            // mNew = max(m, s[j])")
	g.l("ADDQ $64, R8")
	g.l("DECQ R9")
	g.l("JNZ  fs_max")
	g.l("VSUBPS Z0, Z2, Z5")
	g.exp("Z5", "Z6", "Z7", "Z4")
	g.l("VXORPS Z3, Z3, Z3              // Σ_j e^(s - mNew)")
	g.label("fs_exp")
	g.l("VMOVUPS (DI), Z5")
	g.l("VSUBPS Z0, Z5, Z5")
	g.exp("Z5", "Z6", "Z7", "Z8")
	g.l("VMOVUPS Z8, (DI)")
	g.l("VADDPS Z8, Z3, Z3")
	g.l("ADDQ $64, DI")
	g.l("DECQ CX")
	g.l("JNZ  fs_exp")
	g.l("VFMADD213PS Z3, Z4, Z1         // l = l·corr + Σ")
	g.l("VMOVUPS Z0, (SI)")
	g.l("VMOVUPS Z1, 64(SI)")
	g.l("VMOVUPS Z4, 128(SI)")
	g.l("VZEROUPPER")
	g.l("RET")
}

// pv writes pv{r}x64AVX512: r query rows of the output (64 values, 4 Z
// registers each) rescaled, plus probabilities times value rows.
func (g *gen) pv(r int) {
	name := fmt.Sprintf("pv%dx64AVX512", r)
	fmt.Fprintf(g, `
// func %[1]s(o *float32, ldo int, p *float32, v *float32, ldv int, nk int, corr *float32)
//
//	for i := range %[2]d {                                          // nk >= 0
//		for d := range 64 { o[i*ldo+d] = corr[i]·o[i*ldo+d] + Σ_{j<nk} p[j*16+i]·v[j*ldv+d] }
//	}
//
// Accumulators Z(4i)..Z(4i+3) hold output row i; each key's value row is
// loaded once (4 registers) for the %[2]d rows' broadcast probabilities.
TEXT ·%[1]s(SB), NOSPLIT, $0-56
`, name, r)
	g.l("MOVQ o+0(FP), DI")
	g.l("MOVQ ldo+8(FP), BX")
	g.l("SHLQ $2, BX")
	g.l("MOVQ p+16(FP), SI")
	g.l("MOVQ v+24(FP), DX")
	g.l("MOVQ ldv+32(FP), R8")
	g.l("SHLQ $2, R8")
	g.l("MOVQ nk+40(FP), CX")
	g.l("MOVQ corr+48(FP), R9")
	g.l("MOVQ DI, R10")
	for i := range r {
		g.l("VBROADCASTSS %d(R9), Z28", 4*i)
		for c := range 4 {
			g.l("VMULPS %d(R10), Z28, Z%d", 64*c, 4*i+c)
		}
		if i < r-1 {
			g.l("ADDQ BX, R10")
		}
	}
	g.l("TESTQ CX, CX")
	g.l("JZ   %s_store", name)
	g.label(name + "_loop")
	for c := range 4 {
		g.l("VMOVUPS %d(DX), Z%d", 64*c, 24+c)
	}
	for i := range r {
		b := 28 + i%2
		g.l("VBROADCASTSS %d(SI), Z%d", 4*i, b)
		for c := range 4 {
			g.l("VFMADD231PS Z%d, Z%d, Z%d", b, 24+c, 4*i+c)
		}
	}
	g.l("ADDQ $64, SI")
	g.l("ADDQ R8, DX")
	g.l("DECQ CX")
	g.l("JNZ  %s_loop", name)
	g.label(name + "_store")
	g.l("MOVQ DI, R10")
	for i := range r {
		for c := range 4 {
			g.l("VMOVUPS Z%d, %d(R10)", 4*i+c, 64*c)
		}
		if i < r-1 {
			g.l("ADDQ BX, R10")
		}
	}
	g.l("VZEROUPPER")
	g.l("RET")
}

// dotTiles writes dotTiles3x8F32AVX512 or dotTiles3x8F16AVX512: the
// dot-product tile of 3 weight rows (float16 rows widened by VCVTPH2PS as
// they are loaded) against 8 rows of x, 16 columns at a time, over a run
// of tiles. The tile's 3 rows are lds elements apart and each tile takes
// the next row of each, so a run of t tiles reads three stretches of t
// consecutive rows: three long sequential streams, which the hardware
// prefetchers follow, with each prefetched dotPfAhead bytes ahead in
// software as well. Z0..Z23 accumulate (j*8+i); each weight row's 8 sums
// are reduced across lanes together (halves folded, then a VHADDPS tree),
// the bias added, and scattered into out's rows under a mask of n rows:
// no Go between tiles.
func (g *gen) dotTiles(f16 bool) {
	name, wt, load, shift, step, pf := "dotTiles3x8F32AVX512", "float32", "VMOVUPS", 2, 64, dotPfAhead
	elem := "w[j*lds+t*k+kk]"
	if f16 {
		name, wt, load, shift, step, pf = "dotTiles3x8F16AVX512", "uint16", "VCVTPH2PS", 1, 32, dotPfAheadF16
		elem = "HalfToFloat(w[j*lds+t*k+kk])"
	}
	fmt.Fprintf(g, `
// func %[1]s(out *float32, ldo, ls int, w *%[2]s, lds int, x *float32, k, tiles int, bias *float32, mask int)
//
//	for t := range tiles { for j := range 3 { for i := range 8 {  // k a multiple of 16, >= 16; tiles >= 1
//		if mask&(1<<i) != 0 {
//			out[i*ldo+j*ls+t] = Σ_{kk<k} %[3]s · x[i*k+kk] + (bias[j*ls+t] if bias != nil)
//		}
//	}}}
//
// 16 columns of each weight row in Z24..Z26, each row of x loaded once
// (Z27, Z28) for the three weight rows: W is read once, in place. With
// lds = ls = 0 the three rows are one, read thrice and stored thrice.
TEXT ·%[1]s(SB), NOSPLIT, $0-80
`, name, wt, elem)
	g.l("MOVQ out+0(FP), AX")
	g.l("MOVQ ldo+8(FP), CX")
	g.l("VPBROADCASTD CX, Y30")
	g.l("VPMULLD st_iota<>(SB), Y30, Y30 // out's row offsets: i*ldo")
	g.l("MOVQ ls+16(FP), R12")
	g.l("SHLQ $2, R12                  // out's stream stride in bytes")
	g.l("MOVQ w+24(FP), R15")
	g.l("MOVQ lds+32(FP), BX")
	g.l("SHLQ $%d, BX                   // weight stream stride in bytes", shift)
	g.l("MOVQ k+48(FP), R8")
	g.l("SHLQ $2, R8                   // x row stride in bytes")
	g.l("LEAQ (R8)(R8*2), R9           // 3 rows")
	g.l("LEAQ (R8)(R8*4), R10          // 5 rows")
	g.l("LEAQ (R9)(R8*4), R11          // 7 rows")
	g.l("MOVQ tiles+56(FP), R14")
	g.l("MOVQ bias+64(FP), DX")
	g.label(name + "_tile")
	g.l("MOVQ R15, SI")
	g.l("MOVQ x+40(FP), DI")
	g.l("MOVQ k+48(FP), CX")
	g.l("SHRQ $4, CX                   // chunks of 16")
	for i := range 24 {
		g.l("VXORPS Z%d, Z%d, Z%d", i, i, i)
	}
	g.label(name + "_loop")
	g.l("%s (SI), Z24", load)
	g.l("%s (SI)(BX*1), Z25", load)
	g.l("%s (SI)(BX*2), Z26", load)
	// A cache line of each stream per chunk (float16 rows advance half a
	// line per chunk: every line twice).
	g.l("PREFETCHT0 %d(SI)", pf)
	g.l("PREFETCHT0 %d(SI)(BX*1)", pf)
	g.l("PREFETCHT0 %d(SI)(BX*2)", pf)
	xrow := [8]string{"(DI)", "(DI)(R8*1)", "(DI)(R8*2)", "(DI)(R9*1)", "(DI)(R8*4)", "(DI)(R10*1)", "(DI)(R9*2)", "(DI)(R11*1)"}
	for i, a := range xrow {
		x := 27 + i%2
		g.l("VMOVUPS %s, Z%d", a, x)
		for j := range 3 {
			g.l("VFMADD231PS Z%d, Z%d, Z%d", x, 24+j, 8*j+i)
		}
	}
	g.l("ADDQ $%d, SI", step)
	g.l("ADDQ $64, DI")
	g.l("DECQ CX")
	g.l("JNZ  %s_loop", name)
	// Reduce: fold each accumulator's halves into Y0..Y7 (VHADDPS and
	// VPERM2F128 have no EVEX form, so the tree runs in Y0..Y15), then
	// q0123 = [Σ lanes 0-3 of rows 0..3 | Σ lanes 4-7], q4567 likewise,
	// and the row's 8 sums are q's low halves plus their high halves.
	// Stream j's sums go to out + j*ls (SI) with bias + j*ls (R13).
	g.l("MOVQ AX, SI")
	g.l("MOVQ DX, R13")
	for j := range 3 {
		b := 8 * j
		if j == 2 {
			b = 0 // Y0..Y7 are free again
		}
		for i := range 8 {
			g.l("VEXTRACTF64X4 $1, Z%d, Y29", 8*j+i)
			g.l("VADDPS Y29, Y%d, Y%d", 8*j+i, b+i)
		}
		g.l("VHADDPS Y%d, Y%d, Y%d", b+1, b, b)
		g.l("VHADDPS Y%d, Y%d, Y%d", b+3, b+2, b+2)
		g.l("VHADDPS Y%d, Y%d, Y%d", b+2, b, b)
		g.l("VHADDPS Y%d, Y%d, Y%d", b+5, b+4, b+4)
		g.l("VHADDPS Y%d, Y%d, Y%d", b+7, b+6, b+6)
		g.l("VHADDPS Y%d, Y%d, Y%d", b+6, b+4, b+4)
		g.l("VPERM2F128 $0x20, Y%d, Y%d, Y%d", b+4, b, b+1)
		g.l("VPERM2F128 $0x31, Y%d, Y%d, Y%d", b+4, b, b+2)
		g.l("VADDPS Y%d, Y%d, Y%d", b+2, b+1, b+1)
		if j > 0 {
			g.l("ADDQ R12, SI")
			g.l("ADDQ R12, R13")
		}
		g.l("TESTQ DX, DX")
		g.l("JZ   %s_nobias%d", name, j)
		g.l("VBROADCASTSS (R13), Y27")
		g.l("VADDPS Y27, Y%d, Y%d", b+1, b+1)
		g.label(fmt.Sprintf("%s_nobias%d", name, j))
		g.l("MOVQ mask+72(FP), CX")
		g.l("KMOVB CX, K1                  // the scatter clears it")
		g.l("VSCATTERDPS Y%d, K1, (SI)(Y30*4)", b+1)
	}
	g.l("ADDQ $4, AX")
	g.l("TESTQ DX, DX")
	g.l("JZ   %s_next", name)
	g.l("ADDQ $4, DX")
	g.label(name + "_next")
	if f16 {
		g.l("MOVQ R8, CX")
		g.l("SHRQ $1, CX")
		g.l("ADDQ CX, R15                  // the next row of each stream")
	} else {
		g.l("ADDQ R8, R15                  // the next row of each stream")
	}
	g.l("DECQ R14")
	g.l("JNZ  %s_tile", name)
	g.l("VZEROUPPER")
	g.l("RET")
}

// panel writes panel48x{r}F32AVX512 or panel48x{r}F16AVX512: r rows of x
// against strips of 48 weight rows stored column by column (see
// tensor.PackForLinear), so each step of k loads 48 consecutive weights
// (Z24..Z26: 192 bytes, or 96 bytes of halves widened by VCVTPH2PS) and
// broadcasts one element of each row of x (Z27/Z28): 3r FMAs, r
// broadcasts and 3 loads, accumulating in Z0..Z(3r-1) (stripe j of row i
// in Z(j*r+i)). The accumulators are the outputs themselves: no sums
// across lanes, and each output sums k in order, for every r. Steps of k
// go two at a time, each cache line prefetched panelPfAhead (float16:
// panelPfAheadF16) bytes ahead: the strips of a call are one sequential
// stream.
func (g *gen) panel(r int, f16 bool) {
	name, wt, load, esz := fmt.Sprintf("panel48x%dF32AVX512", r), "float32", "VMOVUPS", 4
	elem := "x[i*k+kk] · p[s*k*48+kk*48+c]"
	if f16 {
		name, wt, load, esz = fmt.Sprintf("panel48x%dF16AVX512", r), "uint16", "VCVTPH2PS", 2
		elem = "x[i*k+kk] · HalfToFloat(p[s*k*48+kk*48+c])"
	}
	sb := 48 * esz // bytes of weights per step of k
	ahead := panelPfAhead
	if f16 {
		ahead = panelPfAheadF16
	}
	fmt.Fprintf(g, `
// func %[1]s(out *float32, ldo int, p *%[4]s, k int, x *float32, strips int, bias *float32)
//
//	for s := range strips { for i := range %[2]d { for c := range 48 {  // k >= 1, strips >= 1
//		out[i*ldo+s*48+c] = Σ_{kk<k} %[3]s + (bias[s*48+c] if bias != nil)
//	}}}
TEXT ·%[1]s(SB), NOSPLIT, $0-56
`, name, r, elem, wt)
	g.l("MOVQ out+0(FP), AX")
	g.l("MOVQ ldo+8(FP), R12")
	g.l("SHLQ $2, R12                  // out's row stride in bytes")
	g.l("MOVQ p+16(FP), SI")
	g.l("MOVQ k+24(FP), R8")
	g.l("SHLQ $2, R8                   // x row stride in bytes")
	g.l("LEAQ (R8)(R8*2), R9           // 3 rows")
	g.l("LEAQ (R8)(R8*4), R10          // 5 rows")
	g.l("LEAQ (R9)(R8*4), R11          // 7 rows")
	g.l("MOVQ strips+40(FP), R14")
	g.l("MOVQ bias+48(FP), DX")
	xrow := [8]string{"(DI)", "(DI)(R8*1)", "(DI)(R8*2)", "(DI)(R9*1)", "(DI)(R8*4)", "(DI)(R10*1)", "(DI)(R9*2)", "(DI)(R11*1)"}
	step := func(u int, prefetch bool) { // one k: weights at sb·u(SI), x at 4u(DI)
		for j := range 3 {
			g.l("%s %d(SI), Z%d", load, sb*u+16*esz*j, 24+j)
		}
		// The lines this step starts: all its lines for float32; for
		// halves, one line in the first step of a pair, two in the second.
		if prefetch {
			for off := (sb*u + 63) &^ 63; off < sb*(u+1); off += 64 {
				g.l("PREFETCHT0 %d(SI)", ahead+off)
			}
		}
		for i := range r {
			x := 27 + i%2
			a := xrow[i]
			if u > 0 {
				a = fmt.Sprintf("%d%s", 4*u, a)
			}
			g.l("VBROADCASTSS %s, Z%d", a, x)
			for j := range 3 {
				g.l("VFMADD231PS Z%d, Z%d, Z%d", x, 24+j, j*r+i)
			}
		}
	}
	g.label(name + "_strip")
	g.l("MOVQ x+32(FP), DI")
	for i := range 3 * r {
		g.l("VXORPS Z%d, Z%d, Z%d", i, i, i)
	}
	g.l("MOVQ k+24(FP), CX")
	g.l("SHRQ $1, CX                   // pairs of k")
	g.l("JZ   %s_odd", name)
	g.label(name + "_loop")
	step(0, true)
	step(1, true)
	g.l("ADDQ $%d, SI", 2*sb)
	g.l("ADDQ $8, DI")
	g.l("DECQ CX")
	g.l("JNZ  %s_loop", name)
	g.label(name + "_odd")
	g.l("MOVQ k+24(FP), CX")
	g.l("ANDQ $1, CX")
	g.l("JZ   %s_bias", name)
	step(0, false)
	g.l("ADDQ $%d, SI", sb)
	g.label(name + "_bias")
	g.l("TESTQ DX, DX")
	g.l("JZ   %s_store", name)
	for j := range 3 {
		g.l("VMOVUPS %d(DX), Z%d", 64*j, 24+j)
	}
	for j := range 3 {
		for i := range r {
			g.l("VADDPS Z%d, Z%d, Z%d", 24+j, j*r+i, j*r+i)
		}
	}
	g.l("ADDQ $192, DX")
	g.label(name + "_store")
	g.l("MOVQ AX, BX")
	for i := range r {
		for j := range 3 {
			g.l("VMOVUPS Z%d, %d(BX)", j*r+i, 64*j)
		}
		if i < r-1 {
			g.l("ADDQ R12, BX")
		}
	}
	g.l("ADDQ $192, AX                 // the next strip's columns")
	g.l("DECQ R14")
	g.l("JNZ  %s_strip", name)
	g.l("VZEROUPPER")
	g.l("RET")
}

// sum writes sumAVX512: Σ x[i] through eight zmm accumulators, 512 bytes
// (eight cache lines) per iteration, each line prefetched sumPfAhead
// bytes ahead, folded at the end.
func (g *gen) sum() {
	g.raw(`
// func sumAVX512(x *float32, n int) float32
//
//	for i := range n { s += x[i] }   // n a multiple of 128, > 0; 8 × 16 lanes, folded at the end
TEXT ·sumAVX512(SB), NOSPLIT, $0-20
`)
	g.l("MOVQ x+0(FP), SI")
	g.l("MOVQ n+8(FP), CX")
	g.l("SHRQ $7, CX")
	for i := range 8 {
		g.l("VXORPS Z%d, Z%d, Z%d", i, i, i)
	}
	g.label("sumAVX512_loop")
	for i := range 8 {
		g.l("PREFETCHT0 %d(SI)", sumPfAhead+64*i)
		g.l("VADDPS %d(SI), Z%d, Z%d", 64*i, i, i)
	}
	g.l("ADDQ $512, SI")
	g.l("DECQ CX")
	g.l("JNZ  sumAVX512_loop")
	for _, p := range [][3]int{{1, 0, 0}, {3, 2, 2}, {5, 4, 4}, {7, 6, 6}, {2, 0, 0}, {6, 4, 4}, {4, 0, 0}} {
		g.l("VADDPS Z%d, Z%d, Z%d", p[0], p[1], p[2])
	}
	g.l("VEXTRACTF64X4 $1, Z0, Y1")
	g.l("VADDPS Y1, Y0, Y0")
	g.l("VEXTRACTF128 $1, Y0, X1")
	g.l("VADDPS X1, X0, X0")
	g.l("VHADDPS X0, X0, X0")
	g.l("VHADDPS X0, X0, X0")
	g.l("VZEROUPPER")
	g.l("MOVSS X0, ret+16(FP)")
	g.l("RET")
}

// prefetch writes prefetchT1: every cache line of n bytes into L2.
func (g *gen) prefetch() {
	g.raw(`
// func prefetchT1(p *byte, n int)
//
//	for off := 0; off < n; off += 64 { prefetch into L2: p[off] }   // n > 0
TEXT ·prefetchT1(SB), NOSPLIT, $0-16
`)
	g.l("MOVQ p+0(FP), SI")
	g.l("MOVQ n+8(FP), DX")
	g.l("XORQ AX, AX")
	g.label("prefetchT1_line")
	g.l("PREFETCHT1 (SI)(AX*1)")
	g.l("ADDQ $64, AX")
	g.l("CMPQ AX, DX")
	g.l("JLT  prefetchT1_line")
	g.l("RET")
}

// widenF16 writes widenF16AVX512: halves to float32, 64 per iteration
// (four zmm conversions).
func (g *gen) widenF16() {
	g.raw(`
// func widenF16AVX512(dst *float32, src *uint16, n int)
//
//	for i := range n { dst[i] = HalfToFloat(src[i]) }   // n a multiple of 64, > 0
TEXT ·widenF16AVX512(SB), NOSPLIT, $0-24
`)
	g.l("MOVQ dst+0(FP), DI")
	g.l("MOVQ src+8(FP), SI")
	g.l("MOVQ n+16(FP), CX")
	g.l("SHRQ $6, CX")
	g.label("widenF16AVX512_loop")
	for u := range 4 {
		g.l("VCVTPH2PS %d(SI), Z%d", 32*u, u)
	}
	for u := range 4 {
		g.l("VMOVUPS Z%d, %d(DI)", u, 64*u)
	}
	g.l("ADDQ $128, SI")
	g.l("ADDQ $256, DI")
	g.l("DECQ CX")
	g.l("JNZ  widenF16AVX512_loop")
	g.l("VZEROUPPER")
	g.l("RET")
}

func main() {
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()
	src := generate()
	if *out == "" {
		os.Stdout.Write(src)
		return
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// generate returns the text of linear512_amd64.s.
func generate() []byte {
	var g gen
	g.raw("// Code generated by go run ./internal/asmgen; DO NOT EDIT.\n\n//go:build gc && !purego\n\n#include \"textflag.h\"\n")
	g.outerF32(8)
	g.outerF32(16)
	g.outerF32x32()
	g.vnni(8)
	g.vnni(16)
	g.dotTiles(false)
	g.dotTiles(true)
	for _, f16 := range []bool{false, true} {
		for r := 1; r <= 8; r++ {
			g.panel(r, f16)
		}
	}
	g.sum()
	g.storeT()
	g.prefetch()
	g.widenF16()
	g.quant()
	g.gemvQ8()
	g.flashSoftmax()
	for r := 1; r <= 6; r++ {
		g.pv(r)
	}
	return g.Bytes()
}
