package tensor

import "unsafe"

// The AVX-512 path of Linear, for N >= 2 when useAVX512 (few rows of
// float32 and float16 weights take the dot-product path, dotRange, first):
// x is packed once per call into panels of 16 rows transposed ([K][16],
// packXT), and a register tile of 12 weight rows by one or two panels
// (outer12F32: w[j][k] broadcast from memory against the panels' x[k], 12
// or 24 accumulators of 8 or 16 lanes, no horizontal sums) runs over each
// group of 12 weight rows and every panel, the whole of K at once (one
// store of each output; a group of 12 rows is at most 144 KiB, in L2). A
// float32 group is read in place, float16 and int8 groups are widened into
// scratch first, the next float16 group prefetched into L2 meanwhile.
const (
	wideMR    = 12 // weight rows per tile
	wideAlign = 48 // rows of W per thread split: whole tiles and 16-row groups
)

// wideN reports whether Linear takes the AVX-512 path for N rows of x
// times w: int8 weights with their row sums (VNNI), float32 and float16,
// for every N >= 2 (the dot-product path, dotN, takes the few-row cases
// before it). On a core with two 512-bit FMA pipes (Zen 5) the 12×32
// tile runs at 1.5-1.75x the AVX2 outer-product tile's GFLOP/s; where
// 512-bit FMAs issue at half rate (Zen 4) the two tie.
func wideN(N int, w *Mat) bool {
	if !useAVX512 || N < 2 {
		return false
	}
	if w.DType == Q8 || w.DType == Q4 {
		return vnniQ8(N, w)
	}
	return true
}

// vnniQ8 reports whether Linear multiplies int8 weights by x quantised
// to int8 (VNNI): with AVX-512 and the row sums of w, through the GEMV
// (gemvRowsQ8VNNI) for N = 1, through the 12-row tiles for N >= 2 when w
// has 12 rows.
func vnniQ8(N int, w *Mat) bool {
	if !useAVX512 || (w.DType != Q8 && w.DType != Q4) || len(w.Sums) != w.Rows || w.Cols%Q8Block != 0 {
		return false
	}
	return N == 1 || w.Rows >= wideMR
}

// q4Rows is how many rows of 4-bit weights a GEMV unpacks to int8 at a
// time (16 rows of 768 are 12 KiB, in L1).
const q4Rows = 16

// int8View views float32 scratch as int8.
func int8View(buf []float32) []int8 {
	if len(buf) == 0 {
		return nil
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(&buf[0])), 4*len(buf))
}

// q8Rows returns rows [m, m+n) of an int8 or 4-bit w as int8 (4-bit
// weights unpacked into buf).
func q8Rows(w *Mat, m, n int, buf []int8) []int8 {
	K := w.Cols
	if w.DType == Q8 {
		return w.Q8[m*K : (m+n)*K]
	}
	unpackQ4(buf[:n*K], w.Q4[m*K/2:(m+n)*K/2])
	return buf[:n*K]
}

// gemvRangeQ8 is gemvRange for int8 weights and x quantised to xq with
// scale xs (xq in xpermQ4's order when q4VNNIRows(w)): out[lo:hi] = act(xs·(F - 128·Sums) + b), F from the VNNI GEMV.
func gemvRangeQ8(out []float32, xq []byte, xs float32, w *Mat, b []float32, lo, hi int, act Act, buf []float32) {
	K := w.Cols
	o := out[lo:hi]
	switch {
	case q4VNNIRows(w): // xq in xpermQ4's order
		gemvRowsQ4VNNI(o, w.Q4[lo*K/2:hi*K/2], w.Scales[lo*K/Q8Block:hi*K/Q8Block], xq)
	case w.DType == Q4:
		b8 := int8View(buf)
		for m := lo; m < hi; m += q4Rows {
			n := min(q4Rows, hi-m)
			gemvRowsQ8VNNI(out[m:m+n], q8Rows(w, m, n, b8), w.Scales[m*K/Q8Block:(m+n)*K/Q8Block], xq)
		}
	default:
		gemvRowsQ8VNNI(o, w.Q8[lo*K:hi*K], w.Scales[lo*K/Q8Block:hi*K/Q8Block], xq)
	}
	sums := w.Sums[lo:hi]
	for i, v := range o {
		o[i] = xs * (v - 128*sums[i])
	}
	if b != nil {
		Add(o, b[lo:hi])
	}
	activateSlice(act, o)
}

// wideScratchLen is the per-thread scratch of wideRange: the result tile
// and a widened group of 12 weight rows of K.
func wideScratchLen(K int) int { return wideMR*2*outerNR + wideMR*(K+rowPad) }

// q4ScratchLen is the per-thread scratch (float32s) of a 4-bit GEMV.
func q4ScratchLen(K int) int { return q4Rows * K / 4 }

// ones is alpha for float32 tiles.
var ones = [2 * outerNR]float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}

// wideRange computes out[:, lo:hi] from x packed by packXT (xt, float32
// and float16 weights) or by packXQ (xq and the row scales xs, int8
// weights) with the 12-row tile.
func wideRange(out, xt []float32, xq []byte, xs []float32, w *Mat, b []float32, N, lo, hi int, buf []float32) {
	if w.DType == Q8 || w.DType == Q4 {
		wideRangeQ8(out, xq, xs, w, b, N, lo, hi, buf)
		return
	}
	K, M := w.Cols, w.Rows
	np := (N + outerNR - 1) / outerNR
	tile := buf[:wideMR*2*outerNR]
	wbuf := buf[wideMR*2*outerNR:]
	var beta, bias [16]float32
	for m := lo; m < hi; m += wideMR {
		rows := min(wideMR, hi-m)
		if n := m + wideMR; w.DType == F16 && n < hi { // the next group, into L2 while this one runs
			prefetchF16(w.F16[n*K : min(n+wideMR, hi)*K])
		}
		var wb []float32
		ldw := K
		if w.DType == F32 && rows == wideMR {
			wb = w.F32[m*K:] // a whole float32 group in place
		} else {
			wb, ldw = weightBlock(w, m, rows, 0, K, wbuf)
			for i := rows; i < wideMR; i++ {
				clear(wb[i*ldw : i*ldw+K])
			}
		}
		clear(bias[:])
		if b != nil {
			copy(bias[:rows], b[m:m+rows])
		}
		for p := 0; p < np; {
			nn := min(2*outerNR, N-p*outerNR)
			lanes := 32
			switch {
			case nn <= 8:
				lanes = 8
			case nn <= 16:
				lanes = 16
			}
			var pf []float32 // one panel: nothing reuses the group, fetch the next one meanwhile
			if n := m + wideMR; np == 1 && w.DType == F32 && n+wideMR <= hi {
				pf = w.F32[n*K : (n+wideMR)*K]
			}
			outer12F32(tile, wb, ldw, xt[p*outerNR*K:], outerNR*K, K, lanes, pf)
			storeTile12(out[p*outerNR*M+m:], M, tile, lanes, nn, rows, ones[:], &beta, &bias, false)
			p += (lanes + outerNR - 1) / outerNR
		}
	}
}

// wideRangeQ8 is wideRange for int8 weights with VNNI: x was quantised
// per row (xq = round(x/xs) + 128 as bytes, packed by packXQ), so the
// tile holds F = Σ_b s_b·Σ w·xq and the result is xs·(F - 128·Σ w).
func wideRangeQ8(out []float32, xq []byte, xs []float32, w *Mat, b []float32, N, lo, hi int, buf []float32) {
	K, M := w.Cols, w.Rows
	nb := K / Q8Block
	np := (N + outerNR - 1) / outerNR
	tile := buf[:wideMR*outerNR]
	var beta, bias [16]float32
	for m := lo; m < hi; m += wideMR {
		rows := min(wideMR, hi-m)
		// The tile reads 12 rows: for a last group of fewer, rows past
		// hi (another thread's, or before m at the end of w) are read
		// and not stored.
		m0 := min(m, w.Rows-wideMR)
		w8 := q8Rows(w, m0, wideMR, int8View(buf[wideMR*outerNR:]))
		for j := range wideMR {
			beta[j], bias[j] = 0, 0
			if j < rows {
				beta[j] = -128 * w.Sums[m+j]
				if b != nil {
					bias[j] = b[m+j]
				}
			}
		}
		for p := range np {
			nn := min(outerNR, N-p*outerNR)
			lanes := 16
			if nn <= 8 {
				lanes = 8
			}
			xp := xq[p*outerNR*K:]
			var pf []int8 // one panel: nothing reuses the group, fetch the next one meanwhile
			if n := m + wideMR; np == 1 && w.DType == Q8 && n+wideMR <= hi {
				pf = w.Q8[n*K : (n+wideMR)*K]
			}
			vnni12Q8(tile, w8, K, w.Scales[m0*nb:], nb, xp, nb, lanes, pf)
			t := tile[(m-m0)*lanes:]
			storeTile12(out[p*outerNR*M+m:], M, t, lanes, nn, rows, xs[p*outerNR:], &beta, &bias, false)
		}
	}
}

// packXQ quantises rows [16p, 16p+16) of x [N, K], for p in [plo, phi),
// into panels of bytes: xq[p*16*K + (k/4)*64 + 4i + k%4] = round(x[16p+i,
// k]/xs[16p+i]) + 128, with xs[n] = max|x[n, :]|/127 (symmetric, per row).
// Bytes of rows past N are left as they are (their results are never
// stored).
func packXQ(xq []byte, xs, x []float32, N, K, plo, phi int) {
	for p := plo; p < phi; p++ {
		for i := range outerNR {
			n := p*outerNR + i
			if n >= N {
				break
			}
			xs[n] = quantPackRow(xq[p*outerNR*K+4*i:], x[n*K:(n+1)*K])
		}
	}
}
