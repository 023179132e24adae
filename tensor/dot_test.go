package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotTiles checks runs of the 3×8 dot-product tile of float32 and
// float16 weights against float64 sums: every k up to 5 chunks of 16 (the
// assembly takes multiples of 16, the rest falls back), 1 to 8 rows of x
// stored, runs of 1 to 4 tiles over three streams of rows apart or one row
// read thrice (ls = lds = 0), with and without a bias; out lies inside
// guard bands, and every value it must hold starts as NaN.
func TestDotTiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	forEachVariant(t, func(variant string) {
		for _, dt := range []DType{F32, F16} {
			for k := 1; k <= 5*16+1; k++ {
				for _, c := range []struct{ n, tiles, ls int }{{8, 1, 1}, {8, 4, 5}, {3, 2, 2}, {1, 3, 4}, {5, 2, 0}, {8, 1, 0}} {
					for _, withBias := range []bool{false, true} {
						name := fmt.Sprintf("%s/%v/k=%d/n=%d/tiles=%d/ls=%d/bias=%v", variant, dt, k, c.n, c.tiles, c.ls, withBias)
						checkDotTiles(t, rng, name, dt, k, c.n, c.tiles, c.ls, withBias)
					}
				}
			}
		}
	})
}

// checkDotTiles runs one call of dotTilesF32 or dotTilesF16 and checks it.
func checkDotTiles(t *testing.T, rng *rand.Rand, name string, dt DType, k, n, tiles, ls int, withBias bool) {
	t.Helper()
	lds := ls * k
	if ls > 0 {
		lds += k % 5 // streams need not start on a row
	}
	w32 := randSlice(rng, 2*lds+tiles*k)
	w16 := make([]uint16, len(w32))
	for i, v := range w32 {
		w16[i] = FloatToHalf(v)
		if dt == F16 {
			w32[i] = HalfToFloat(w16[i])
		}
	}
	x := randSlice(rng, 8*k)
	for i := n * k; i < len(x); i++ {
		x[i] = float32(math.NaN()) // rows past n must not matter
	}
	var bias []float32
	if withBias {
		bias = randSlice(rng, 2*ls+tiles)
	}
	ldo := 3*ls + tiles + 3 // out's rows, with a gap after each
	buf, out := guarded((n-1)*ldo+2*ls+tiles, 2)
	want := make(map[int]float64)
	mags := make(map[int]float64)
	for tt := range tiles {
		for j := range 3 {
			for i := range n {
				var s, mag float64
				for kk := range k {
					v := float64(w32[j*lds+tt*k+kk]) * float64(x[i*k+kk])
					s += v
					mag += math.Abs(v)
				}
				if bias != nil {
					s += float64(bias[j*ls+tt])
					mag += math.Abs(float64(bias[j*ls+tt]))
				}
				o := i*ldo + j*ls + tt
				want[o], mags[o] = s, mag
				out[o] = float32(math.NaN())
			}
		}
	}
	before := append([]float32(nil), out...)
	if dt == F16 {
		dotTilesF16(out, ldo, ls, w16, lds, x, k, tiles, bias, n)
	} else {
		dotTilesF32(out, ldo, ls, w32, lds, x, k, tiles, bias, n)
	}
	checkGuards(t, buf, 2, len(out))
	for o, g := range out {
		w, ok := want[o]
		if !ok {
			if g != before[o] && !(g != g && before[o] != before[o]) {
				t.Fatalf("%s: out[%d] = %v written, not part of the result", name, o, g)
			}
			continue
		}
		if math.Abs(float64(g)-w) > kernelTol*mags[o]+1e-6 || g != g {
			t.Fatalf("%s: out[%d] = %v, want %v", name, o, g, w)
		}
	}
}

// TestDotRange checks Linear's dot-product path over row ranges whose
// length leaves every remainder of the three streams (0, 1 and 2 rows
// done one at a time) against the float64 oracle.
func TestDotRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	const K, M = 48, 40
	forEachVariant(t, func(variant string) {
		for _, dt := range []DType{F32, F16} {
			w, _ := NewMat(randSlice(rng, M*K), M, K).Convert(dt)
			b := randSlice(rng, M)
			for _, N := range []int{2, 7, 8} {
				x := randSlice(rng, N*K)
				want, mag := linearOracle(x, w, b, N, ActNone)
				for _, r := range [][2]int{{0, M}, {1, 2}, {3, 5}, {5, 11}, {11, 23}, {23, 40}} {
					buf, out := guarded(N*M, 0)
					for i := range out {
						out[i] = float32(math.NaN())
					}
					dotRange(out, x, w, b, N, r[0], r[1], ActNone, make([]float32, dotScratchLen(K)))
					checkGuards(t, buf, 0, len(out))
					for n := range N {
						for m := range M {
							g := out[n*M+m]
							if m < r[0] || m >= r[1] {
								if g == g {
									t.Fatalf("%s/%v/N=%d/rows %v: out[%d][%d] written", variant, dt, N, r, n, m)
								}
								continue
							}
							i := n*M + m
							if math.Abs(float64(g)-want[i]) > kernelTol*mag[i]+1e-6 || g != g {
								t.Fatalf("%s/%v/N=%d/rows %v: out[%d][%d] = %v, want %v", variant, dt, N, r, n, m, g, want[i])
							}
						}
					}
				}
			}
		}
	})
}
