package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttnCausal checks the fused attention against a float64 softmax
// attention, inside guard bands, over query blocks that start at
// position 0 (prefill) and after a cache (chunked prefill), with key
// counts that are and are not multiples of FlashKeys, head sizes 64
// (the fused path) and 5 (row by row).
func TestAttnCausal(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	forEachVariant(t, func(variant string) {
		for _, hs := range []int{64, 5} {
			for _, c := range []struct{ P, nq int }{{0, 1}, {0, 7}, {0, 16}, {0, 33}, {0, 70}, {31, 1}, {32, 5}, {40, 50}, {47, 2}, {100, 3}, {130, 17}} {
				name := fmt.Sprintf("%s/hs=%d/P=%d/nq=%d", variant, hs, c.P, c.nq)
				ld := hs + 3 // heads side by side: rows longer than hs
				n := c.P + c.nq
				k, v := randSlice(rng, n*ld), randSlice(rng, n*ld)
				q := randSlice(rng, c.nq*ld)
				for i := range q {
					q[i] *= 2 // peaked softmax: the running maximum changes across blocks
				}
				scale := float32(1 / math.Sqrt(float64(hs)))
				buf, y := guarded((c.nq-1)*ld+hs, 1)
				s := make([]float32, AttnCausalScratch(n, hs))
				AttnCausal(y, ld, q, ld, k[:(n-1)*ld+hs], v[:(n-1)*ld+hs], ld, c.P, c.nq, hs, scale, s)
				checkGuards(t, buf, 1, len(y))
				for i := range c.nq {
					vis := c.P + i + 1
					sc := make([]float64, vis)
					mx := math.Inf(-1)
					for p := range vis {
						var d float64
						for j := range hs {
							d += float64(q[i*ld+j]) * float64(k[p*ld+j])
						}
						sc[p] = d * float64(scale)
						mx = math.Max(mx, sc[p])
					}
					var sum float64
					for p := range sc {
						sc[p] = math.Exp(sc[p] - mx)
						sum += sc[p]
					}
					for j := range hs {
						var want, mag float64
						for p := range vis {
							a := sc[p] / sum
							want += a * float64(v[p*ld+j])
							mag += math.Abs(a * float64(v[p*ld+j]))
						}
						got := y[i*ld+j]
						if math.Abs(float64(got)-want) > 1e-5*mag+1e-6 {
							t.Fatalf("%s: y[%d][%d] = %v, want %v", name, i, j, got, want)
						}
					}
					for j := hs; j < ld && i < c.nq-1; j++ {
						if y[i*ld+j] != guard {
							t.Fatalf("%s: y[%d][%d] written (past hs)", name, i, j)
						}
					}
				}
			}
		}
	})
}

// TestAttnCausalAllocs checks that the fused attention allocates nothing.
func TestAttnCausalAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	const hs, nq, P, ld = 64, 20, 50, 768
	k, v, q := randSlice(rng, (P+nq)*ld), randSlice(rng, (P+nq)*ld), randSlice(rng, nq*ld)
	y := make([]float32, nq*ld)
	s := make([]float32, AttnCausalScratch(P+nq, hs))
	if a := testing.AllocsPerRun(10, func() { AttnCausal(y, ld, q, ld, k, v, ld, P, nq, hs, 0.125, s) }); a != 0 {
		t.Errorf("%v allocs per AttnCausal, want 0", a)
	}
}

// BenchmarkAttnCausal compares one head's causal attention over a prompt
// of T positions (prefill, P = 0) and one row at depth P (decode), fused
// (path=fused: AttnCausal) and as three passes over a materialised row of
// scores (path=threepass: AttnScores, Softmax, AttnValues per row, what
// the session ran before), on one thread. GFLOP/s counts 4·HS per
// (row, visible position).
//
//	go test ./tensor -run '^$' -bench AttnCausal -count 6 | benchstat -col /path -
func BenchmarkAttnCausal(b *testing.B) {
	const C, HS = 768, 64
	rng := rand.New(rand.NewPCG(45, 46))
	for _, c := range []struct{ P, T int }{{0, 128}, {0, 512}, {0, 896}, {512, 1}, {896, 1}} {
		n := c.P + c.T
		k, v, q := randSlice(rng, n*C), randSlice(rng, n*C), randSlice(rng, c.T*C)
		y := make([]float32, c.T*C)
		att := make([]float32, n)
		s := make([]float32, AttnCausalScratch(n, HS))
		flops := 0.0
		for i := range c.T {
			flops += 4 * HS * float64(c.P+i+1)
		}
		for _, path := range []string{"threepass", "fused"} {
			b.Run(fmt.Sprintf("P=%d/T=%d/path=%s", c.P, c.T, path), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if path == "fused" {
						AttnCausal(y, C, q, C, k[:(n-1)*C+HS], v[:(n-1)*C+HS], C, c.P, c.T, HS, 0.125, s)
						continue
					}
					for i := range c.T {
						vis := c.P + i + 1
						sc := att[:vis]
						AttnScores(sc, q[i*C:i*C+HS], k[:(vis-1)*C+HS], C, 0.125)
						Softmax(sc)
						AttnValues(y[i*C:i*C+HS], sc, v[:(vis-1)*C+HS], C)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestFlashKernels checks the online-softmax step and the rescale-and-add
// of the fused path against their generic versions, inside guard bands.
func TestFlashKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	forEachVariant(t, func(variant string) {
		for nk := 1; nk <= 49; nk += 6 {
			sc := randSlice(rng, nk*16)
			sc[3] = float32(math.Inf(-1)) // a masked key
			var st, want [48]float32
			for i := range 16 {
				st[i], st[16+i] = float32(rng.NormFloat64()), float32(rng.Float64())
			}
			if nk == 1 {
				st[5], st[16+5] = float32(math.Inf(-1)), 0 // a first block
			}
			want = st
			ws := append([]float32(nil), sc...)
			flashSoftmax16Generic(ws, nk, &want)
			buf, s := guarded(nk*16, 1)
			copy(s, sc)
			flashSoftmax16(s, nk, &st)
			checkGuards(t, buf, 1, len(s))
			for i, g := range s {
				if math.Abs(float64(g-ws[i])) > 1e-6*math.Abs(float64(ws[i]))+1e-30 {
					t.Fatalf("%s/nk=%d: p[%d] = %v, want %v", variant, nk, i, g, ws[i])
				}
			}
			for i := range st {
				if math.Abs(float64(st[i]-want[i])) > 1e-6*math.Abs(float64(want[i]))+1e-30 {
					t.Fatalf("%s/nk=%d: state[%d] = %v, want %v", variant, nk, i, st[i], want[i])
				}
			}
			for r := 1; r <= 6; r++ {
				const ldo, ldv = 70, 67
				p := randSlice(rng, (nk-1)*16+r)
				v := randSlice(rng, (nk-1)*ldv+64)
				corr := randSlice(rng, r)
				buf, o := guarded((r-1)*ldo+64, 2)
				for i := range o {
					o[i] = float32(i % 5)
				}
				wantO := append([]float32(nil), o...)
				pvRowsGeneric(wantO, ldo, p, v, ldv, nk, corr, r)
				pvRows(o, ldo, p, v, ldv, nk, corr, r)
				checkGuards(t, buf, 2, len(o))
				for i := range o {
					if math.Abs(float64(o[i]-wantO[i])) > 1e-5*(1+math.Abs(float64(wantO[i]))) {
						t.Fatalf("%s/nk=%d/r=%d: o[%d] = %v, want %v", variant, nk, r, i, o[i], wantO[i])
					}
				}
			}
		}
	})
}

// TestAttnCausalPaged checks the paged form against the contiguous one on
// the same keys and values scattered over shuffled blocks (of sizes that
// do and do not divide the key blocks), row path and fused path.
func TestAttnCausalPaged(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 50))
	forEachVariant(t, func(variant string) {
		for _, bs := range []int{1, 5, 16, 32, 100} {
			for _, c := range []struct{ P, nq int }{{0, 9}, {0, 40}, {37, 1}, {37, 20}, {70, 64}} {
				const hs, ld = 64, 64 * 3
				n := c.P + c.nq
				nb := (n + bs - 1) / bs
				k, v := randSlice(rng, n*ld), randSlice(rng, n*ld)
				q := randSlice(rng, c.nq*ld)
				const head = 64 // the second head of three
				pool := 2*nb + 1
				pk, pv := make([]float32, pool*bs*ld), make([]float32, pool*bs*ld)
				for i := range pk {
					pk[i], pv[i] = float32(math.NaN()), float32(math.NaN()) // unread
				}
				blocks := make([]int32, nb)
				for b, r := range rng.Perm(pool)[:nb] {
					blocks[b] = int32(r)
				}
				for p := range n {
					o := int(blocks[p/bs])*bs*ld + p%bs*ld
					copy(pk[o:o+ld], k[p*ld:(p+1)*ld])
					copy(pv[o:o+ld], v[p*ld:(p+1)*ld])
				}
				s := make([]float32, AttnCausalScratch(n, hs))
				want, got := make([]float32, c.nq*ld), make([]float32, c.nq*ld)
				AttnCausal(want[head:], ld, q[head:], ld, k[head:], v[head:], ld, c.P, c.nq, hs, 0.125, s)
				AttnCausalPaged(got[head:], ld, q[head:], ld, pk, pv, ld, blocks, bs, head, c.P, c.nq, hs, 0.125, s)
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) || got[i] != got[i] {
						t.Fatalf("%s/bs=%d/P=%d/nq=%d: y[%d] = %v, contiguous %v", variant, bs, c.P, c.nq, i, got[i], want[i])
					}
				}
			}
		}
	})
}
