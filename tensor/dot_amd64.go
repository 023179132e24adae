//go:build gc && !purego

package tensor

// dot3x8F32AVX512 is the dot-product tile of float32 weights against a few
// rows of x (see dotRange):
//
//	for j := range 3 { for i := range 8 {                    // k a multiple of 16, >= 16
//		dst[j*8+i] = Σ_{kk<k} w[j*ldw+kk] · x[i*ldx+kk]
//	}}
//
//go:noescape
func dot3x8F32AVX512(dst *[24]float32, w *float32, ldw int, x *float32, ldx int, k int)

// dot3x8F16AVX512 is dot3x8F32AVX512 for float16 weights:
//
//	for j := range 3 { for i := range 8 {                    // k a multiple of 16, >= 16
//		dst[j*8+i] = Σ_{kk<k} HalfToFloat(w[j*ldw+kk]) · x[i*ldx+kk]
//	}}
//
//go:noescape
func dot3x8F16AVX512(dst *[24]float32, w *uint16, ldw int, x *float32, ldx int, k int)

// dot3x8F32 computes the tile of 3 weight rows (ldw apart; 0 reads one
// row thrice) and 8 rows of x (ldx apart) over k columns; see
// dot3x8F32Generic.
func dot3x8F32(dst *[24]float32, w []float32, ldw int, x []float32, ldx, k int) {
	if !useAVX512 || k < 16 || k%16 != 0 {
		dot3x8F32Generic(dst, w, ldw, x, ldx, k)
		return
	}
	w = w[:2*ldw+k] // bounds for the assembly
	x = x[:7*ldx+k]
	dot3x8F32AVX512(dst, &w[0], ldw, &x[0], ldx, k)
}

// dot3x8F16 is dot3x8F32 for float16 weights; see dot3x8F16Generic.
func dot3x8F16(dst *[24]float32, w []uint16, ldw int, x []float32, ldx, k int) {
	if !useAVX512 || k < 16 || k%16 != 0 {
		dot3x8F16Generic(dst, w, ldw, x, ldx, k)
		return
	}
	w = w[:2*ldw+k] // bounds for the assembly
	x = x[:7*ldx+k]
	dot3x8F16AVX512(dst, &w[0], ldw, &x[0], ldx, k)
}
