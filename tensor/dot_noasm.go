//go:build !amd64 || !gc || purego

package tensor

func dot3x8F32(dst *[24]float32, w []float32, ldw int, x []float32, ldx, k int) {
	dot3x8F32Generic(dst, w, ldw, x, ldx, k)
}

func dot3x8F16(dst *[24]float32, w []uint16, ldw int, x []float32, ldx, k int) {
	dot3x8F16Generic(dst, w, ldw, x, ldx, k)
}
