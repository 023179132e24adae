//go:build gc && !purego

package tensor

import "unsafe"

//go:generate go run ./internal/asmgen -o linear512_amd64.s

// outer12x8F32AVX512 is the AVX-512 register tile of Linear for panels of
// up to 8 rows of x: 12 weight rows broadcast from memory against the
// first 8 lanes of a packed panel (see packXT), results by weight row,
// each row prefetched 512 bytes ahead of its use, and 48·k bytes from pf
// on (the next group of 12 rows; nil for none) as it goes:
//
//	for j := range 12 { for i := range 8 {                     // k >= 0
//		dst[j*8+i] = Σ_{kk<k} w[j*ldw+kk] · xt[kk*16+i]
//	}}
//
//go:noescape
func outer12x8F32AVX512(dst *float32, w *float32, ldw int, xt *float32, k int, pf *float32)

// outer12x16F32AVX512 is outer12x8F32AVX512 for a whole panel of 16 rows:
//
//	for j := range 12 { for i := range 16 {                    // k >= 0
//		dst[j*16+i] = Σ_{kk<k} w[j*ldw+kk] · xt[kk*16+i]
//	}}
//
//go:noescape
func outer12x16F32AVX512(dst *float32, w *float32, ldw int, xt *float32, k int, pf *float32)

// outer12x32F32AVX512 is the tile for two panels (32 rows of x), the
// second ldp floats after the first:
//
//	for j := range 12 { for i := range 32 {                    // k >= 0
//		dst[j*32+i] = Σ_{kk<k} w[j*ldw+kk] · xt[(i/16)*ldp + kk*16 + i%16]
//	}}
//
//go:noescape
func outer12x32F32AVX512(dst *float32, w *float32, ldw int, xt *float32, ldp int, k int)

// outer12F32 computes the tile of 12 weight rows and the first p (8, 16
// or 32) rows of packed panels ldp floats apart; with 8 or 16 rows it
// prefetches pf as it goes (12·k floats: the next group of 12 rows when
// nothing will reuse this one; nil for none). See outer12F32Generic.
func outer12F32(dst, w []float32, ldw int, xt []float32, ldp, k, p int, pf []float32) {
	if !useAVX512 || k < 1 {
		outer12F32Generic(dst, w, ldw, xt, ldp, k, p)
		return
	}
	w = w[:11*ldw+k] // bounds for the assembly
	var pp *float32
	if len(pf) >= 12*k && k >= 16 {
		pp = &pf[0]
	}
	switch p {
	case 8:
		xt = xt[:16*k]
		dst = dst[:12*8]
		outer12x8F32AVX512(&dst[0], &w[0], ldw, &xt[0], k, pp)
	case 16:
		xt = xt[:16*k]
		dst = dst[:12*16]
		outer12x16F32AVX512(&dst[0], &w[0], ldw, &xt[0], k, pp)
	default:
		xt = xt[:ldp+16*k]
		dst = dst[:12*32]
		outer12x32F32AVX512(&dst[0], &w[0], ldw, &xt[0], ldp, k)
	}
}

// vnni12x8Q8AVX512 is the int8 register tile of the AVX-512 path (VNNI):
// 12 int8 weight rows, one float32 scale per block of 32, against the
// first 8 rows of a panel of x quantised to bytes (see packXQ); int32
// sums per block, float32 across blocks:
//
//	for j := range 12 { for i := range 8 {                     // kb >= 0 blocks of 32
//		dst[j*8+i] = Σ_{b<kb} s[j*lds+b] · Σ_{kk<32} int32(w[j*ldw+32b+kk]) · int32(xq[(8b+kk/4)*64 + 4i + kk%4])
//	}}
//
//go:noescape
func vnni12x8Q8AVX512(dst *float32, w *int8, ldw int, s *float32, lds int, xq *byte, kb int, pf *int8)

// vnni12x16Q8AVX512 is vnni12x8Q8AVX512 for a whole panel of 16 rows.
//
//go:noescape
func vnni12x16Q8AVX512(dst *float32, w *int8, ldw int, s *float32, lds int, xq *byte, kb int, pf *int8)

// vnni12Q8 computes the int8 tile of 12 weight rows (w and s start at
// the tile's first row and block) and the first p (8 or 16) rows of a
// quantised panel, over kb blocks, prefetching pf as it goes (384·kb
// bytes: the next group when nothing will reuse this one; nil for none);
// see vnni12Q8Generic.
func vnni12Q8(dst []float32, w []int8, ldw int, s []float32, lds int, xq []byte, kb, p int, pf []int8) {
	if !useAVX512 || kb < 1 {
		vnni12Q8Generic(dst, w, ldw, s, lds, xq, kb, p)
		return
	}
	w = w[:11*ldw+32*kb] // bounds for the assembly
	s = s[:11*lds+kb]
	xq = xq[:512*kb]
	dst = dst[:12*p]
	var pp *int8
	if len(pf) >= 384*kb {
		pp = &pf[0]
	}
	if p == 8 {
		vnni12x8Q8AVX512(&dst[0], &w[0], ldw, &s[0], lds, &xq[0], kb, pp)
		return
	}
	vnni12x16Q8AVX512(&dst[0], &w[0], ldw, &s[0], lds, &xq[0], kb, pp)
}

// widenF16AVX512 converts halves to float32, 64 at a time:
//
//	for i := range n { dst[i] = HalfToFloat(src[i]) }   // n a multiple of 64, > 0
//
//go:noescape
func widenF16AVX512(dst *float32, src *uint16, n int)

// prefetchT1 brings the n bytes at p into L2 (n > 0):
//
//	for off := 0; off < n; off += 64 { prefetch(p[off]) }
//
//go:noescape
func prefetchT1(p *byte, n int)

// prefetchF16 brings float16 weights into L2: the next group a wide tile
// widens, fetched while the current one multiplies (the hardware
// prefetcher does not run that far ahead).
func prefetchF16(w []uint16) {
	if len(w) > 0 {
		prefetchT1((*byte)(unsafe.Pointer(&w[0])), 2*len(w))
	}
}

// storeTile12AVX512 stores a 12-row tile (by weight row) into rows of out:
//
//	for i := range nn { for j := range rows {
//		v := alpha[i]·(tile[j*lanes+i] + beta[j]) + bias[j]
//		out[i*ldo+j] = v (+ out[i*ldo+j] if acc != 0)
//	}}
//
//go:noescape
func storeTile12AVX512(out *float32, ldo int, tile *float32, lanes int, nn int, rows int, alpha *float32, beta *[16]float32, bias *[16]float32, acc int)

// storeTile12 stores tile [12][lanes] into out [nn, ldo] (columns
// [0, rows)), see storeTile12Generic.
func storeTile12(out []float32, ldo int, tile []float32, lanes, nn, rows int, alpha []float32, beta, bias *[16]float32, acc bool) {
	if !useAVX512 || nn < 1 {
		storeTile12Generic(out, ldo, tile, lanes, nn, rows, alpha, beta, bias, acc)
		return
	}
	out = out[:(nn-1)*ldo+rows]
	tile = tile[:(rows-1)*lanes+nn]
	alpha = alpha[:nn]
	a := 0
	if acc {
		a = 1
	}
	storeTile12AVX512(&out[0], ldo, &tile[0], lanes, nn, rows, &alpha[0], beta, bias, a)
}

// quantPackRowAVX512 quantises one row of x into a panel of packXQ:
//
//	amax := max_j |src[j]|; s := amax/127 (0 if amax is 0)
//	for j := range k {                                        // k a multiple of 16
//		dst[(j/4)*64 + j%4] = byte(int8(roundEven(src[j]/s))) ^ 0x80
//	}
//	return s
//
//go:noescape
func quantPackRowAVX512(dst *byte, src *float32, k int) float32

func quantPackRow(dst []byte, src []float32) float32 {
	k := len(src)
	if !useAVX512 || k%16 != 0 || k == 0 {
		return quantPackRowGeneric(dst, src)
	}
	dst = dst[:(k/4-1)*64+4]
	return quantPackRowAVX512(&dst[0], &src[0], k)
}

// quantRowAVX512 is quantPackRowAVX512 with the bytes stored
// contiguously (x of the int8 GEMV):
//
//	amax := max_j |src[j]|; s := amax/127 (0 if amax is 0)
//	for j := range k { dst[j] = byte(int8(roundEven(src[j]/s))) ^ 0x80 }   // k a multiple of 16
//	return s
//
//go:noescape
func quantRowAVX512(dst *byte, src *float32, k int) float32

func quantRow(dst []byte, src []float32) float32 {
	k := len(src)
	if !useAVX512 || k%16 != 0 || k == 0 {
		return quantRowGeneric(dst, src)
	}
	dst = dst[:k]
	return quantRowAVX512(&dst[0], &src[0], k)
}

// gemvRowsQ8VNNIAVX512 is the int8 GEMV with x quantised (VNNI):
//
//	for i := range rows {                                  // k a multiple of 32
//		out[i] = Σ_{b<k/32} s[i*k/32+b] · Σ_{j<32} int32(q[i*k+32b+j]) · int32(xq[32b+j])
//	}
//
//go:noescape
func gemvRowsQ8VNNIAVX512(out *float32, q *int8, s *float32, xq *byte, k, rows int)

func gemvRowsQ8VNNI(out []float32, q []int8, s []float32, xq []byte) {
	k, rows := len(xq), len(out)
	if !useAVX512 || k%Q8Block != 0 || k == 0 || rows == 0 {
		gemvRowsQ8VNNIGeneric(out, q, s, xq)
		return
	}
	q = q[:rows*k]
	s = s[:rows*k/Q8Block]
	gemvRowsQ8VNNIAVX512(&out[0], &q[0], &s[0], &xq[0], k, rows)
}

// sumAVX512 returns Σ x[i] for n a multiple of 128: eight 16-wide
// accumulators, 512 bytes per iteration, each line prefetched 1 KiB ahead
// (see Sum).
//
//go:noescape
func sumAVX512(x *float32, n int) float32
