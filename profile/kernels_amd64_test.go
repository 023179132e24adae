//go:build gc && !purego

package profile

import (
	"fmt"
	"testing"
)

func TestFMAAVX2(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA")
	}
	for _, n := range []int{1, 10, 1000} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			// Lane 0 of the sum of 12 accumulators, each n·a·a.
			if got, want := fmaAVX2(n, 0.5), float32(12*n)*0.25; got != want {
				t.Errorf("fmaAVX2 = %g, want %g", got, want)
			}
		})
	}
}
