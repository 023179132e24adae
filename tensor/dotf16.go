package tensor

// The dot-product path of Linear for float16 weights and 2..dotF16MaxN
// rows of x (batched decode) with AVX-512: each weight row is widened 16
// halves at a time inside the kernel (VCVTPH2PS into a register) and
// multiplied with 16 columns of each of 8 rows of x, so W is read once, at
// 2 bytes a weight, and never widened into memory; a tile is 3 weight rows
// × 8 rows of x (24 accumulators, summed across lanes at the end), each
// 16 columns of a row of x loaded once for the three weight rows. The
// broadcast tiles of the float32 path would first widen every weight into
// scratch, a pass that costs as much as the multiply at these N.
const dotF16MaxN = 16

// dotF16N reports whether Linear takes the dot-product path for N rows of
// x times w.
func dotF16N(N int, w *Mat) bool {
	return useAVX512 && w.DType == F16 && N >= 2 && N <= dotF16MaxN && w.Cols%16 == 0
}

// dotF16ScratchLen is the per-thread scratch of dotRangeF16: the last
// block of x rows padded to 8 with zeros.
func dotF16ScratchLen(K int) int { return 8 * K }

// dotRangeF16 computes out[:, lo:hi] = act(x·W[lo:hi]ᵀ + b) for float16
// W and N <= 16 rows of x [N, K] with the 3×8 dot-product tile.
func dotRangeF16(out, x []float32, w *Mat, b []float32, N, lo, hi int, act Act, buf []float32) {
	K, M := w.Cols, w.Rows
	nb := (N + 7) / 8
	var xpad []float32
	if N%8 != 0 { // the last block of rows padded with zeros
		xpad = buf[:8*K]
		n0 := (nb - 1) * 8
		copy(xpad, x[n0*K:N*K])
		clear(xpad[(N-n0)*K:])
	}
	var dst [24]float32
	for m := lo; m < hi; m += 3 {
		rows := min(3, hi-m)
		ldw := K
		if rows < 3 {
			ldw, rows = 0, 1 // the last rows one at a time: a row read thrice, two results dropped
		}
		for j0 := 0; j0 < min(3, hi-m); j0 += rows {
			wr := w.F16[(m+j0)*K : (m+j0)*K+2*ldw+K]
			for blk := range nb {
				n0 := blk * 8
				xb := x[n0*K:]
				if n0+8 > N {
					xb = xpad
				}
				dot3x8F16(&dst, wr, ldw, xb, K, K)
				for j := range rows {
					var bj float32
					if b != nil {
						bj = b[m+j0+j]
					}
					for i := range min(8, N-n0) {
						out[(n0+i)*M+m+j0+j] = dst[j*8+i] + bj
					}
				}
			}
		}
	}
	if act != ActNone {
		for n := range N {
			activateSlice(act, out[n*M+lo:n*M+hi])
		}
	}
}

// dot3x8F16Generic computes dst[j*8+i] = Σ_{kk<k} HalfToFloat(w[j*ldw+kk])
// · x[i*ldx+kk] for 3 weight rows and 8 rows of x.
func dot3x8F16Generic(dst *[24]float32, w []uint16, ldw int, x []float32, ldx, k int) {
	for j := range 3 {
		wr := w[j*ldw : j*ldw+k]
		for i := range 8 {
			dst[j*8+i] = dotF16Generic(wr, x[i*ldx:i*ldx+k])
		}
	}
}
