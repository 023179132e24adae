package profile

import (
	"fmt"
	"math"
	"testing"
)

// TestFMA checks that the FMA kernels do the work they claim.
func TestFMA(t *testing.T) {
	for _, n := range []int{0, 1, 10} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			// Generic: 12 accumulators, 8 multiply-adds each per iteration.
			if got, want := fmaGeneric(n, 0.5), float32(96*n)*0.25; got != want {
				t.Errorf("fmaGeneric = %g, want %g", got, want)
			}
			// Either kernel: proportional to n.
			got := fma(n, 0.5)
			if n == 0 && got != 0 || n > 0 && !(got > 0) || math.IsNaN(float64(got)) {
				t.Errorf("fma(%d) = %g", n, got)
			}
		})
	}
}
