//go:build !amd64 || !gc || purego

package profile

func sum(x []float32) float32      { return sumGeneric(x) }
func fma(n int, a float32) float32 { return fmaGeneric(n, a) }
func kernelName() string           { return "generic" }
func fmaFLOPsPerIter() int         { return fmaFLOPs8 }
