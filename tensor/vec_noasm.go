//go:build !amd64 || !gc || purego

package tensor

func dot(a, b []float32) float32                 { return dotGeneric(a, b) }
func sum(x []float32) float32                    { return sumGeneric(x) }
func axpy(dst []float32, a float32, x []float32) { axpyGeneric(dst, a, x) }

func attnValues(y, a, v []float32, ldv int) { attnValuesGeneric(y, a, v, ldv) }

func attnScores(scores, q, k []float32, ldk int, scale float32) {
	attnScoresGeneric(scores, q, k, ldk, scale)
}

func attnScoresF16(scores, q []float32, k []uint16, ldk int, scale float32) {
	attnScoresF16Generic(scores, q, k, ldk, scale)
}

func attnValuesAddF16(y, a []float32, v []uint16, ldv int) { attnValuesAddF16Generic(y, a, v, ldv) }

func narrowF16(dst []uint16, src []float32) { narrowF16Generic(dst, src) }

func widenRows64F16(dst []float32, src []uint16, lds, rows int) {
	widenRows64F16Generic(dst, src, lds, rows)
}
