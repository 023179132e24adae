package tensor

// The dot-product path of Linear for float32 and float16 weights and a few
// rows of x (batched decode) with AVX-512: a tile is 3 weight rows × 8 rows
// of x (24 accumulators of 16 lanes, summed across lanes at the end), 16
// columns of each weight row loaded once into a register (float16 widened
// there by VCVTPH2PS) and 16 columns of each row of x once for the three
// weight rows. W is read once, in place, at its stored width. Against the
// broadcast tiles of the wide path (outer12F32), which issue one load per
// multiply, this does 24 16-lane FMAs per 11 loads; float16 would otherwise
// be widened into scratch first, a pass that costs as much as the multiply
// at these N.
const dotMaxN = 8 // from 9 rows the wide path's 16- and 32-lane tiles are as fast or faster

// dotN reports whether Linear takes the dot-product path for N rows of x
// times w.
func dotN(N int, w *Mat) bool {
	return useAVX512 && (w.DType == F32 || w.DType == F16) && N >= 2 && N <= dotMaxN && w.Cols%16 == 0
}

// dotScratchLen is the per-thread scratch of dotRange: x padded to 8
// rows with zeros.
func dotScratchLen(K int) int { return 8 * K }

// dotKBlock is the K-block of dotRange: 8 rows of x × 768 float32 are
// 24 KiB, which stay in L1 while every tile of the thread's rows reads
// them (a whole row of x per tile at K = 3072 would come from L2).
const dotKBlock = 768

// dotRange computes out[:, lo:hi] = act(x·W[lo:hi]ᵀ + b) for float32 or
// float16 W and N <= 8 rows of x [N, K] with the 3×8 dot-product tile,
// K in blocks of dotKBlock (later blocks add to out).
func dotRange(out, x []float32, w *Mat, b []float32, N, lo, hi int, act Act, buf []float32) {
	K, M := w.Cols, w.Rows
	if N < 8 { // padded with zero rows
		xp := buf[:8*K]
		copy(xp, x[:N*K])
		clear(xp[N*K:])
		x = xp
	}
	var dst [24]float32
	for k0 := 0; k0 < K; k0 += dotKBlock {
		kk := min(dotKBlock, K-k0)
		for m := lo; m < hi; m += 3 {
			rows := min(3, hi-m)
			ldw := K
			if rows < 3 {
				ldw, rows = 0, 1 // the last rows one at a time: a row read thrice, two results dropped
			}
			for j0 := 0; j0 < min(3, hi-m); j0 += rows {
				r0 := (m+j0)*K + k0
				r1 := r0 + 2*ldw + kk
				if w.DType == F16 {
					dot3x8F16(&dst, w.F16[r0:r1], ldw, x[k0:], K, kk)
				} else {
					dot3x8F32(&dst, w.F32[r0:r1], ldw, x[k0:], K, kk)
				}
				for j := range rows {
					var bj float32
					if b != nil && k0 == 0 {
						bj = b[m+j0+j]
					}
					for i := range N {
						o := &out[i*M+m+j0+j]
						if k0 == 0 {
							*o = dst[j*8+i] + bj
						} else {
							*o += dst[j*8+i]
						}
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

// dot3x8F32Generic computes dst[j*8+i] = Σ_{kk<k} w[j*ldw+kk] ·
// x[i*ldx+kk] for 3 weight rows and 8 rows of x.
func dot3x8F32Generic(dst *[24]float32, w []float32, ldw int, x []float32, ldx, k int) {
	for j := range 3 {
		wr := w[j*ldw : j*ldw+k]
		for i := range 8 {
			dst[j*8+i] = dotGeneric(wr, x[i*ldx:i*ldx+k])
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
