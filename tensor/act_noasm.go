//go:build !amd64 || !gc || purego

package tensor

func geluTanhSlice(x []float32) { geluTanhGeneric(x) }

func expSub(x []float32, m float32) float32 { return expSubGeneric(x, m) }
