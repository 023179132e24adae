package tensor

import "fmt"

// AttnScores computes one query's scaled dot products with n cached keys
// (the first stage of attention):
//
//	scores[p] = scale · Σ_j q[j]·k[p*ldk+j]     p < n = len(scores)
//
//	q      [HS]
//	k      [n, ldk]   keys of one head, row p at k[p*ldk:], ldk >= HS (C in a [.., T, C] cache)
//	scores [n]
//
// FLOPs 2·n·HS. It panics if k is too short. It does not allocate.
func AttnScores(scores, q, k []float32, ldk int, scale float32) {
	n, hs := len(scores), len(q)
	if n == 0 {
		return
	}
	if ldk < hs || len(k) < (n-1)*ldk+hs {
		panic(fmt.Sprintf("tensor: AttnScores: len(k) %d too short for %d rows of stride %d and width %d", len(k), n, ldk, hs))
	}
	attnScores(scores, q, k, ldk, scale)
}

// attnScoresGeneric is AttnScores with 4-row GEMV kernels.
func attnScoresGeneric(scores, q, k []float32, ldk int, scale float32) {
	n, hs := len(scores), len(q)
	var t4 [4]float32
	p := 0
	for ; p+4 <= n; p += 4 {
		gemv4F32(&t4, k[p*ldk:], ldk, q)
		s := scores[p : p+4]
		for i := range s {
			s[i] = t4[i] * scale
		}
	}
	for ; p < n; p++ {
		scores[p] = dot(q, k[p*ldk:p*ldk+hs]) * scale
	}
}

// AttnValues computes one query's output from its attention weights and n
// cached values (the last stage of attention):
//
//	y[j] = Σ_p a[p]·v[p*ldv+j]     p < n = len(a), j < HS = len(y)
//
//	a [n]
//	v [n, ldv]   values of one head, ldv >= HS
//	y [HS]       overwritten
//
// FLOPs 2·n·HS. It panics if v is too short. It does not allocate.
func AttnValues(y, a, v []float32, ldv int) {
	n, hs := len(a), len(y)
	if n > 0 && (ldv < hs || len(v) < (n-1)*ldv+hs) {
		panic(fmt.Sprintf("tensor: AttnValues: len(v) %d too short for %d rows of stride %d and width %d", len(v), n, ldv, hs))
	}
	attnValues(y, a, v, ldv)
}

// attnValuesGeneric is AttnValues as a loop of Axpy.
func attnValuesGeneric(y, a, v []float32, ldv int) {
	clear(y)
	hs := len(y)
	for p, w := range a {
		axpy(y, w, v[p*ldv:p*ldv+hs])
	}
}
