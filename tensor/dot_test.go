package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotTiles checks the 3×8 dot-product tiles of float32 and float16
// weights against float64 sums, for every k up to 5 chunks of 16 (the
// assembly takes multiples of 16, the rest falls back), rows ldw apart
// or one row read thrice (ldw 0), inside guard bands.
func TestDotTiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	forEachVariant(t, func(variant string) {
		for _, dt := range []DType{F32, F16} {
			for k := 1; k <= 5*16+1; k++ {
				for _, ldw0 := range []bool{false, true} {
					off := k % 3
					ldw, ldx := k+off+3, k+2*off+1
					if ldw0 {
						ldw = 0
					}
					name := fmt.Sprintf("%s/%v/k=%d/ldw=%d", variant, dt, k, ldw)
					w32 := randSlice(rng, 2*ldw+k)
					w16 := make([]uint16, len(w32))
					for i, v := range w32 {
						w16[i] = FloatToHalf(v)
						if dt == F16 {
							w32[i] = HalfToFloat(w16[i])
						}
					}
					xbuf := randSlice(rng, off+7*ldx+k)
					x := xbuf[off:]
					// dst between guard bands; NaN where every value must be written.
					var g struct {
						pre  [16]float32
						dst  [24]float32
						post [16]float32
					}
					for i := range g.pre {
						g.pre[i], g.post[i] = guard, guard
					}
					for i := range g.dst {
						g.dst[i] = float32(math.NaN())
					}
					if dt == F16 {
						dot3x8F16(&g.dst, w16, ldw, x, ldx, k)
					} else {
						dot3x8F32(&g.dst, w32, ldw, x, ldx, k)
					}
					for i := range g.pre {
						if g.pre[i] != guard || g.post[i] != guard {
							t.Fatalf("%s: wrote outside dst", name)
						}
					}
					dst := g.dst
					for j := range 3 {
						for i := range 8 {
							var want, mag float64
							for kk := range k {
								v := float64(w32[j*ldw+kk]) * float64(x[i*ldx+kk])
								want += v
								mag += math.Abs(v)
							}
							if got := dst[j*8+i]; math.Abs(float64(got)-want) > kernelTol*mag+1e-6 || got != got {
								t.Fatalf("%s: dst[%d][%d] = %v, want %v", name, j, i, got, want)
							}
						}
					}
				}
			}
		}
	})
}
