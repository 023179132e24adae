package profile

import (
	"fmt"
	"math"
	"testing"
)

// TestSum checks the bandwidth kernel (assembly where available) against
// the plain loop over lengths around the 64-float block and misaligned
// starts; the values are small integers, so float32 sums are exact.
func TestSum(t *testing.T) {
	for _, n := range []int{0, 1, 7, 63, 64, 65, 127, 128, 200, 1000} {
		for _, off := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("n=%d/off=%d", n, off), func(t *testing.T) {
				buf := make([]float32, n+off+8)
				for i := range buf {
					buf[i] = 1000 // guard
				}
				x := buf[off : off+n]
				var want float32
				for i := range x {
					x[i] = float32(i%5) - 2 + float32(i%3)
					want += x[i]
				}
				if got := sum(x); got != want {
					t.Errorf("sum = %g, want %g", got, want)
				}
				if got := sumGeneric(x); got != want {
					t.Errorf("sumGeneric = %g, want %g", got, want)
				}
			})
		}
	}
}

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
