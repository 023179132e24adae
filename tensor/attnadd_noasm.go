//go:build !amd64 || !gc || purego

package tensor

func attnValuesAdd(y, a, v []float32, ldv int) { attnValuesAddGeneric(y, a, v, ldv) }
