//go:build gc && !purego

package profile

import (
	"fmt"
	"testing"
)

func TestFMAKernels(t *testing.T) {
	for _, k := range []struct {
		name string
		ok   bool
		f    func(int, float32) float32
	}{{"avx2", useAVX2, fmaAVX2}, {"avx512", useAVX512, fmaAVX512}} {
		for _, n := range []int{0, 1, 10, 1000} {
			t.Run(fmt.Sprintf("%s/n=%d", k.name, n), func(t *testing.T) {
				if !k.ok {
					t.Skipf("the CPU lacks %s", k.name)
				}
				// Lane 0 of the sum of 12 accumulators, each n·a·a.
				if got, want := k.f(n, 0.5), float32(12*n)*0.25; got != want {
					t.Errorf("fma %s = %g, want %g", k.name, got, want)
				}
			})
		}
	}
}
