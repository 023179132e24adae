package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestAttnScoresValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, hs := range []int{1, 8, 63, 64, 65} {
		for _, n := range []int{0, 1, 3, 4, 5, 9, 17} {
			ld := hs + 11 // keys of one head inside wider cache rows
			q := randSlice(rng, hs)
			kv := randSlice(rng, n*ld+hs)
			a := randSlice(rng, n)
			forEachVariant(t, func(variant string) {
				name := fmt.Sprintf("%s/HS=%d/n=%d", variant, hs, n)
				const scale = 0.125
				buf, scores := guarded(n, 2)
				AttnScores(scores, q, kv, ld, scale)
				checkGuards(t, buf, 2, n)
				for p, got := range scores {
					var want, mag float64
					for j := range hs {
						v := float64(q[j]) * float64(kv[p*ld+j])
						want += v
						mag += math.Abs(v)
					}
					if math.Abs(float64(got)-scale*want) > scale*(kernelTol*mag)+1e-7 {
						t.Fatalf("%s: scores[%d] = %v, want %v", name, p, got, scale*want)
					}
				}
				ybuf, y := guarded(hs, 3)
				AttnValues(y, a, kv, ld)
				checkGuards(t, ybuf, 3, hs)
				for j, got := range y {
					var want, mag float64
					for p := range n {
						v := float64(a[p]) * float64(kv[p*ld+j])
						want += v
						mag += math.Abs(v)
					}
					if math.Abs(float64(got)-want) > kernelTol*mag+1e-7 {
						t.Fatalf("%s: y[%d] = %v, want %v", name, j, got, want)
					}
				}
			})
		}
	}
}
