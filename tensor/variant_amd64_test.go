//go:build gc && !purego

package tensor

import "testing"

// forEachVariant runs f once per kernel variant this build can run,
// flipping useAVX2FMA (blake2b's TestHashes pattern).
func forEachVariant(t testing.TB, f func(name string)) {
	saved := useAVX2FMA
	defer func() { useAVX2FMA = saved }()
	useAVX2FMA = false
	f("generic")
	if hasAVX2FMA() {
		useAVX2FMA = true
		f("avx2")
	}
}

func hasAVX2FMA() bool { return detected }

// detected is what init chose before any test flipped it.
var detected = useAVX2FMA
