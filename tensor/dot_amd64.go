//go:build gc && !purego

package tensor

// dotTiles3x8F32AVX512 runs the dot-product tile of float32 weights over
// tiles consecutive rows of three streams (see dotRange and
// dotTilesF32Generic):
//
//	for t := range tiles { for j := range 3 { for i := range 8 {  // k a multiple of 16, >= 16; tiles >= 1
//		if mask&(1<<i) != 0 {
//			out[i*ldo+j*ls+t] = Σ_{kk<k} w[j*lds+t*k+kk] · x[i*k+kk] + (bias[j*ls+t] if bias != nil)
//		}
//	}}}
//
//go:noescape
func dotTiles3x8F32AVX512(out *float32, ldo, ls int, w *float32, lds int, x *float32, k, tiles int, bias *float32, mask int)

// dotTiles3x8F16AVX512 is dotTiles3x8F32AVX512 for float16 weights, each
// widened by HalfToFloat.
//
//go:noescape
func dotTiles3x8F16AVX512(out *float32, ldo, ls int, w *uint16, lds int, x *float32, k, tiles int, bias *float32, mask int)

// dotTilesF32 computes, for t < tiles, j < 3 and i < n,
// out[i*ldo+j*ls+t] = w[j*lds+t*k:][:k]·x[i*k:][:k] + bias[j*ls+t] (bias may
// be nil); x holds 8 rows of k, the rows from n on being ignored. See
// dotTilesF32Generic.
func dotTilesF32(out []float32, ldo, ls int, w []float32, lds int, x []float32, k, tiles int, bias []float32, n int) {
	if !useAVX512 || k < 16 || k%16 != 0 || tiles < 1 {
		dotTilesF32Generic(out, ldo, ls, w, lds, x, k, tiles, bias, n)
		return
	}
	bp := dotTilesBounds(len(out), ldo, ls, len(w), lds, len(x), k, tiles, bias, n)
	dotTiles3x8F32AVX512(&out[0], ldo, ls, &w[0], lds, &x[0], k, tiles, bp, 1<<n-1)
}

// dotTilesF16 is dotTilesF32 for float16 weights; see dotTilesF16Generic.
func dotTilesF16(out []float32, ldo, ls int, w []uint16, lds int, x []float32, k, tiles int, bias []float32, n int) {
	if !useAVX512 || k < 16 || k%16 != 0 || tiles < 1 {
		dotTilesF16Generic(out, ldo, ls, w, lds, x, k, tiles, bias, n)
		return
	}
	bp := dotTilesBounds(len(out), ldo, ls, len(w), lds, len(x), k, tiles, bias, n)
	dotTiles3x8F16AVX512(&out[0], ldo, ls, &w[0], lds, &x[0], k, tiles, bp, 1<<n-1)
}

// dotTilesBounds panics, as an index out of range would, unless every
// element the assembly touches lies inside its slice; it returns the
// address of bias's first element for the assembly (nil without a bias).
func dotTilesBounds(nout, ldo, ls, nw, lds, nx, k, tiles int, bias []float32, n int) *float32 {
	if n < 1 || n > 8 || ldo < 0 || ls < 0 || lds < 0 || ldo > 1<<31/8 ||
		(n-1)*ldo+2*ls+tiles > nout || 2*lds+tiles*k > nw || 8*k > nx ||
		(bias != nil && 2*ls+tiles > len(bias)) {
		panic("tensor: dotTiles arguments out of range")
	}
	if bias == nil {
		return nil
	}
	return &bias[0]
}
