package tensor

import "math"

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

// outer6x16F32Generic computes dst[i*8+j] = Σ_{kk<k} w[j*ldw+kk]·xt[kk*16+i]
// for 6 weight rows and 16 rows of x packed transposed (see packXT);
// dst[i*8+6:i*8+8] are not written.
func outer6x16F32Generic(dst *[128]float32, w []float32, ldw int, xt []float32, k int) {
	xt = xt[:16*k]
	for j := range 6 {
		wr := w[j*ldw : j*ldw+k]
		var acc [16]float32
		for kk, wv := range wr {
			xv := (*[16]float32)(xt[16*kk : 16*kk+16])
			for i := range acc {
				acc[i] += wv * xv[i]
			}
		}
		for i, v := range acc {
			dst[i*8+j] = v
		}
	}
}

// addTile6Generic stores a tile of outer6x16F32Generic into 16 rows of out:
// out[i*ldo+j] = tile[i*8+j] + bias[j], plus what out held if acc.
func addTile6Generic(out []float32, ldo int, tile *[128]float32, bias *[8]float32, acc bool) {
	for i := range 16 {
		o := out[i*ldo : i*ldo+6]
		for j := range o {
			v := tile[i*8+j] + bias[j]
			if acc {
				v += o[j]
			}
			o[j] = v
		}
	}
}

// packXTGeneric writes rows [16p, 16p+16) of x [N, K], for p in [plo,
// phi), transposed into panels: xt[p*16*K + k*16 + i] = x[(16p+i)*K + k],
// 0 for rows past N.
func packXTGeneric(xt, x []float32, N, K, plo, phi int) {
	for p := plo; p < phi; p++ {
		packXT8Generic(xt[p*16*K:], x, 16*p, N, K)
		packXT8Generic(xt[p*16*K+8:], x, 16*p+8, N, K)
	}
}

// packXT8Generic writes rows [n0, n0+8) of x [N, K] transposed into half
// a panel: dst[k*16 + r] = x[(n0+r)*K + k], 0 for rows past N.
func packXT8Generic(dst, x []float32, n0, N, K int) {
	for r := range 8 {
		n := n0 + r
		if n >= N {
			for k := range K {
				dst[k*16+r] = 0
			}
			continue
		}
		for k, v := range x[n*K : (n+1)*K] {
			dst[k*16+r] = v
		}
	}
}

// outer12F32Generic computes dst[j*p+i] = Σ_{kk<k} w[j*ldw+kk]·x_i[kk]
// for 12 weight rows and the first p (8, 16 or 32) rows of x packed
// transposed (see packXT), x_i[kk] = xt[(i/16)*ldp + kk*16 + i%16]
// (p = 32 spans two panels ldp floats apart): the tile of the AVX-512
// path, by weight row.
func outer12F32Generic(dst, w []float32, ldw int, xt []float32, ldp, k, p int) {
	for j := range 12 {
		wr := w[j*ldw : j*ldw+k]
		acc := dst[j*p : j*p+p]
		for i := range acc {
			x0 := (i/16)*ldp + i%16
			var s float32
			for kk, wv := range wr {
				s += wv * xt[x0+16*kk]
			}
			acc[i] = s
		}
	}
}

// vnni12Q8Generic computes, for 12 int8 weight rows (w, stride ldw, and
// their block scales s, stride lds) and the first p rows of a panel of x
// quantised by packXQ, over kb blocks of 32 columns:
//
//	dst[j*p+i] = Σ_b s[j*lds+b] · Σ_{kk<32} w[j*ldw+32b+kk] · xq[(8b+kk/4)*64 + 4i + kk%4]
//
// with xq read as unsigned bytes (x quantised + 128).
func vnni12Q8Generic(dst []float32, w []int8, ldw int, s []float32, lds int, xq []byte, kb, p int) {
	for j := range 12 {
		for i := range p {
			var f float32
			for b := range kb {
				var acc int32
				for kk := range 32 {
					acc += int32(w[j*ldw+32*b+kk]) * int32(xq[(8*b+kk/4)*64+4*i+kk%4])
				}
				f += s[j*lds+b] * float32(acc)
			}
			dst[j*p+i] = f
		}
	}
}

// storeTile12Generic stores tile [12][lanes] (weight row j, x row i at
// tile[j*lanes+i]) into out: for i < nn, j < rows,
// out[i*ldo+j] = alpha[i]·(tile[j*lanes+i] + beta[j]) + bias[j], plus
// what out held if acc.
func storeTile12Generic(out []float32, ldo int, tile []float32, lanes, nn, rows int, alpha []float32, beta, bias *[16]float32, acc bool) {
	for i := range nn {
		o := out[i*ldo : i*ldo+rows]
		for j := range o {
			v := alpha[i]*(tile[j*lanes+i]+beta[j]) + bias[j]
			if acc {
				v += o[j]
			}
			o[j] = v
		}
	}
}

// quantPackRowGeneric quantises src (one row of x) symmetrically to int8
// with s = max|src|/127, stores each value + 128 as a byte at
// dst[(j/4)*64 + j%4] (one row of a packXQ panel) and returns s.
func quantPackRowGeneric(dst []byte, src []float32) float32 {
	var amax float32
	for _, v := range src {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	var s, inv float32
	if amax != 0 {
		s, inv = amax/127, 127/amax
	}
	for j, v := range src {
		q := int8(math.RoundToEven(float64(v * inv)))
		dst[(j/4)*64+j%4] = byte(q) ^ 0x80
	}
	return s
}

// quantRowGeneric is quantPackRowGeneric with the bytes stored
// contiguously: dst[j] = round(src[j]/s) + 128.
func quantRowGeneric(dst []byte, src []float32) float32 {
	var amax float32
	for _, v := range src {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	var s, inv float32
	if amax != 0 {
		s, inv = amax/127, 127/amax
	}
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] = byte(int8(math.RoundToEven(float64(v*inv)))) ^ 0x80
	}
	return s
}

// gemvRowsQ8VNNIGeneric computes, for the len(out) contiguous int8 rows
// of q (block scales s) and x quantised to bytes (xq, k = len(xq)):
// out[i] = Σ_b s[i*k/32+b] · Σ_{j<32} q[i*k+32b+j]·xq[32b+j].
func gemvRowsQ8VNNIGeneric(out []float32, q []int8, s []float32, xq []byte) {
	k := len(xq)
	nb := k / Q8Block
	for i := range out {
		var f float32
		for b := range nb {
			var acc int32
			for j, v := range q[i*k+32*b : i*k+32*b+32] {
				acc += int32(v) * int32(xq[32*b+j])
			}
			f += s[i*nb+b] * float32(acc)
		}
		out[i] = f
	}
}

// unpackQ4Generic writes the int8 values of n/2 bytes of 4-bit weights
// (Mat.Q4 layout, n a multiple of 32): per block of 32, dst[j] =
// (src[j] & 15) - 8 and dst[j+16] = (src[j] >> 4) - 8, j < 16.
func unpackQ4Generic(dst []int8, src []uint8) {
	for b := 0; b < len(src)/16; b++ {
		s := src[16*b : 16*b+16]
		d := dst[32*b : 32*b+32]
		for j, v := range s {
			d[j] = int8(v&15) - 8
			d[j+16] = int8(v>>4) - 8
		}
	}
}

// widenQ4Generic writes dst[i] = q4(i)·s[i/32] for the len(dst) values
// packed in src.
func widenQ4Generic(dst []float32, src []uint8, s []float32) {
	for b := 0; b < len(dst)/32; b++ {
		sc := s[b]
		for j, v := range src[16*b : 16*b+16] {
			dst[32*b+j] = float32(int8(v&15)-8) * sc
			dst[32*b+j+16] = float32(int8(v>>4)-8) * sc
		}
	}
}
