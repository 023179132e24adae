package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// halves rounds s to half precision: the stored cache and, widened, the
// float32 values it stands for.
func halves(s []float32) (h []uint16, w []float32) {
	h, w = make([]uint16, len(s)), make([]float32, len(s))
	for i, f := range s {
		h[i] = FloatToHalf(f)
		w[i] = HalfToFloat(h[i])
	}
	return h, w
}

// TestNarrowF16 checks NarrowF16 against FloatToHalf bit for bit, over
// normal, subnormal, overflowing and special values, inside guard bands.
func TestNarrowF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	const g = 0xabcd
	forEachVariant(t, func(variant string) {
		for n := 0; n <= 41; n++ {
			for _, off := range []int{0, 1, 3} {
				src := make([]float32, n)
				for i := range src {
					src[i] = float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(50)-30))) // 2^-30 .. 2^20: subnormal halves to overflow
				}
				if n > 5 {
					src[0], src[1], src[2] = float32(math.Inf(1)), float32(math.Copysign(0, -1)), 65520 // rounds up to Inf
					src[3], src[4] = 1+1.0/2048, 1+3.0/2048                                             // ties: to even
				}
				buf := make([]uint16, guardLen+off+n+guardLen)
				for i := range buf {
					buf[i] = g
				}
				dst := buf[guardLen+off : guardLen+off+n]
				NarrowF16(dst, src)
				for i, f := range src {
					if want := FloatToHalf(f); dst[i] != want {
						t.Fatalf("%s/n=%d/off=%d: NarrowF16(%g) = %#04x, want %#04x", variant, n, off, f, dst[i], want)
					}
				}
				for i, v := range buf {
					if (i < guardLen+off || i >= guardLen+off+n) && v != g {
						t.Fatalf("%s/n=%d/off=%d: stray write at %d", variant, n, off, i)
					}
				}
			}
		}
		nan := []float32{float32(math.NaN()), 1, 2, 3, 4, 5, 6, 7}
		h := make([]uint16, len(nan))
		NarrowF16(h, nan)
		if f := HalfToFloat(h[0]); f == f {
			t.Errorf("%s: NarrowF16(NaN) = %#04x, not a NaN", variant, h[0])
		}
	})
}

// TestAttnF16Kernels checks AttnScoresF16 and AttnValuesF16/AddF16
// against float64 sums over the widened halves, inside guard bands, for
// head sizes 64 (the assembly) and 24, key counts around the 4-row groups.
func TestAttnF16Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	forEachVariant(t, func(variant string) {
		for _, hs := range []int{64, 24} {
			for n := 1; n <= 13; n++ {
				ld := hs*3 + 1
				name := fmt.Sprintf("%s/hs=%d/n=%d", variant, hs, n)
				kh, kw := halves(randSlice(rng, (n-1)*ld+hs))
				vh, vw := halves(randSlice(rng, (n-1)*ld+hs))
				q := randSlice(rng, hs)
				buf, sc := guarded(n, 3)
				AttnScoresF16(sc, q, kh, ld, 0.125)
				checkGuards(t, buf, 3, n)
				for p := range n {
					var want, mag float64
					for j := range hs {
						want += float64(q[j]) * float64(kw[p*ld+j])
						mag += math.Abs(float64(q[j]) * float64(kw[p*ld+j]))
					}
					if math.Abs(float64(sc[p])-0.125*want) > 0.125*(kernelTol*mag)+1e-7 {
						t.Fatalf("%s: scores[%d] = %v, want %v", name, p, sc[p], 0.125*want)
					}
				}
				a := randSlice(rng, n)
				for _, add := range []bool{false, true} {
					buf, y := guarded(hs, 1)
					for j := range y {
						y[j] = float32(j%7) - 3
					}
					base := append([]float32(nil), y...)
					if add {
						AttnValuesAddF16(y, a, vh, ld)
					} else {
						AttnValuesF16(y, a, vh, ld)
					}
					checkGuards(t, buf, 1, hs)
					for j := range hs {
						var want, mag float64
						if add {
							want, mag = float64(base[j]), math.Abs(float64(base[j]))
						}
						for p := range n {
							want += float64(a[p]) * float64(vw[p*ld+j])
							mag += math.Abs(float64(a[p]) * float64(vw[p*ld+j]))
						}
						if math.Abs(float64(y[j])-want) > kernelTol*mag+1e-7 {
							t.Fatalf("%s/add=%v: y[%d] = %v, want %v", name, add, j, y[j], want)
						}
					}
				}
			}
		}
	})
}

// TestWidenRows64F16 checks the strided widening of the fused path's
// key and value blocks, inside guard bands.
func TestWidenRows64F16(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	forEachVariant(t, func(variant string) {
		for rows := 1; rows <= 13; rows += 3 {
			const lds = 64*3 + 5
			h, w := halves(randSlice(rng, (rows-1)*lds+64))
			buf, dst := guarded(rows*64, 1)
			widenRows64F16(dst, h, lds, rows)
			checkGuards(t, buf, 1, len(dst))
			for r := range rows {
				for j := range 64 {
					if dst[r*64+j] != w[r*lds+j] {
						t.Fatalf("%s/rows=%d: dst[%d][%d] = %v, want %v", variant, rows, r, j, dst[r*64+j], w[r*lds+j])
					}
				}
			}
		}
	})
}

// TestAttnCausalF16 checks the half-cache attention (contiguous and
// paged, row path and fused path) against AttnCausal on the widened
// halves: the same keys and values, so only the order of float32 sums
// differs. Free blocks of the paged pool hold NaN.
func TestAttnCausalF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	forEachVariant(t, func(variant string) {
		for _, hs := range []int{64, 40} {
			for _, bs := range []int{7, 16, 1000} {
				for _, c := range []struct{ P, nq int }{{0, 1}, {0, 9}, {0, 40}, {37, 1}, {37, 20}, {70, 64}} {
					name := fmt.Sprintf("%s/hs=%d/bs=%d/P=%d/nq=%d", variant, hs, bs, c.P, c.nq)
					const ld, head = 64 * 3, 64 // the second head of three
					n := c.P + c.nq
					kh, kw := halves(randSlice(rng, n*ld))
					vh, vw := halves(randSlice(rng, n*ld))
					q := randSlice(rng, c.nq*ld)
					for i := range q {
						q[i] *= 2
					}
					s := make([]float32, AttnCausalScratchF16(n, hs))
					want := make([]float32, c.nq*ld)
					AttnCausal(want[head:], ld, q[head:], ld, kw[head:], vw[head:], ld, c.P, c.nq, hs, 0.125, s)
					check := func(what string, got []float32) {
						t.Helper()
						for i := range c.nq {
							for j := range hs {
								g, w := got[head+i*ld+j], want[head+i*ld+j]
								if d := math.Abs(float64(g - w)); d > 1e-5*(1+math.Abs(float64(w))) || g != g {
									t.Fatalf("%s %s: y[%d][%d] = %v, float32 cache %v", name, what, i, j, g, w)
								}
							}
						}
					}
					buf, got := guarded(c.nq*ld, 2)
					AttnCausalF16(got[head:], ld, q[head:], ld, kh[head:], vh[head:], ld, c.P, c.nq, hs, 0.125, s)
					checkGuards(t, buf, 2, len(got))
					check("contiguous", got)

					nb := (n + bs - 1) / bs
					pool := 2*nb + 1
					nanH := FloatToHalf(float32(math.NaN()))
					pk, pv := make([]uint16, pool*bs*ld), make([]uint16, pool*bs*ld)
					for i := range pk {
						pk[i], pv[i] = nanH, nanH // unread
					}
					blocks := make([]int32, nb)
					for b, r := range rng.Perm(pool)[:nb] {
						blocks[b] = int32(r)
					}
					for p := range n {
						o := int(blocks[p/bs])*bs*ld + p%bs*ld
						copy(pk[o:o+ld], kh[p*ld:(p+1)*ld])
						copy(pv[o:o+ld], vh[p*ld:(p+1)*ld])
					}
					buf, got = guarded(c.nq*ld, 1)
					AttnCausalPagedF16(got[head:], ld, q[head:], ld, pk, pv, ld, blocks, bs, head, c.P, c.nq, hs, 0.125, s)
					checkGuards(t, buf, 1, len(got))
					check("paged", got)
				}
			}
		}
	})
}

// TestAttnF16Allocs checks that the half-cache kernels allocate nothing.
func TestAttnF16Allocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	const hs, nq, P, ld = 64, 20, 50, 768
	kh, _ := halves(randSlice(rng, (P+nq)*ld))
	vh, _ := halves(randSlice(rng, (P+nq)*ld))
	q := randSlice(rng, nq*ld)
	y := make([]float32, nq*ld)
	s := make([]float32, AttnCausalScratchF16(P+nq, hs))
	blocks := []int32{0}
	for _, f := range []struct {
		name string
		run  func()
	}{
		{"AttnCausalF16", func() { AttnCausalF16(y, ld, q, ld, kh, vh, ld, P, nq, hs, 0.125, s) }},
		{"AttnCausalPagedF16", func() { AttnCausalPagedF16(y, ld, q, ld, kh, vh, ld, blocks, P+nq, 0, P, nq, hs, 0.125, s) }},
		{"decode", func() { AttnCausalF16(y, ld, q, ld, kh, vh, ld, P+nq-1, 1, hs, 0.125, s) }},
		{"NarrowF16", func() { NarrowF16(kh[:ld], q[:ld]) }},
	} {
		if a := testing.AllocsPerRun(10, f.run); a != 0 {
			t.Errorf("%v allocs per %s, want 0", a, f.name)
		}
	}
}

// BenchmarkAttnF16 compares one head's attention of one query row
// (decode) at depth P over a float32 and a half cache (kv=), and the
// fused prefill of T rows, on one thread. B/s counts the cache bytes read.
//
//	go test ./tensor -run '^$' -bench AttnF16 -count 5 | benchstat -col /kv -
func BenchmarkAttnF16(b *testing.B) {
	const C, HS = 768, 64
	rng := rand.New(rand.NewPCG(69, 70))
	for _, c := range []struct{ P, T int }{{512, 1}, {896, 1}, {0, 512}} {
		n := c.P + c.T
		k, v, q := randSlice(rng, n*C), randSlice(rng, n*C), randSlice(rng, c.T*C)
		kh, _ := halves(k)
		vh, _ := halves(v)
		y := make([]float32, c.T*C)
		s := make([]float32, AttnCausalScratchF16(n, HS))
		for _, kv := range []string{"f32", "f16"} {
			b.Run(fmt.Sprintf("P=%d/T=%d/kv=%s", c.P, c.T, kv), func(b *testing.B) {
				b.ReportAllocs()
				es := 4
				if kv == "f16" {
					es = 2
				}
				b.SetBytes(int64(2 * n * HS * es))
				for b.Loop() {
					if kv == "f16" {
						AttnCausalF16(y, C, q, C, kh, vh, C, c.P, c.T, HS, 0.125, s)
					} else {
						AttnCausal(y, C, q, C, k, v, C, c.P, c.T, HS, 0.125, s)
					}
				}
			})
		}
	}
}

// TestGemvQ4VNNI checks the 4-bit VNNI GEMV against its generic twin and
// the generic twin against the int8 GEMV on the unpacked weights and x in
// natural order, inside guard bands.
func TestGemvQ4VNNI(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	forEachVariant(t, func(variant string) {
		for _, k := range []int{64, 128, 192, 768} {
			for _, rows := range []int{1, 3, 17} {
				w, err := NewMat(randSlice(rng, rows*k), rows, k).Convert(Q4)
				if err != nil {
					t.Fatal(err)
				}
				xq := make([]byte, k)
				quantRowGeneric(xq, randSlice(rng, k))
				xp := make([]byte, k)
				xpermQ4(xp, xq)
				for n := range k {
					if xp[q4XPos(n)] != xq[n] {
						t.Fatalf("xpermQ4: x %d not at %d", n, q4XPos(n))
					}
				}
				w8 := make([]int8, rows*k)
				unpackQ4Generic(w8, w.Q4)
				want := make([]float32, rows)
				gemvRowsQ8VNNIGeneric(want, w8, w.Scales, xq)
				gen := make([]float32, rows)
				gemvRowsQ4VNNIGeneric(gen, w.Q4, w.Scales, xp)
				buf, got := guarded(rows, 2)
				gemvRowsQ4VNNI(got, w.Q4, w.Scales, xp)
				checkGuards(t, buf, 2, rows)
				for i := range rows {
					tol := 1e-5 * float64(k) * 255 * 8
					if d := math.Abs(float64(gen[i] - want[i])); d > tol*1e-3 {
						t.Fatalf("%s/k=%d/rows=%d: generic q4 out[%d] = %v, int8 %v", variant, k, rows, i, gen[i], want[i])
					}
					if d := math.Abs(float64(got[i] - want[i])); d > tol*1e-3 {
						t.Fatalf("%s/k=%d/rows=%d: out[%d] = %v, int8 %v", variant, k, rows, i, got[i], want[i])
					}
				}
			}
		}
	})
}
