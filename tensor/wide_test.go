package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWideTiles checks the tiles of the AVX-512 path against float64 sums
// inside guard bands: the float32 tile for 8, 16 and 32 rows of x over
// k = 0..3×16+3 (the unrolled steps are 16 and 4 wide), and the int8 VNNI
// tile over 0..5 blocks.
func TestWideTiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	forEachVariant(t, func(variant string) {
		for _, p := range []int{8, 16, 32} {
			for k := 0; k <= 3*16+3; k++ {
				off := k % 3
				name := fmt.Sprintf("%s/f32/p=%d/k=%d", variant, p, k)
				ldw := k + off + 1
				w := randSlice(rng, off+11*ldw+k)[off:]
				ldp := 16*k + 5
				xt := randSlice(rng, off+ldp+16*k)[off:]
				buf, dst := guarded(12*p, off)
				var pf []float32 // the next group to prefetch, every other k
				if k%2 == 0 {
					pf = make([]float32, 12*k)
				}
				outer12F32(dst, w, ldw, xt, ldp, k, p, pf)
				checkGuards(t, buf, off, len(dst))
				for j := range 12 {
					for i := range p {
						var want, mag float64
						for kk := range k {
							v := float64(w[j*ldw+kk]) * float64(xt[(i/16)*ldp+kk*16+i%16])
							want += v
							mag += math.Abs(v)
						}
						if got := dst[j*p+i]; math.Abs(float64(got)-want) > kernelTol*mag+1e-6 {
							t.Fatalf("%s: dst[%d][%d] = %v, want %v", name, j, i, got, want)
						}
					}
				}
			}
		}
		for _, p := range []int{8, 16} {
			for kb := 0; kb <= 5; kb++ {
				name := fmt.Sprintf("%s/int8/p=%d/blocks=%d", variant, p, kb)
				ldw, lds := 32*kb+7, kb+3
				w := make([]int8, 11*ldw+32*kb)
				for i := range w {
					w[i] = int8(rng.IntN(255) - 127)
				}
				s := randSlice(rng, 11*lds+kb)
				xq := make([]byte, 512*kb)
				for i := range xq {
					xq[i] = byte(rng.IntN(256))
				}
				buf, dst := guarded(12*p, 1)
				var pf []int8 // the next group to prefetch, every other kb
				if kb%2 == 1 {
					pf = make([]int8, 384*kb)
				}
				vnni12Q8(dst, w, ldw, s, lds, xq, kb, p, pf)
				checkGuards(t, buf, 1, len(dst))
				for j := range 12 {
					for i := range p {
						var want, mag float64
						for b := range kb {
							var acc int64
							for kk := range 32 {
								acc += int64(w[j*ldw+32*b+kk]) * int64(xq[(8*b+kk/4)*64+4*i+kk%4])
							}
							want += float64(s[j*lds+b]) * float64(acc)
							mag += math.Abs(float64(s[j*lds+b]) * float64(acc))
						}
						if got := dst[j*p+i]; math.Abs(float64(got)-want) > kernelTol*mag+1e-6 {
							t.Fatalf("%s: dst[%d][%d] = %v, want %v", name, j, i, got, want)
						}
					}
				}
			}
		}
	})
}

// TestStoreTile12 checks the tile store (gathered from the tile's lanes,
// masked to rows columns) inside guard bands.
func TestStoreTile12(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	forEachVariant(t, func(variant string) {
		for _, lanes := range []int{8, 16, 32} {
			for _, nn := range []int{1, 3, 8, lanes} {
				for _, rows := range []int{1, 5, 12} {
					for _, acc := range []bool{false, true} {
						name := fmt.Sprintf("%s/lanes=%d/nn=%d/rows=%d/acc=%v", variant, lanes, nn, rows, acc)
						const ldo = 17
						tile := randSlice(rng, 12*lanes)
						alpha := randSlice(rng, nn)
						var beta, bias [16]float32
						copy(beta[:], randSlice(rng, 16))
						copy(bias[:], randSlice(rng, 16))
						buf, out := guarded((nn-1)*ldo+rows, 2)
						before := append([]float32(nil), out...)
						for i := range nn {
							for j := range rows {
								out[i*ldo+j] = float32(i - j)
								before[i*ldo+j] = out[i*ldo+j]
							}
						}
						storeTile12(out, ldo, tile, lanes, nn, rows, alpha, &beta, &bias, acc)
						checkGuards(t, buf, 2, len(out))
						for i := range nn {
							for j := range ldo {
								if i*ldo+j >= len(out) {
									break
								}
								got := out[i*ldo+j]
								if j >= rows {
									if got != before[i*ldo+j] {
										t.Fatalf("%s: stray write at out[%d][%d]", name, i, j)
									}
									continue
								}
								want := alpha[i]*(tile[j*lanes+i]+beta[j]) + bias[j]
								if acc {
									want += before[i*ldo+j]
								}
								if math.Abs(float64(got-want)) > 1e-6*(1+math.Abs(float64(want))) {
									t.Fatalf("%s: out[%d][%d] = %v, want %v", name, i, j, got, want)
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestQuantPackRow checks the per-row int8 quantisation of x for the VNNI
// tiles: every byte and the scale equal the generic version's, which
// rounds to the nearest even as math.RoundToEven does.
func TestQuantPackRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, k := range []int{16, 32, 48, 768} {
		for _, kind := range []string{"normal", "zero", "halves"} {
			x := randSlice(rng, k)
			switch kind {
			case "zero":
				clear(x)
			case "halves": // max 127, so x/s = x: exact ties n + 0.5
				for i := range x {
					x[i] = float32(i%254) - 126.5
				}
				x[0] = 127
			}
			want := make([]byte, k*16)
			wantS := quantPackRowGeneric(want, x)
			if kind == "halves" {
				for j := range k {
					if q := int8(want[(j/4)*64+j%4] ^ 0x80); float64(q) != math.RoundToEven(float64(x[j])) {
						t.Fatalf("k=%d: x[%d] = %v quantised to %d", k, j, x[j], q)
					}
				}
			}
			flat := make([]byte, k)
			if s := quantRowGeneric(flat, x); s != wantS {
				t.Fatalf("k=%d/%s: contiguous scale %v, packed %v", k, kind, s, wantS)
			}
			for j := range k {
				if flat[j] != want[(j/4)*64+j%4] {
					t.Fatalf("k=%d/%s: contiguous byte %d = %#x, packed %#x", k, kind, j, flat[j], want[(j/4)*64+j%4])
				}
			}
			forEachVariant(t, func(variant string) {
				buf := make([]byte, k+2)
				if s := quantRow(buf[1:k+1], x); s != wantS {
					t.Fatalf("%s/k=%d/%s: quantRow scale %v, want %v", variant, k, kind, s, wantS)
				}
				if buf[0] != 0 || buf[k+1] != 0 || string(buf[1:k+1]) != string(flat) {
					t.Fatalf("%s/k=%d/%s: quantRow bytes differ or stray write", variant, k, kind)
				}
				got := make([]byte, k*16)
				s := quantPackRow(got, x)
				if s != wantS {
					t.Fatalf("%s/k=%d/%s: scale %v, want %v", variant, k, kind, s, wantS)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s/k=%d/%s: byte %d = %#x, want %#x", variant, k, kind, i, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestGemvQ8VNNI checks the int8 GEMV with quantised x against exact
// integer block sums, inside guard bands, over k = 32..6·32 (the 128-,
// 64- and 32-byte steps) and 1..5 rows.
func TestGemvQ8VNNI(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	forEachVariant(t, func(variant string) {
		for nb := 1; nb <= 6; nb++ {
			k := 32 * nb
			for rows := 1; rows <= 5; rows++ {
				q := make([]int8, rows*k)
				for i := range q {
					q[i] = int8(rng.IntN(255) - 127)
				}
				s := randSlice(rng, rows*nb)
				xq := make([]byte, k)
				for i := range xq {
					xq[i] = byte(rng.IntN(256))
				}
				buf, out := guarded(rows, 3)
				gemvRowsQ8VNNI(out, q, s, xq)
				checkGuards(t, buf, 3, rows)
				for i := range rows {
					var want, mag float64
					for b := range nb {
						var acc, abs int64
						for j := range 32 {
							p := int64(q[i*k+32*b+j]) * int64(xq[32*b+j])
							acc += p
							abs += max(p, -p)
						}
						want += float64(s[i*nb+b]) * float64(acc)
						mag += math.Abs(float64(s[i*nb+b])) * float64(abs) // Σ|products|: lanes of 4 are summed in float32
					}
					if math.Abs(float64(out[i])-want) > kernelTol*mag+1e-6 {
						t.Fatalf("%s/k=%d/rows=%d: out[%d] = %v, want %v", variant, k, rows, i, out[i], want)
					}
				}
			}
		}
	})
}

// TestQ4 checks 4-bit conversion (every value within half a step of its
// block's scale, the largest exact, the row sums) and the unpacking to
// int8 of every variant against the generic one, inside guard bands.
func TestQ4(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	const rows, cols = 3, 96
	w := NewMat(randSlice(rng, rows*cols), rows, cols)
	w.F32[5] = 0 // zeros and a zero block stay exact
	clear(w.F32[cols+32 : cols+64])
	q, err := w.Convert(Q4)
	if err != nil {
		t.Fatal(err)
	}
	if q.Bytes() != int64(rows*cols/2+4*rows*cols/32+4*rows) {
		t.Fatalf("Bytes() = %d", q.Bytes())
	}
	row := make([]float32, cols)
	for r := range rows {
		q.Row(row, r)
		var sum float64
		for j, v := range row {
			// Half a step, except past 7 steps on the side opposite the
			// block's largest value (that one maps to -8), where the
			// nearest level is +7: up to one step (as Q4_0).
			s := float64(q.Scales[(r*cols+j)/32])
			x := float64(w.F32[r*cols+j])
			tol := math.Abs(s) / 2
			if x/s > 7.5 {
				tol = x/s*math.Abs(s) - 7*math.Abs(s)
			}
			if d := math.Abs(float64(v) - x); d > tol*(1+1e-6)+1e-7 {
				t.Fatalf("row %d[%d] = %v, want %v within %v", r, j, v, x, tol)
			}
			sum += float64(v)
		}
		if math.Abs(sum-float64(q.Sums[r])) > 1e-5*(1+math.Abs(sum)) {
			t.Fatalf("Sums[%d] = %v, want %v", r, q.Sums[r], sum)
		}
	}
	if _, err := NewMat(make([]float32, 40), 1, 40).Convert(Q4); err == nil {
		t.Error("Convert(Q4) of 40 columns: no error")
	}
	src := make([]uint8, 16*7)
	for i := range src {
		src[i] = uint8(rng.IntN(256))
	}
	want := make([]int8, 32*7)
	unpackQ4Generic(want, src)
	forEachVariant(t, func(variant string) {
		for nb := 0; nb <= 7; nb++ {
			buf := make([]int8, 32*nb+2)
			for i := range buf {
				buf[i] = 99
			}
			unpackQ4(buf[1:32*nb+1], src[:16*nb])
			if buf[0] != 99 || buf[32*nb+1] != 99 {
				t.Fatalf("%s/blocks=%d: stray write", variant, nb)
			}
			for i, v := range buf[1 : 32*nb+1] {
				if v != want[i] {
					t.Fatalf("%s/blocks=%d: [%d] = %d, want %d", variant, nb, i, v, want[i])
				}
			}
		}
	})
}
