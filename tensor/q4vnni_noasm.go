//go:build !amd64 || !gc || purego

package tensor

func gemvRowsQ4VNNI(out []float32, q []uint8, s []float32, xp []byte) {
	gemvRowsQ4VNNIGeneric(out, q, s, xp)
}
