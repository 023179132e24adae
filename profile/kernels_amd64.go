//go:build gc && !purego

package profile

import (
	"golang.org/x/sys/cpu"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// useAVX2 is true when the assembly kernels can run, useAVX512 when the
// FMA loop can run in 512-bit registers (both set once).
var (
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useAVX512 = useAVX2 && cpu.X86.HasAVX512F
)

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

// KernelName names the code Calibrate measures with: the FMA loop
// ("avx512-fma", "avx2-fma" in assembly, or "generic") and tensor.Sum's
// read (its tensor.Kernels variant), as "avx512-fma, avx512 read"; cached
// limits measured by other kernels are measured again (LoadLimits).
func KernelName() string {
	f := "generic"
	switch {
	case useAVX512:
		f = "avx512-fma"
	case useAVX2:
		f = "avx2-fma"
	}
	return f + ", " + tensor.Kernels() + " read"
}
