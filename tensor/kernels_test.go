package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// guard is the value written around every output buffer; a kernel that
// writes outside its slice changes it.
const (
	guard    = float32(-12345.5)
	guardLen = 19 // odd, so the slice under test is misaligned too
)

// guarded returns a slice of n values at offset off inside guard bands.
func guarded(n, off int) (buf, s []float32) {
	buf = make([]float32, guardLen+off+n+guardLen)
	for i := range buf {
		buf[i] = guard
	}
	s = buf[guardLen+off : guardLen+off+n]
	return buf, s
}

// checkGuards fails if anything outside s in buf changed.
func checkGuards(t *testing.T, buf []float32, off, n int) {
	t.Helper()
	for i, v := range buf {
		if (i < guardLen+off || i >= guardLen+off+n) && v != guard {
			t.Fatalf("stray write at %d (slice is [%d, %d)): %v", i, guardLen+off, guardLen+off+n, v)
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// kernelTol bounds float32 reassociation error relative to Σ|a·b|: a sum
// of n products in any order is within ~n·ε of it; 1e-5 covers n <= ~80.
const kernelTol = 1e-5

func TestDotAxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const width = 32 // the widest unrolled step of the assembly
	forEachVariant(t, func(variant string) {
		for n := 0; n <= 3*width+3; n++ {
			for _, off := range []int{0, 1, 3, 7} {
				name := fmt.Sprintf("%s/n=%d/off=%d", variant, n, off)
				a := randSlice(rng, n+off)[off:]
				b := randSlice(rng, n+off)[off:]
				var want, mag float64
				for i := range a {
					want += float64(a[i]) * float64(b[i])
					mag += math.Abs(float64(a[i]) * float64(b[i]))
				}
				if got := Dot(a, b); math.Abs(float64(got)-want) > kernelTol*mag+1e-7 {
					t.Fatalf("%s: Dot = %v, want %v", name, got, want)
				}
				buf, dst := guarded(n, off)
				for i := range dst {
					dst[i] = float32(i)
				}
				const alpha = 0.75
				Axpy(dst, alpha, a)
				for i := range dst {
					w := float32(i) + alpha*a[i]
					if d := math.Abs(float64(dst[i] - w)); d > 1e-5*(1+math.Abs(float64(w))) {
						t.Fatalf("%s: Axpy dst[%d] = %v, want %v", name, i, dst[i], w)
					}
				}
				checkGuards(t, buf, off, n)
			}
		}
	})
}

func TestHalfExhaustive(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	forEachVariant(t, func(variant string) {
		buf, dst := guarded(len(src)-3, 3)
		widenF16(dst, src[3:]) // misaligned on both sides
		checkGuards(t, buf, 3, len(dst))
		for i, got := range dst {
			h := src[3+i]
			want := HalfToFloat(h)
			if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
				t.Fatalf("%s: widen(%#04x) = %v, want %v", variant, h, got, want)
			}
			if want == want && FloatToHalf(want) != h {
				t.Fatalf("FloatToHalf(HalfToFloat(%#04x)) = %#04x", h, FloatToHalf(want))
			}
		}
		for n := range 200 { // every split between the 64-, 8- and 1-wide loops
			buf, dst := guarded(n, 1)
			widenF16(dst, src[1000:1000+n])
			checkGuards(t, buf, 1, n)
			for i, got := range dst {
				if want := HalfToFloat(src[1000+i]); got != want {
					t.Fatalf("%s: n=%d: dst[%d] = %v, want %v", variant, n, i, got, want)
				}
			}
		}
	})
}

func TestWidenQ8(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 31, 32, 33, 64, 95, 96, 200} {
		q := make([]int8, n)
		for i := range q {
			q[i] = int8(rng.IntN(256) - 128)
		}
		s := randSlice(rng, (n+Q8Block-1)/Q8Block)
		forEachVariant(t, func(variant string) {
			buf, dst := guarded(n, 1)
			widenQ8(dst, q, s)
			checkGuards(t, buf, 1, n)
			for i := range dst {
				if want := float32(q[i]) * s[i/Q8Block]; dst[i] != want {
					t.Fatalf("%s/n=%d: dst[%d] = %v, want %v", variant, n, i, dst[i], want)
				}
			}
		})
	}
}

// forEachLinearVariant is forEachVariant with Linear's two AVX2 paths
// for N > 1: "avx2" runs the dot-product tiles for every N, "avx2-outer"
// the outer-product path for N >= outerMinN (flipping useOuter);
// "avx512" runs the AVX-512 path for every N >= 2.
func forEachLinearVariant(t testing.TB, f func(name string)) {
	saved := useOuter
	defer func() { useOuter = saved }()
	forEachVariant(t, func(v string) {
		if v != "avx2" {
			f(v)
			return
		}
		useOuter = false
		f(v)
		useOuter = true
		f(v + "-outer")
	})
}

// linearCase is one Linear shape; Q8 needs K a multiple of 32.
type linearCase struct{ N, K, M int }

func linearCases(dt DType) []linearCase {
	var cs []linearCase
	ks := []int{1, 7, 33, 100, 768}
	if dt == Q8 || dt == Q4 {
		ks = []int{32, 96, 768}
	}
	for _, N := range []int{1, 2, 3, 4, 5, 8, 13, 128} {
		for _, K := range ks {
			for _, M := range []int{1, 5, 17, 67} {
				cs = append(cs, linearCase{N, K, M})
			}
		}
	}
	// K-blocked: 4·N·K above 2·xBlockBytes.
	if dt != Q8 && dt != Q4 {
		cs = append(cs, linearCase{128, 1100, 19})
	}
	// Small N with K above l1K (group-outer order, several K-blocks).
	cs = append(cs, linearCase{8, 1600, 13}, linearCase{3, 3072, 9})
	// The outer-product path (N >= outerMinN): partial panels, partial
	// groups of 6 weight rows, K-blocked.
	k1, k2, k3 := 9, 33, 100
	if dt == Q8 || dt == Q4 {
		k1, k2, k3 = 32, 64, 96
	}
	for _, N := range []int{16, 17, 31, 33, 47} {
		cs = append(cs, linearCase{N, k1, 13}, linearCase{N, k2, 48})
	}
	cs = append(cs, linearCase{96, k3, 54}, linearCase{64, 3008, 7})
	// The dot-product path of float16 weights (AVX-512, 2..16 rows, K a
	// multiple of 16): one and two blocks of 8 rows, full and padded.
	cs = append(cs, linearCase{9, 96, 13}, linearCase{16, 768, 7}, linearCase{15, 64, 3})
	return append(cs, linearCase{130, 1152, 21})
}

// linearOracle computes act(x·Wᵀ + b) in float64 from the widened weights,
// and Σ|x·w| per output for the tolerance.
func linearOracle(x []float32, w *Mat, b []float32, N int, act Act) (want, mag []float64) {
	K, M := w.Cols, w.Rows
	row := make([]float32, K)
	want, mag = make([]float64, N*M), make([]float64, N*M)
	for m := range M {
		w.Row(row, m)
		for n := range N {
			var s, a float64
			for k, v := range row {
				p := float64(v) * float64(x[n*K+k])
				s += p
				a += math.Abs(p)
			}
			if b != nil {
				s += float64(b[m])
			}
			switch act {
			case ActGELUTanh:
				s = 0.5 * s * (1 + math.Tanh(0.7978845608028654*(s+0.044715*s*s*s)))
			case ActGELUErf:
				s = 0.5 * s * (1 + math.Erf(s/math.Sqrt2))
			}
			want[n*M+m], mag[n*M+m] = s, a
		}
	}
	return want, mag
}

// quantizeRows returns x [N, K] with each row rounded to the int8 grid
// of the VNNI path: s = max|row|/127, round-to-even(x·(127/max))·s, in
// float64 from the float32 products the kernel rounds.
func quantizeRows(x []float32, N, K int) []float32 {
	q := make([]float32, len(x))
	for n := range N {
		row := x[n*K : (n+1)*K]
		var amax float32
		for _, v := range row {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		if amax == 0 {
			continue
		}
		s, inv := amax/127, 127/amax
		for k, v := range row {
			q[n*K+k] = float32(math.RoundToEven(float64(v*inv))) * s
		}
	}
	return q
}

func TestLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, threads := range []int{1, 2, 3} {
		pool := NewPool(threads)
		defer pool.Close()
		r := pool.NewRunner()
		for _, dt := range []DType{F32, F16, Q8, Q4} {
			for _, c := range linearCases(dt) {
				w32 := NewMat(randSlice(rng, c.M*c.K), c.M, c.K)
				w, err := w32.Convert(dt)
				if err != nil {
					t.Fatal(err)
				}
				x := randSlice(rng, c.N*c.K)
				b := randSlice(rng, c.M)
				act := Act(rng.IntN(3))
				if c.M == 1 {
					b = nil
				}
				want, mag := linearOracle(x, w, b, c.N, act)
				wantQ, magQ := linearOracle(quantizeRows(x, c.N, c.K), w, b, c.N, act)
				forEachLinearVariant(t, func(variant string) {
					name := fmt.Sprintf("threads=%d/%v/%s/N=%d/K=%d/M=%d/act=%d", threads, dt, variant, c.N, c.K, c.M, act)
					want, mag := want, mag
					if variant == "avx512" && vnniQ8(c.N, w) {
						// VNNI: x quantised per row, as the kernel does; the
						// sums include x+128 (offset removed after), so
						// float32 rounding scales with 255·Σ|w|·xs.
						want, mag = wantQ, magQ
						for i := range mag {
							mag[i] *= 255
						}
					}
					buf, out := guarded(c.N*c.M, 1)
					r.LinearAct(out, x, w, b, c.N, act)
					checkGuards(t, buf, 1, len(out))
					for i, g := range out {
						if d := math.Abs(float64(g) - want[i]); d > kernelTol*mag[i]+1e-5*math.Abs(want[i])+1e-6 || g != g {
							t.Fatalf("%s: out[%d] = %v, want %v (|diff| %.3g, Σ|x·w| %.3g)", name, i, g, want[i], d, mag[i])
						}
					}
				})
			}
		}
	}
}

func TestLinearRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const N, K, M = 5, 64, 37
	for _, dt := range []DType{F32, F16, Q8, Q4} {
		w, _ := NewMat(randSlice(rng, M*K), M, K).Convert(dt)
		x := randSlice(rng, N*K)
		want, mag := linearOracle(x, w, nil, N, ActNone)
		if vnniQ8(N, w) { // VNNI: x quantised per row (see TestLinear)
			want, mag = linearOracle(quantizeRows(x, N, K), w, nil, N, ActNone)
			for i := range mag {
				mag[i] *= 255
			}
		}
		out := make([]float32, N*M)
		LinearRange(out, x, w, nil, N, 0, 20)
		LinearRange(out, x, w, nil, N, 20, M)
		for i, g := range out {
			if math.Abs(float64(g)-want[i]) > kernelTol*mag[i]+1e-6 {
				t.Fatalf("%v: out[%d] = %v, want %v", dt, i, g, want[i])
			}
		}
	}
}

func TestLinearAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pool := NewPool(2)
	defer pool.Close()
	r := pool.NewRunner()
	const K, M = 96, 70
	for _, dt := range []DType{F32, F16, Q8, Q4} {
		w, _ := NewMat(randSlice(rng, M*K), M, K).Convert(dt)
		for _, N := range []int{1, 8, 32} {
			x, out := randSlice(rng, N*K), make([]float32, N*M)
			r.Linear(out, x, w, nil, N) // first call may size the scratch
			if a := testing.AllocsPerRun(20, func() { r.Linear(out, x, w, nil, N) }); a != 0 {
				t.Errorf("%v N=%d: %v allocs per Linear, want 0", dt, N, a)
			}
		}
	}
}

func TestExpGELU(t *testing.T) {
	// expf: relative error within 2 ulp over the whole finite range.
	for x := float32(-87); x < 88.7; x += 0.0137 {
		got, want := float64(expf(x)), math.Exp(float64(x))
		if math.Abs(got-want) > 2.5e-7*want {
			t.Fatalf("expf(%v) = %v, want %v", x, got, want)
		}
	}
	if expf(-100) != 0 || !math.IsInf(float64(expf(100)), 1) || expf(0) != 1 {
		t.Fatalf("expf limits: %v %v %v", expf(-100), expf(100), expf(0))
	}
	// gelu_new within 1e-6 absolute + 4 ulp relative of the float64 formula.
	for x := float32(-12); x < 12; x += 0.00731 {
		s := float64(x)
		want := 0.5 * s * (1 + math.Tanh(0.7978845608028654*(s+0.044715*s*s*s)))
		v := []float32{x}
		GELUTanh(v)
		if d := math.Abs(float64(v[0]) - want); d > 1e-7+5e-7*math.Abs(want) {
			t.Fatalf("GELUTanh(%v) = %v, want %v (|diff| %.3g)", x, v[0], want, d)
		}
	}
}

func TestGELUTanhSlice(t *testing.T) {
	var xs []float32
	for x := float32(-12); x < 12; x += 0.00731 {
		xs = append(xs, x)
	}
	xs = append(xs, 0, -100, 100, 1e-30, -1e-30)
	forEachVariant(t, func(variant string) {
		for _, off := range []int{0, 1, 5} {
			v := append([]float32(nil), xs[off:]...)
			GELUTanh(v)
			for i, got := range v {
				s := float64(xs[off+i])
				want := 0.5 * s * (1 + math.Tanh(0.7978845608028654*(s+0.044715*s*s*s)))
				if d := math.Abs(float64(got) - want); d > 1e-7+5e-7*math.Abs(want) {
					t.Fatalf("%s: GELUTanh(%v) = %v, want %v (|diff| %.3g)", variant, s, got, want, d)
				}
			}
		}
	})
}

func TestSoftmax(t *testing.T) {
	x := []float32{1, 2, 3, -1000, 1000}
	Softmax(x)
	if x[4] != 1 || x[3] != 0 {
		t.Fatalf("Softmax extremes: %v", x)
	}
	rng := rand.New(rand.NewPCG(15, 16))
	forEachVariant(t, func(variant string) {
		for n := 1; n <= 3*8+3; n++ {
			in := randSlice(rng, n)
			for i := range in {
				in[i] *= 5
			}
			got := append([]float32(nil), in...)
			Softmax(got)
			var sum float64
			for _, v := range in {
				sum += math.Exp(float64(v))
			}
			for i, v := range in {
				want := math.Exp(float64(v)) / sum
				if math.Abs(float64(got[i])-want) > 1e-6*want+1e-9 {
					t.Fatalf("%s/n=%d: Softmax[%d] = %v, want %v", variant, n, i, got[i], want)
				}
			}
		}
	})
}

func TestLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	forEachVariant(t, func(variant string) {
		for _, C := range []int{1, 3, 8, 16, 33, 48, 80, 768} {
			const N = 3
			x, w, b := randSlice(rng, N*C), randSlice(rng, C), randSlice(rng, C)
			for i := range x {
				x[i] += 10 // a mean far from 0
			}
			buf, out := guarded(N*C, 1)
			LayerNorm(out, x, w, b, N, C, 1e-5)
			checkGuards(t, buf, 1, N*C)
			for n := range N {
				var mean, v float64
				for _, e := range x[n*C : (n+1)*C] {
					mean += float64(e)
				}
				mean /= float64(C)
				for _, e := range x[n*C : (n+1)*C] {
					v += (float64(e) - mean) * (float64(e) - mean)
				}
				rstd := 1 / math.Sqrt(v/float64(C)+1e-5)
				for i := range C {
					want := (float64(x[n*C+i])-mean)*rstd*float64(w[i]) + float64(b[i])
					if d := math.Abs(float64(out[n*C+i]) - want); d > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("%s/C=%d: out[%d,%d] = %v, want %v", variant, C, n, i, out[n*C+i], want)
					}
				}
			}
			// in place (out aliases x): the same values
			y := append([]float32(nil), x...)
			LayerNorm(y, y, w, b, N, C, 1e-5)
			for i := range y {
				if y[i] != out[i] {
					t.Fatalf("%s/C=%d: in place [%d] = %v, out of place %v", variant, C, i, y[i], out[i])
				}
			}
		}
	})
}

func TestAddLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const N, C = 3, 50
	x, y, w, b := randSlice(rng, N*C), randSlice(rng, N*C), randSlice(rng, C), randSlice(rng, C)
	x2 := append([]float32(nil), x...)
	out, want := make([]float32, N*C), make([]float32, N*C)
	AddLayerNorm(out, x, y, w, b, N, C, 1e-5)
	Add(x2, y)
	LayerNorm(want, x2, w, b, N, C, 1e-5)
	for i := range out {
		if out[i] != want[i] || x[i] != x2[i] {
			t.Fatalf("AddLayerNorm[%d] = %v (x %v), want %v (x %v)", i, out[i], x[i], want[i], x2[i])
		}
	}
}

func TestRunnerLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	pool := NewPool(2)
	defer pool.Close()
	r := pool.NewRunner()
	for _, N := range []int{1, 15, 16, 41} {
		const C = 24
		x, w, b := randSlice(rng, N*C), randSlice(rng, C), randSlice(rng, C)
		got, want := make([]float32, N*C), make([]float32, N*C)
		r.LayerNorm(got, x, w, b, N, C, 1e-5)
		LayerNorm(want, x, w, b, N, C, 1e-5)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("N=%d: out[%d] = %v, want %v", N, i, got[i], want[i])
			}
		}
	}
}

// TestOuterTile checks the outer-product tile, its store and the packing
// of x against float64 sums, inside guard bands, over k = 0..3×8+3 and
// misaligned starts.
func TestOuterTile(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	forEachVariant(t, func(variant string) {
		for k := 0; k <= 3*8+3; k++ {
			for _, off := range []int{0, 1, 3} {
				name := fmt.Sprintf("%s/k=%d/off=%d", variant, k, off)
				ldw := k + off + 2
				w := randSlice(rng, off+5*ldw+k)[off:]
				xt := randSlice(rng, off+16*k)[off:]
				pf := randSlice(rng, k)
				var dst [128]float32
				for i := range dst {
					dst[i] = guard
				}
				outer6x16F32(&dst, w, ldw, xt, k, pf)
				for i := range 16 {
					for j := range 8 {
						got := dst[i*8+j]
						if j >= 6 {
							if got != guard {
								t.Fatalf("%s: stray write at dst[%d][%d]: %v", name, i, j, got)
							}
							continue
						}
						var want, mag float64
						for kk := range k {
							p := float64(w[j*ldw+kk]) * float64(xt[kk*16+i])
							want += p
							mag += math.Abs(p)
						}
						if math.Abs(float64(got)-want) > kernelTol*mag+1e-6 {
							t.Fatalf("%s: dst[%d][%d] = %v, want %v", name, i, j, got, want)
						}
					}
				}
				for _, acc := range []bool{false, true} {
					const ldo = 11
					buf, out := guarded(15*ldo+6, off)
					before := randSlice(rng, len(out))
					for i := range 16 {
						copy(out[i*ldo:i*ldo+6], before[i*ldo:i*ldo+6])
					}
					var bias [8]float32
					copy(bias[:], randSlice(rng, 8))
					addTile6(out, ldo, &dst, &bias, acc)
					for i := range 16 {
						for j := range ldo {
							if i == 15 && j >= 6 {
								break
							}
							got := out[i*ldo+j]
							if j >= 6 {
								if got != guard {
									t.Fatalf("%s/acc=%v: stray write at out[%d][%d]", name, acc, i, j)
								}
								continue
							}
							want := dst[i*8+j] + bias[j]
							if acc {
								want += before[i*ldo+j]
							}
							if math.Abs(float64(got-want)) > 1e-6*(1+math.Abs(float64(want))) {
								t.Fatalf("%s/acc=%v: out[%d][%d] = %v, want %v", name, acc, i, j, got, want)
							}
						}
					}
					checkGuards(t, buf, off, len(out))
				}
			}
		}
	})
}

func TestPackXT(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	forEachVariant(t, func(variant string) {
		for _, N := range []int{1, 7, 8, 9, 16, 17, 24, 33} {
			for _, K := range []int{1, 7, 8, 9, 16, 33} {
				for _, off := range []int{0, 1} {
					x := randSlice(rng, off+N*K)[off:]
					np := (N + 15) / 16
					buf, xt := guarded(np*16*K, off)
					packXT(xt, x, N, K, 0, np)
					checkGuards(t, buf, off, len(xt))
					for p := range np {
						for k := range K {
							for i := range 16 {
								want := float32(0)
								if n := 16*p + i; n < N {
									want = x[n*K+k]
								}
								if got := xt[p*16*K+k*16+i]; got != want {
									t.Fatalf("%s/N=%d/K=%d/off=%d: xt[%d][%d][%d] = %v, want %v", variant, N, K, off, p, k, i, got, want)
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestSum checks Sum in every kernel variant over lengths around the
// 64- and 128-float blocks and misaligned starts, with a guard band after
// x; the values are small integers, so float32 sums are exact.
func TestSum(t *testing.T) {
	forEachVariant(t, func(name string) {
		for _, n := range []int{0, 1, 7, 63, 64, 65, 127, 128, 129, 200, 255, 256, 1000, 4099} {
			for _, off := range []int{0, 1, 3} {
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
				if got := Sum(x); got != want {
					t.Errorf("%s: Sum(n=%d, off=%d) = %g, want %g", name, n, off, got, want)
				}
			}
		}
	})
}
