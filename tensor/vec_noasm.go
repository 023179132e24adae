//go:build !amd64 || !gc || purego

package tensor

func dot(a, b []float32) float32                 { return dotGeneric(a, b) }
func axpy(dst []float32, a float32, x []float32) { axpyGeneric(dst, a, x) }

func attnValues(y, a, v []float32, ldv int) { attnValuesGeneric(y, a, v, ldv) }

func attnScores(scores, q, k []float32, ldk int, scale float32) {
	attnScoresGeneric(scores, q, k, ldk, scale)
}
