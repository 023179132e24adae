//go:build gc && !purego

package tensor

import "testing"

// forEachVariant runs f once per kernel variant this build can run,
// flipping useAVX2FMA and useAVX512 (blake2b's TestHashes pattern):
// "generic", "avx2" (the AVX2 kernels, as GPT2BENCH_NOAVX512 leaves them)
// and "avx512".
func forEachVariant(t testing.TB, f func(name string)) {
	saved, saved512 := useAVX2FMA, useAVX512
	defer func() { useAVX2FMA, useAVX512 = saved, saved512 }()
	useAVX2FMA, useAVX512 = false, false
	f("generic")
	if hasAVX2FMA() {
		useAVX2FMA = true
		f("avx2")
	}
	if hasAVX512() {
		useAVX512 = true
		f("avx512")
	}
}

func hasAVX2FMA() bool { return detected }
func hasAVX512() bool  { return detected512 }

// cpuHas reports what the CPU can run, whatever the environment turned off.
func cpuHas() (avx2, avx512 bool) { return cpuAVX2FMA(), cpuAVX512() }

// detected and detected512 are what init chose before any test flipped them.
var detected, detected512 = useAVX2FMA, useAVX512
