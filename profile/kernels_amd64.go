//go:build gc && !purego

package profile

import "golang.org/x/sys/cpu"

// useAVX2 is true when the assembly kernels can run, useAVX512 when the
// FMA loop can run in 512-bit registers (both set once).
var (
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useAVX512 = useAVX2 && cpu.X86.HasAVX512F
)

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

// fmaAVX512 is fmaAVX2 on zmm registers: 12 independent 16-wide FMAs, 384
// FLOPs per iteration:
//
//	for range n { for j := range 12 { acc[j] += a * a } } // 16 lanes each
//
//go:noescape
func fmaAVX512(n int, a float32) float32

func sum(x []float32) float32 {
	if !useAVX2 {
		return sumGeneric(x)
	}
	n := len(x) &^ 63
	s := sumAVX2(x[:n])
	return s + sumGeneric(x[n:])
}

func fma(n int, a float32) float32 {
	switch {
	case useAVX512:
		return fmaAVX512(n, a)
	case useAVX2:
		return fmaAVX2(n, a)
	}
	return fmaGeneric(n, a)
}

// fmaFLOPsPerIter is the FLOPs of one iteration of the FMA kernel fma runs.
func fmaFLOPsPerIter() int {
	if useAVX512 {
		return 2 * fmaFLOPs8
	}
	return fmaFLOPs8
}

// KernelName names the code Calibrate measures with: "avx512-fma",
// "avx2-fma" (assembly) or "generic" (pure Go); cached limits measured by
// other kernels are measured again (LoadLimits).
func KernelName() string {
	switch {
	case useAVX512:
		return "avx512-fma"
	case useAVX2:
		return "avx2-fma"
	}
	return "generic"
}
