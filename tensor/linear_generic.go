package tensor

// The pure-Go kernels of Linear: the fallback, and the oracle the assembly
// is tested against. Each computes dot products of weight rows with
// activation rows; the driver in linear.go adds bias and activation.

// gemv4F32Generic computes dst[i] = Σ_j w[i*ldw+j]·x[j] for 4 rows, j < len(x).
func gemv4F32Generic(dst *[4]float32, w []float32, ldw int, x []float32) {
	k := len(x)
	for i := range 4 {
		dst[i] = dotGeneric(x, w[i*ldw:i*ldw+k])
	}
}

// tile4x3F32Generic computes dst[n*4+i] = Σ_{j<k} w[i*ldw+j]·x[n*ldx+j]
// for 4 weight rows and 3 activation rows.
func tile4x3F32Generic(dst *[12]float32, w []float32, ldw int, x []float32, ldx, k int) {
	for n := range 3 {
		xr := x[n*ldx : n*ldx+k]
		for i := range 4 {
			dst[n*4+i] = dotGeneric(xr, w[i*ldw:i*ldw+k])
		}
	}
}

// tile4x2F32Generic is tile4x3F32Generic for 2 activation rows.
func tile4x2F32Generic(dst *[8]float32, w []float32, ldw int, x []float32, ldx, k int) {
	for n := range 2 {
		xr := x[n*ldx : n*ldx+k]
		for i := range 4 {
			dst[n*4+i] = dotGeneric(xr, w[i*ldw:i*ldw+k])
		}
	}
}

// dotF16Generic returns Σ HalfToFloat(w[j])·x[j].
func dotF16Generic(w []uint16, x []float32) float32 {
	w = w[:len(x)]
	var s0, s1 float32
	j := 0
	for ; j+2 <= len(x); j += 2 {
		s0 += HalfToFloat(w[j]) * x[j]
		s1 += HalfToFloat(w[j+1]) * x[j+1]
	}
	for ; j < len(x); j++ {
		s0 += HalfToFloat(w[j]) * x[j]
	}
	return s0 + s1
}

// dotQ8Generic returns Σ_j float32(q[j])·s[j/32]·x[j], summing each block
// before scaling it, as the assembly does.
func dotQ8Generic(q []int8, s []float32, x []float32) float32 {
	q = q[:len(x)]
	var sum float32
	for b, sc := range s[:len(x)/Q8Block] {
		qb := q[b*Q8Block : (b+1)*Q8Block]
		xb := x[b*Q8Block : (b+1)*Q8Block]
		var blk float32
		for j, v := range qb {
			blk += float32(v) * xb[j]
		}
		sum += sc * blk
	}
	return sum
}

// widenF16Generic writes dst[i] = HalfToFloat(src[i]).
func widenF16Generic(dst []float32, src []uint16) {
	src = src[:len(dst)]
	for i, h := range src {
		dst[i] = HalfToFloat(h)
	}
}

// widenQ8Generic writes dst[i] = float32(q[i])·s[i/32].
func widenQ8Generic(dst []float32, q []int8, s []float32) {
	q = q[:len(dst)]
	for i, v := range q {
		dst[i] = float32(v) * s[i/Q8Block]
	}
}

// gemvRowsF32Generic computes out[i] = Σ_j w[i*k+j]·x[j], k = len(x), for
// the len(out) contiguous rows of w.
func gemvRowsF32Generic(out, w, x []float32) {
	k := len(x)
	for i := range out {
		out[i] = dot(x, w[i*k:(i+1)*k])
	}
}

// gemvRowsF16Generic is gemvRowsF32Generic with half weights.
func gemvRowsF16Generic(out []float32, w []uint16, x []float32) {
	k := len(x)
	for i := range out {
		out[i] = dotF16Generic(w[i*k:(i+1)*k], x)
	}
}

// gemvRowsQ8Generic is gemvRowsF32Generic with int8 weights and scales.
func gemvRowsQ8Generic(out []float32, q []int8, s []float32, x []float32) {
	k := len(x)
	for i := range out {
		out[i] = dotQ8Generic(q[i*k:(i+1)*k], s[i*k/Q8Block:(i+1)*k/Q8Block], x)
	}
}

// tiles4x3F32Generic is tile4x3F32Generic down 3·ntiles rows of x:
// dst[n*4+i] = Σ_{j<k} w[i*ldw+j]·x[n*ldx+j] for n < 3·ntiles.
func tiles4x3F32Generic(dst, w []float32, ldw int, x []float32, ldx, k, ntiles int) {
	for t := range ntiles {
		tile4x3F32Generic((*[12]float32)(dst[12*t:12*t+12]), w, ldw, x[3*t*ldx:], ldx, k)
	}
}
