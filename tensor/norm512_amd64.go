//go:build gc && !purego

package tensor

import "math"

// layerNormStatsAVX512 returns the mean and the biased variance of c
// values (two passes, as layerNormRowGeneric):
//
//	mean = Σ x[i] / c;  variance = Σ (x[i] - mean)² / c     // c a multiple of 16
//
//go:noescape
func layerNormStatsAVX512(x *float32, c int) (mean, variance float32)

// layerNormApplyAVX512 normalises, scales and shifts c values:
//
//	for i := range c { out[i] = (x[i] - mean)·rstd·w[i] + b[i] }   // c a multiple of 16
//
//go:noescape
func layerNormApplyAVX512(out, x, w, b *float32, c int, mean, rstd float32)

func layerNormRow(out, x, w, b []float32, eps float32) {
	C := len(x)
	if !useAVX512 || C%16 != 0 || C == 0 {
		layerNormRowGeneric(out, x, w, b, eps)
		return
	}
	out, w, b = out[:C], w[:C], b[:C]
	mean, variance := layerNormStatsAVX512(&x[0], C)
	rstd := float32(1 / math.Sqrt(float64(variance+eps)))
	layerNormApplyAVX512(&out[0], &x[0], &w[0], &b[0], C, mean, rstd)
}
