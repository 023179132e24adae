package tensor

// The kernels the forward pass calls. Assembly variants replace these on
// amd64; until then the pure-Go loops run everywhere.
func dot(a, b []float32) float32                 { return dotGeneric(a, b) }
func axpy(dst []float32, a float32, x []float32) { axpyGeneric(dst, a, x) }
func linearF32(out, x, w, b []float32, N, K, M, lo, hi int) {
	linearF32Generic(out, x, w, b, N, K, M, lo, hi)
}
