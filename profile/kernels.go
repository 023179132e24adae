package profile

// The calibration kernels: a streaming float32 sum (memory read bandwidth)
// and a dense float32 FMA loop (peak compute). Pure Go cannot reach either
// limit (no FMA, no vectorised reduction), so amd64 has assembly versions
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

// sumGeneric returns Σ x[i] with eight accumulators.
func sumGeneric(x []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := x[i : i+8 : i+8]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
		s4 += v[4]
		s5 += v[5]
		s6 += v[6]
		s7 += v[7]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

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
