//go:build gc && !purego

package tensor

// gemv4F32AVX2 computes 4 dot products of weight rows with one x row:
//
//	for i := range 4 { dst[i] = Σ_{j<k} w[i*ldw+j] · x[j] }    // k a multiple of 8
//
//go:noescape
func gemv4F32AVX2(dst *[4]float32, w *float32, ldw int, x *float32, k int)

// tile4x2F32AVX2 is tiles4x3F32AVX2's tile for 2 activation rows:
//
//	for n := range 2 { for i := range 4 {                        // k a multiple of 8
//		dst[n*4+i] = Σ_{j<k} w[i*ldw+j] · x[n*ldx+j]
//	}}
//
//go:noescape
func tile4x2F32AVX2(dst *[8]float32, w *float32, ldw int, x *float32, ldx int, k int)

// widenF16AVX2 converts halves to float32:
//
//	for i := range n { dst[i] = HalfToFloat(src[i]) }     // n a multiple of 8
//
//go:noescape
func widenF16AVX2(dst *float32, src *uint16, n int)

// widenQ8AVX2 dequantises int8 blocks:
//
//	for i := range n { dst[i] = float32(q[i]) * s[i/32] }   // n a multiple of 32
//
//go:noescape
func widenQ8AVX2(dst *float32, q *int8, s *float32, n int)

func gemv4F32(dst *[4]float32, w []float32, ldw int, x []float32) {
	k := len(x)
	if !useAVX2FMA || k < 8 {
		gemv4F32Generic(dst, w, ldw, x)
		return
	}
	w = w[:3*ldw+k] // bounds for the assembly
	k8 := k &^ 7
	gemv4F32AVX2(dst, &w[0], ldw, &x[0], k8)
	for j := k8; j < k; j++ {
		xv := x[j]
		dst[0] += w[j] * xv
		dst[1] += w[ldw+j] * xv
		dst[2] += w[2*ldw+j] * xv
		dst[3] += w[3*ldw+j] * xv
	}
}

func tile4x2F32(dst *[8]float32, w []float32, ldw int, x []float32, ldx, k int) {
	if !useAVX2FMA || k < 8 {
		tile4x2F32Generic(dst, w, ldw, x, ldx, k)
		return
	}
	w = w[:3*ldw+k]
	x = x[:ldx+k]
	k8 := k &^ 7
	tile4x2F32AVX2(dst, &w[0], ldw, &x[0], ldx, k8)
	for j := k8; j < k; j++ {
		for n := range 2 {
			xv := x[n*ldx+j]
			for i := range 4 {
				dst[n*4+i] += w[i*ldw+j] * xv
			}
		}
	}
}

func widenF16(dst []float32, src []uint16) {
	n := len(dst)
	if !useAVX2FMA || n < 8 {
		widenF16Generic(dst, src)
		return
	}
	src = src[:n]
	n8 := 0
	if useAVX512 && n >= 64 {
		n8 = n &^ 63
		widenF16AVX512(&dst[0], &src[0], n8)
	}
	if n-n8 >= 8 {
		m := (n - n8) &^ 7
		widenF16AVX2(&dst[n8], &src[n8], m)
		n8 += m
	}
	for i := n8; i < n; i++ {
		dst[i] = HalfToFloat(src[i])
	}
}

func widenQ8(dst []float32, q []int8, s []float32) {
	n := len(dst)
	if !useAVX2FMA || n < Q8Block {
		widenQ8Generic(dst, q, s)
		return
	}
	q = q[:n]
	n32 := n &^ (Q8Block - 1)
	s = s[:(n+Q8Block-1)/Q8Block]
	widenQ8AVX2(&dst[0], &q[0], &s[0], n32)
	for i := n32; i < n; i++ {
		dst[i] = float32(q[i]) * s[i/Q8Block]
	}
}

// gemvRowsF32AVX2 computes a GEMV over contiguous rows, one sequential
// stream of weights:
//
//	for i := range rows { out[i] = Σ_{j<k} w[i*k+j] · x[j] }     // k a multiple of 8
//
//go:noescape
func gemvRowsF32AVX2(out *float32, w *float32, x *float32, k, rows int)

// gemvRowsF16AVX2 is gemvRowsF32AVX2 with half weights:
//
//	for i := range rows { out[i] = Σ_{j<k} HalfToFloat(w[i*k+j]) · x[j] }     // k a multiple of 8
//
//go:noescape
func gemvRowsF16AVX2(out *float32, w *uint16, x *float32, k, rows int)

// gemvRowsQ8AVX2 is gemvRowsF32AVX2 with int8 weights, one scale per
// block of 32:
//
//	for i := range rows {                                  // k a multiple of 32
//		out[i] = Σ_{j<k} float32(q[i*k+j]) · s[i*k/32+j/32] · x[j]
//	}
//
//go:noescape
func gemvRowsQ8AVX2(out *float32, q *int8, s *float32, x *float32, k, rows int)

func gemvRowsF32(out, w, x []float32) {
	k, rows := len(x), len(out)
	if !useAVX2FMA || k%8 != 0 || k == 0 || rows == 0 {
		gemvRowsF32Generic(out, w, x)
		return
	}
	w = w[:rows*k]
	gemvRowsF32AVX2(&out[0], &w[0], &x[0], k, rows)
}

// gemvRowsF16AVX512 is gemvRowsF16AVX2 with 512-bit registers (k a
// multiple of 16).
//
//go:noescape
func gemvRowsF16AVX512(out *float32, w *uint16, x *float32, k, rows int)

func gemvRowsF16(out []float32, w []uint16, x []float32) {
	k, rows := len(x), len(out)
	if !useAVX2FMA || k%8 != 0 || k == 0 || rows == 0 {
		gemvRowsF16Generic(out, w, x)
		return
	}
	w = w[:rows*k]
	if useAVX512 && k%16 == 0 {
		gemvRowsF16AVX512(&out[0], &w[0], &x[0], k, rows)
		return
	}
	gemvRowsF16AVX2(&out[0], &w[0], &x[0], k, rows)
}

func gemvRowsQ8(out []float32, q []int8, s []float32, x []float32) {
	k, rows := len(x), len(out)
	if !useAVX2FMA || k%Q8Block != 0 || k == 0 || rows == 0 {
		gemvRowsQ8Generic(out, q, s, x)
		return
	}
	q = q[:rows*k]
	s = s[:rows*k/Q8Block]
	gemvRowsQ8AVX2(&out[0], &q[0], &s[0], &x[0], k, rows)
}

// tiles4x3F32AVX2 runs a 4×3 register tile (12 FMA accumulators) down
// 3·ntiles rows of x:
//
//	for t := range ntiles { for n := range 3 { for i := range 4 {   // k a multiple of 8, ntiles >= 1
//		dst[(3*t+n)*4+i] = Σ_{j<k} w[i*ldw+j] · x[(3*t+n)*ldx+j]
//	}}}
//
// A non-nil pf is prefetched, 16·k bytes from it, during the first tile.
//
//go:noescape
func tiles4x3F32AVX2(dst *float32, w *float32, ldw int, x *float32, ldx int, k int, ntiles int, pf *float32)

func tiles4x3F32(dst, w []float32, ldw int, x []float32, ldx, k, ntiles int, pf *float32) {
	if !useAVX2FMA || k < 8 || ntiles < 1 {
		tiles4x3F32Generic(dst, w, ldw, x, ldx, k, ntiles)
		return
	}
	w = w[:3*ldw+k]
	x = x[:(3*ntiles-1)*ldx+k]
	dst = dst[:12*ntiles]
	k8 := k &^ 7
	tiles4x3F32AVX2(&dst[0], &w[0], ldw, &x[0], ldx, k8, ntiles, pf)
	for j := k8; j < k; j++ {
		for n := range 3 * ntiles {
			xv := x[n*ldx+j]
			for i := range 4 {
				dst[n*4+i] += w[i*ldw+j] * xv
			}
		}
	}
}

// outer6x16F32AVX2 is an outer-product register tile: 6 weight rows times
// 16 rows of x, x packed transposed ([k][16], see packXT), the result
// transposed (x row i, weight row j at dst[i*8+j]; dst[i*8+6:i*8+8] are
// not written), prefetching the pfn bytes at pf:
//
//	for i := range 16 { for j := range 6 {                        // k >= 1
//		dst[i*8+j] = Σ_{kk<k} w[j*ldw+kk] · xt[kk*16+i]
//	}}
//
//go:noescape
func outer6x16F32AVX2(dst *[128]float32, w *float32, ldw int, xt *float32, k int, pf *float32, pfn int)

// addTile6AVX2 stores a tile of outer6x16F32AVX2 into 16 rows of out:
//
//	for i := range 16 { for j := range 6 {
//		out[i*ldo+j] = tile[i*8+j] + bias[j] (+ out[i*ldo+j] if acc != 0)
//	}}
//
//go:noescape
func addTile6AVX2(out *float32, ldo int, tile *[128]float32, bias *[8]float32, acc int)

func outer6x16F32(dst *[128]float32, w []float32, ldw int, xt []float32, k int, pf []float32) {
	if !useAVX2FMA || k < 1 {
		outer6x16F32Generic(dst, w, ldw, xt, k)
		return
	}
	w = w[:5*ldw+k] // bounds for the assembly
	xt = xt[:16*k]
	var p *float32
	if len(pf) > 0 {
		p = &pf[0]
	}
	outer6x16F32AVX2(dst, &w[0], ldw, &xt[0], k, p, 4*len(pf))
}

func addTile6(out []float32, ldo int, tile *[128]float32, bias *[8]float32, acc bool) {
	if !useAVX2FMA {
		addTile6Generic(out, ldo, tile, bias, acc)
		return
	}
	out = out[:15*ldo+6]
	a := 0
	if acc {
		a = 1
	}
	addTile6AVX2(&out[0], ldo, tile, bias, a)
}

// packXT8AVX2 writes 8 rows of x into one half of a packed panel:
//
//	for r := range 8 { for j := range k {                        // k a multiple of 8
//		dst[j*16+r] = src[r*lds+j]
//	}}
//
//go:noescape
func packXT8AVX2(dst *float32, src *float32, lds int, k int)

func packXT(xt, x []float32, N, K, plo, phi int) {
	if !useAVX2FMA || K < 8 {
		packXTGeneric(xt, x, N, K, plo, phi)
		return
	}
	k8 := K &^ 7
	for p := plo; p < phi; p++ {
		for h := 0; h < 16; h += 8 {
			n0 := 16*p + h
			if n0+8 > N {
				packXT8Generic(xt[p*16*K+h:], x, n0, N, K)
				continue
			}
			dst := xt[p*16*K+h : (p+1)*16*K]
			src := x[n0*K : (n0+8)*K]
			packXT8AVX2(&dst[0], &src[0], K, k8)
			for j := k8; j < K; j++ {
				for r := range 8 {
					dst[j*16+r] = src[r*K+j]
				}
			}
		}
	}
}

// unpackQ4AVX2 widens 4-bit weights to int8 (Mat.Q4 layout):
//
//	for b := range nb { for j := range 16 {           // nb blocks of 32 values, 16 bytes each
//		dst[32b+j] = int8(src[16b+j] & 15) - 8
//		dst[32b+j+16] = int8(src[16b+j] >> 4) - 8
//	}}
//
//go:noescape
func unpackQ4AVX2(dst *int8, src *uint8, nb int)

func unpackQ4(dst []int8, src []uint8) {
	nb := len(src) / 16
	if !useAVX2FMA || nb == 0 {
		unpackQ4Generic(dst, src)
		return
	}
	dst = dst[:32*nb]
	unpackQ4AVX2(&dst[0], &src[0], nb)
}
