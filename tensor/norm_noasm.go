//go:build !amd64 || !gc || purego

package tensor

func layerNormRow(out, x, w, b []float32, eps float32) { layerNormRowGeneric(out, x, w, b, eps) }
