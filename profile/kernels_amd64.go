//go:build gc && !purego

package profile

import "golang.org/x/sys/cpu"

// useAVX2 is true when the assembly kernels can run (set once).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sumAVX2 returns Σ x[i] for len(x) a multiple of 64, streaming x through
// eight 8-wide accumulators:
//
//	for i := 0; i < len(x); i += 64 { for j := range 8 { acc[j] += x[i+8j : i+8j+8] } }
//
//go:noescape
func sumAVX2(x []float32) float32

// fmaAVX2 runs n iterations of 12 independent VFMADD231PS on ymm
// registers (acc[j] += a·a, 192 FLOPs per iteration) and returns lane 0 of
// the sum of the accumulators:
//
//	for range n { for j := range 12 { acc[j] += a * a } } // 8 lanes each
//
//go:noescape
func fmaAVX2(n int, a float32) float32

func sum(x []float32) float32 {
	if !useAVX2 {
		return sumGeneric(x)
	}
	n := len(x) &^ 63
	s := sumAVX2(x[:n])
	return s + sumGeneric(x[n:])
}

func fma(n int, a float32) float32 {
	if !useAVX2 {
		return fmaGeneric(n, a)
	}
	return fmaAVX2(n, a)
}

func kernelName() string {
	if useAVX2 {
		return "avx2-fma"
	}
	return "generic"
}
