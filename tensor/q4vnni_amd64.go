//go:build gc && !purego

package tensor

// gemvRowsQ4VNNIAVX512 is the 4-bit GEMV with x quantised and permuted
// (see gemvRowsQ4VNNIGeneric); k a multiple of 64.
//
//go:noescape
func gemvRowsQ4VNNIAVX512(out *float32, q *uint8, s *float32, xp *byte, k, rows int)

func gemvRowsQ4VNNI(out []float32, q []uint8, s []float32, xp []byte) {
	k, rows := len(xp), len(out)
	if !useAVX512 || k%64 != 0 || k == 0 || rows == 0 {
		gemvRowsQ4VNNIGeneric(out, q, s, xp)
		return
	}
	q = q[:rows*k/2]
	s = s[:rows*k/Q8Block]
	gemvRowsQ4VNNIAVX512(&out[0], &q[0], &s[0], &xp[0], k, rows)
}
