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
//
// A thread's rows are cut into three equal stretches and each tile takes
// the next row of every stretch, so the weights stream through the core as
// three long sequential reads (each prefetched ahead in software too); the
// whole run of tiles, with the bias and the stores into out, is one call
// into the assembly.
const dotMaxN = 8 // from 9 rows the wide path's 16- and 32-lane tiles are as fast or faster

// dotN reports whether Linear takes the dot-product path for N rows of x
// times w.
func dotN(N int, w *Mat) bool {
	return useAVX512 && (w.DType == F32 || w.DType == F16) && N >= 2 && N <= dotMaxN &&
		w.Cols >= 16 && w.Cols%16 == 0
}

// dotScratchLen is the per-thread scratch of dotRange: x padded to 8
// rows with zeros.
func dotScratchLen(K int) int { return 8 * K }

// dotRange computes out[:, lo:hi] = act(x·W[lo:hi]ᵀ + b) for float32 or
// float16 W and N <= 8 rows of x [N, K] with the 3×8 dot-product tile:
// rows lo+t, lo+L+t and lo+2L+t of W in tile t (L = (hi-lo)/3), then the
// last (hi-lo)%3 rows one at a time (each read thrice, as a tile of one
// row).
func dotRange(out, x []float32, w *Mat, b []float32, N, lo, hi int, act Act, buf []float32) {
	K, M := w.Cols, w.Rows
	if N < 8 { // padded with zero rows
		xp := buf[:8*K]
		copy(xp, x[:N*K])
		clear(xp[N*K:])
		x = xp
	}
	tiles := func(r, ls, n int) {
		var bias []float32
		if b != nil {
			bias = b[r:]
		}
		if w.DType == F16 {
			dotTilesF16(out[r:], M, ls, w.F16[r*K:], ls*K, x, K, n, bias, N)
		} else {
			dotTilesF32(out[r:], M, ls, w.F32[r*K:], ls*K, x, K, n, bias, N)
		}
	}
	L := (hi - lo) / 3
	if L > 0 {
		tiles(lo, L, L)
	}
	if r := lo + 3*L; r < hi {
		tiles(r, 0, hi-r)
	}
	if act != ActNone {
		for n := range N {
			activateSlice(act, out[n*M+lo:n*M+hi])
		}
	}
}

// dotTilesF32Generic computes, for t < tiles, j < 3 and i < n,
// out[i*ldo+j*ls+t] = w[j*lds+t*k:][:k]·x[i*k:][:k] + bias[j*ls+t] (bias
// may be nil).
func dotTilesF32Generic(out []float32, ldo, ls int, w []float32, lds int, x []float32, k, tiles int, bias []float32, n int) {
	dotTilesGeneric(out, ldo, ls, w, lds, x, k, tiles, bias, n, dotGeneric)
}

// dotTilesF16Generic is dotTilesF32Generic for float16 weights, each
// widened by HalfToFloat.
func dotTilesF16Generic(out []float32, ldo, ls int, w []uint16, lds int, x []float32, k, tiles int, bias []float32, n int) {
	dotTilesGeneric(out, ldo, ls, w, lds, x, k, tiles, bias, n, dotF16Generic)
}

// dotTilesGeneric is the loop of both: dot multiplies a weight row of
// either width with a row of x.
func dotTilesGeneric[W float32 | uint16](out []float32, ldo, ls int, w []W, lds int, x []float32, k, tiles int, bias []float32, n int, dot func([]W, []float32) float32) {
	for t := range tiles {
		for j := range 3 {
			wr := w[j*lds+t*k : j*lds+t*k+k]
			for i := range n {
				s := dot(wr, x[i*k:i*k+k])
				if bias != nil {
					s += bias[j*ls+t]
				}
				out[i*ldo+j*ls+t] = s
			}
		}
	}
}
