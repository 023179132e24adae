package tensor

import "fmt"

// AttnValuesAdd is AttnValues adding to y instead of overwriting it, for
// the later blocks of a paged KV cache, whose values are not contiguous
// with the first block's:
//
//	y[j] += Σ_p a[p]·v[p*ldv+j]     p < n = len(a), j < HS = len(y)
//
//	a [n]
//	v [n, ldv]   values of one head, ldv >= HS
//	y [HS]       accumulated into
//
// FLOPs 2·n·HS. It panics if v is too short. It does not allocate.
func AttnValuesAdd(y, a, v []float32, ldv int) {
	n, hs := len(a), len(y)
	if n == 0 {
		return
	}
	if ldv < hs || len(v) < (n-1)*ldv+hs {
		panic(fmt.Sprintf("tensor: AttnValuesAdd: len(v) %d too short for %d rows of stride %d and width %d", len(v), n, ldv, hs))
	}
	attnValuesAdd(y, a, v, ldv)
}

// attnValuesAddGeneric is AttnValuesAdd as a loop of Axpy.
func attnValuesAddGeneric(y, a, v []float32, ldv int) {
	hs := len(y)
	for p, w := range a {
		axpy(y, w, v[p*ldv:p*ldv+hs])
	}
}
