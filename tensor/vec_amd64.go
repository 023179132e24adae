//go:build gc && !purego

package tensor

// dotAVX2 returns the sum over i < n of a[i]·b[i]; n is a multiple of 8.
//
//	var s float32
//	for i := range n { s += a[i] * b[i] }
//	return s
//
//go:noescape
func dotAVX2(a, b *float32, n int) float32

// axpyAVX2 computes dst[i] += a·x[i] for i < n; n is a multiple of 8.
//
//	for i := range n { dst[i] += a * x[i] }
//
//go:noescape
func axpyAVX2(dst, x *float32, n int, a float32)

// sumAVX2 returns Σ x[i] for n a multiple of 64 (eight 8-wide
// accumulators, 256 bytes per iteration).
//
//go:noescape
func sumAVX2(x *float32, n int) float32

func sum(x []float32) float32 {
	n := len(x)
	switch {
	case useAVX512 && n >= 128:
		m := n &^ 127
		return sumAVX512(&x[0], m) + sumGeneric(x[m:])
	case useAVX2FMA && n >= 64:
		m := n &^ 63
		return sumAVX2(&x[0], m) + sumGeneric(x[m:])
	}
	return sumGeneric(x)
}

func dot(a, b []float32) float32 {
	n := len(a)
	if !useAVX2FMA || n < 8 {
		return dotGeneric(a, b)
	}
	b = b[:n]
	n8 := n &^ 7
	s := dotAVX2(&a[0], &b[0], n8)
	for i := n8; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

func axpy(dst []float32, a float32, x []float32) {
	n := len(dst)
	if !useAVX2FMA || n < 8 {
		axpyGeneric(dst, a, x)
		return
	}
	x = x[:n]
	n8 := n &^ 7
	axpyAVX2(&dst[0], &x[0], n8, a)
	for i := n8; i < n; i++ {
		dst[i] += a * x[i]
	}
}

func attnValues(y, a, v []float32, ldv int) {
	if !useAVX2FMA || len(y) != 64 || len(a) == 0 {
		attnValuesGeneric(y, a, v, ldv)
		return
	}
	clear(y)
	v = v[:(len(a)-1)*ldv+64]
	attnValuesAdd64AVX2(&y[0], &a[0], &v[0], ldv, len(a))
}

// attnScores64AVX2 computes scaled dot products of one 64-wide query with
// n keys at stride ldk, the query held in registers:
//
//	for p := range n { scores[p] = scale · Σ_{j<64} q[j]·k[p*ldk+j] }   // n a multiple of 4
//
//go:noescape
func attnScores64AVX2(scores, q, k *float32, ldk, n int, scale float32)

func attnScores(scores, q, k []float32, ldk int, scale float32) {
	n := len(scores)
	if !useAVX2FMA || len(q) != 64 || n < 4 {
		attnScoresGeneric(scores, q, k, ldk, scale)
		return
	}
	n4 := n &^ 3
	k = k[:(n-1)*ldk+64]
	attnScores64AVX2(&scores[0], &q[0], &k[0], ldk, n4, scale)
	for p := n4; p < n; p++ {
		scores[p] = dot(q, k[p*ldk:p*ldk+64]) * scale
	}
}

// attnScores64F16AVX2 is attnScores64AVX2 with half keys:
//
//	for p := range n { scores[p] = scale · Σ_{j<64} q[j]·HalfToFloat(k[p*ldk+j]) }   // n a multiple of 4
//
//go:noescape
func attnScores64F16AVX2(scores, q *float32, k *uint16, ldk, n int, scale float32)

func attnScoresF16(scores, q []float32, k []uint16, ldk int, scale float32) {
	n := len(scores)
	if !useAVX2FMA || len(q) != 64 || n < 4 {
		attnScoresF16Generic(scores, q, k, ldk, scale)
		return
	}
	n4 := n &^ 3
	k = k[:(n-1)*ldk+64]
	attnScores64F16AVX2(&scores[0], &q[0], &k[0], ldk, n4, scale)
	if n4 < n {
		attnScoresF16Generic(scores[n4:], q, k[n4*ldk:], ldk, scale)
	}
}

// attnValuesAdd64F16AVX2 adds n rows of 64 half values, weighted, to y,
// accumulating in registers:
//
//	for j := range 64 { y[j] += Σ_{p<n} a[p] · HalfToFloat(v[p*ldv+j]) }   // n >= 1
//
//go:noescape
func attnValuesAdd64F16AVX2(y, a *float32, v *uint16, ldv, n int)

func attnValuesAddF16(y, a []float32, v []uint16, ldv int) {
	if !useAVX2FMA || len(y) != 64 || len(a) == 0 {
		attnValuesAddF16Generic(y, a, v, ldv)
		return
	}
	v = v[:(len(a)-1)*ldv+64]
	attnValuesAdd64F16AVX2(&y[0], &a[0], &v[0], ldv, len(a))
}

// narrowF16AVX2 rounds float32 to half (VCVTPS2PH, nearest even):
//
//	for i := range n { dst[i] = FloatToHalf(src[i]) }   // n a multiple of 8
//
//go:noescape
func narrowF16AVX2(dst *uint16, src *float32, n int)

func narrowF16(dst []uint16, src []float32) {
	n := len(src)
	if !useAVX2FMA || n < 8 {
		narrowF16Generic(dst, src)
		return
	}
	dst = dst[:n]
	n8 := n &^ 7
	narrowF16AVX2(&dst[0], &src[0], n8)
	narrowF16Generic(dst[n8:], src[n8:])
}

// widenRows64F16AVX2 widens rows of 64 halves, src rows lds halves apart,
// into contiguous rows of 64 float32:
//
//	for r := range rows { for j := range 64 { dst[r*64+j] = HalfToFloat(src[r*lds+j]) } }
//
//go:noescape
func widenRows64F16AVX2(dst *float32, src *uint16, lds, rows int)

// widenRows64F16 widens rows of 64 halves at stride lds into dst [rows][64].
func widenRows64F16(dst []float32, src []uint16, lds, rows int) {
	if !useAVX2FMA || rows < 1 {
		widenRows64F16Generic(dst, src, lds, rows)
		return
	}
	dst = dst[:rows*64]
	src = src[:(rows-1)*lds+64]
	widenRows64F16AVX2(&dst[0], &src[0], lds, rows)
}
