package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttnValuesAdd checks AttnValuesAdd against a float64 sum added to
// what y held, inside guard bands, for head sizes 64 (the assembly) and 24
// and value counts from 1 to 13 at a stride wider than the head.
func TestAttnValuesAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	forEachVariant(t, func(variant string) {
		for _, hs := range []int{64, 24} {
			for n := 0; n <= 13; n++ {
				ld := hs*3 + 1
				name := fmt.Sprintf("%s/hs=%d/n=%d", variant, hs, n)
				v := randSlice(rng, max(n-1, 0)*ld+hs)
				a := randSlice(rng, n)
				buf, y := guarded(hs, 1)
				for j := range y {
					y[j] = float32(j%7) - 3
				}
				base := append([]float32(nil), y...)
				AttnValuesAdd(y, a, v, ld)
				checkGuards(t, buf, 1, hs)
				for j := range hs {
					want, mag := float64(base[j]), math.Abs(float64(base[j]))
					for p := range n {
						want += float64(a[p]) * float64(v[p*ld+j])
						mag += math.Abs(float64(a[p]) * float64(v[p*ld+j]))
					}
					if math.Abs(float64(y[j])-want) > kernelTol*mag+1e-7 {
						t.Fatalf("%s: y[%d] = %v, want %v", name, j, y[j], want)
					}
				}
			}
		}
	})
}

// TestAttnValuesAddShort checks that a value slice too short panics.
func TestAttnValuesAddShort(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short v")
		}
	}()
	AttnValuesAdd(make([]float32, 64), make([]float32, 3), make([]float32, 2*64+63), 64)
}

// BenchmarkAttnValuesPaged times the values stage of one decode row's head
// over 512 cached positions in blocks of 32 (the engine's paged cache):
// AttnValuesAdd per block against an Axpy per position (what the ragged
// step did before).
//
//	go test ./tensor -run '^$' -bench AttnValuesPaged -count 5
func BenchmarkAttnValuesPaged(b *testing.B) {
	const n, bs, hs, ld = 512, 32, 64, 768
	rng := rand.New(rand.NewPCG(1, 2))
	v := randSlice(rng, (n-1)*ld+hs)
	a := randSlice(rng, n)
	y := make([]float32, hs)
	for _, impl := range []string{"add", "axpy"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.SetBytes(4 * n * hs)
			for b.Loop() {
				AttnValues(y, a[:bs], v[:(bs-1)*ld+hs], ld)
				for p0 := bs; p0 < n; p0 += bs {
					if impl == "add" {
						AttnValuesAdd(y, a[p0:p0+bs], v[p0*ld:(p0+bs-1)*ld+hs], ld)
						continue
					}
					for j, w := range a[p0 : p0+bs] {
						Axpy(y, w, v[(p0+j)*ld:(p0+j)*ld+hs])
					}
				}
			}
		})
	}
}
