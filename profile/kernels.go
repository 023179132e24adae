package profile

import "github.com/gpt2bench/gpt2bench/tensor"

// The calibration kernels: a streaming float32 sum (memory read bandwidth;
// tensor.Sum, in 512-bit loads with AVX-512, 256-bit with AVX2) and a
// dense float32 FMA loop (peak compute). Pure Go cannot reach either limit
// (no FMA, no vectorised reduction), so amd64 has assembly versions
// (kernels_amd64.s) chosen when the CPU has AVX2 and FMA, the FMA loop in
// 512-bit registers when it has AVX-512 (the tensor kernels use them: on a
// core with two 512-bit FMA pipes, Zen 5 or Intel's server cores, that
// doubles the peak over 256-bit FMAs); the generic versions below run
// elsewhere and under the purego tag, and the Limits they produce say so
// (Limits.Kernel).

// fmaFLOPs8 is the FLOPs of one iteration of the 256-bit FMA kernel: 12
// independent 8-wide FMAs (2 FLOPs each per lane). The generic kernel
// uses the same count per iteration (96 multiply-adds).
const fmaFLOPs8 = 12 * 8 * 2

// sum returns Σ x[i], read as one plain stream: tensor.Sum, the widest
// loads the CPU has (the memory-read reference the tensor kernels are
// measured against too).
func sum(x []float32) float32 { return tensor.Sum(x) }

// fmaGeneric runs n iterations of 96 independent multiply-adds
// (acc[j] += a·a on 12 accumulators, 8 times) and returns a sum
// of the accumulators so the work is not dead.
func fmaGeneric(n int, a float32) float32 {
	var acc [12]float32
	for range n {
		for range 8 {
			for j := range acc {
				acc[j] += a * a
			}
		}
	}
	var s float32
	for _, v := range acc {
		s += v
	}
	return s
}
