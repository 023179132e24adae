package tensor

// The int8 GEMV of 4-bit weights with VNNI (decode, AVX-512): each 32
// bytes of a row (two blocks of 32 weights) are split into their nibbles
// in registers, low nibbles then high ones, and multiplied by x quantised
// to bytes in that same order (xpermQ4, once per call), so the weights go
// from memory to VPDPBUSD at half a byte each, never unpacked to int8 in
// memory.

// q4XPos returns where xpermQ4 puts x value n: within each 64 values, the
// low nibbles of blocks b and b+1 (values 0-15, 32-47) first, then the
// high ones (16-31, 48-63).
func q4XPos(n int) int {
	r := n % 64
	bb, j := r/32, r%32
	pos := bb*16 + j
	if j >= 16 {
		pos = 32 + bb*16 + j - 16
	}
	return n - r + pos
}

// xpermQ4 writes the bytes of x (quantised, k a multiple of 64) in the
// order of the 4-bit kernel: dst[q4XPos(n)] = src[n].
func xpermQ4(dst, src []byte) {
	dst = dst[:len(src)]
	for c := 0; c+64 <= len(src); c += 64 {
		s, d := src[c:c+64], dst[c:c+64]
		copy(d[0:16], s[0:16])
		copy(d[16:32], s[32:48])
		copy(d[32:48], s[16:32])
		copy(d[48:64], s[48:64])
	}
}

// q4VNNIRows reports whether the 4-bit GEMV reads w directly (AVX-512,
// rows of a multiple of 64 values).
func q4VNNIRows(w *Mat) bool { return useAVX512 && w.DType == Q4 && w.Cols%64 == 0 }

// gemvRowsQ4VNNIGeneric computes, for the len(out) rows of 4-bit weights
// q (block scales s) and x quantised to bytes in xpermQ4's order (xp, k
// = len(xp)): out[i] = Σ_b s[i*k/32+b]·Σ_{j<32} q4(i, 32b+j)·xp[q4XPos(32b+j)].
func gemvRowsQ4VNNIGeneric(out []float32, q []uint8, s []float32, xp []byte) {
	k := len(xp)
	nb := k / Q8Block
	var w [Q8Block]int8
	for i := range out {
		var f float32
		for b := range nb {
			unpackQ4Generic(w[:], q[i*k/2+16*b:i*k/2+16*b+16])
			var acc int32
			for j, v := range w {
				acc += int32(v) * int32(xp[q4XPos(32*b+j)])
			}
			f += s[i*nb+b] * float32(acc)
		}
		out[i] = f
	}
}
