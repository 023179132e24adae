//go:build gc && !purego

package tensor

// attnValuesAdd64AVX2 adds n rows of 64 values, weighted, to y,
// accumulating in registers (AttnValues clears y and calls it too):
//
//	for j := range 64 { y[j] += Σ_{p<n} a[p] · v[p*ldv+j] }   // n >= 1
//
//go:noescape
func attnValuesAdd64AVX2(y, a, v *float32, ldv, n int)

func attnValuesAdd(y, a, v []float32, ldv int) {
	if !useAVX2FMA || len(y) != 64 {
		attnValuesAddGeneric(y, a, v, ldv)
		return
	}
	v = v[:(len(a)-1)*ldv+64]
	attnValuesAdd64AVX2(&y[0], &a[0], &v[0], ldv, len(a))
}
