package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackPanels checks the strip layout: every row reads back through
// Row, Convert gives the row-major conversion, and the size is unchanged.
func TestPackPanels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][2]int{{1, 1}, {47, 3}, {48, 5}, {49, 16}, {100, 7}} {
		M, K := sh[0], sh[1]
		m := NewMat(randSlice(rng, M*K), M, K)
		h, err := m.Convert(F16)
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range []*Mat{m, h} {
			p := packPanels(src)
			if !p.Panels || p.Rows != M || p.Cols != K || p.DType != src.DType || p.Bytes() != src.Bytes() {
				t.Fatalf("%v %dx%d: packed %+v", src.DType, M, K, p)
			}
			row, want := make([]float32, K), make([]float32, K)
			for i := range M {
				p.Row(row, i)
				src.Row(want, i)
				for k, v := range row {
					if v != want[k] {
						t.Fatalf("%v %dx%d: row %d col %d = %g, want %g", src.DType, M, K, i, k, v, want[k])
					}
				}
			}
			if q := PackForLinear(p); q != p {
				t.Fatal("PackForLinear repacked strips")
			}
		}
		p := packPanels(m)
		for _, dt := range []DType{F32, F16} {
			a, err := m.Convert(dt)
			if err != nil {
				t.Fatal(err)
			}
			b, err := p.Convert(dt)
			if err != nil {
				t.Fatal(err)
			}
			if b.Panels || fmt.Sprint(a.F32, a.F16) != fmt.Sprint(b.F32, b.F16) {
				t.Fatalf("%dx%d: Convert(%v) from strips differs", M, K, dt)
			}
		}
	}
}

// TestPanelLinear checks Linear over strip-layout weights against float64
// sums of the row-major weights: every N from 1 to 19 (groups of 8 rows
// and their remainders), M with and without a partial last strip, odd and
// even K, bias or none, activations, 1 to 3 threads, batch-invariant
// runners, the assembly and the pure-Go kernel. Outputs must also not
// depend on N: each row equals the same row computed alone, bit for bit.
func TestPanelLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	forEachVariant(t, func(name string) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct{ M, K int }{{20, 8}, {48, 1}, {96, 16}, {100, 33}, {150, 64}, {2 * 48 * 5, 31}} {
				for _, dt := range []DType{F32, F16} {
					m := NewMat(randSlice(rng, tc.M*tc.K), tc.M, tc.K)
					if dt == F16 {
						var err error
						if m, err = m.Convert(F16); err != nil {
							t.Fatal(err)
						}
					}
					ref := make([]float32, tc.M*tc.K) // the weights as the kernels see them
					for i := range tc.M {
						m.Row(ref[i*tc.K:(i+1)*tc.K], i)
					}
					p := packPanels(m)
					bias := randSlice(rng, tc.M)
					for _, threads := range []int{1, 3} {
						pool := NewPool(threads)
						r := pool.NewRunner()
						for _, inv := range []bool{false, true} {
							r.SetBatchInvariant(inv)
							for _, act := range []Act{ActNone, ActGELUTanh} {
								for _, b := range [][]float32{nil, bias} {
									checkPanelLinear(t, r, ref, p, b, act, rng)
								}
							}
						}
						pool.Close()
					}
				}
			}
		})
	})
}

// checkPanelLinear runs strip-layout p, whose weights are ref [M, K]
// row-major, through Linear and LinearRange.
func checkPanelLinear(t *testing.T, r *Runner, ref []float32, p *Mat, b []float32, act Act, rng *rand.Rand) {
	t.Helper()
	M, K := p.Rows, p.Cols
	const maxN = 19
	x := randSlice(rng, maxN*K)
	alone := make([]float32, maxN*M)
	for i := range maxN {
		r.LinearAct(alone[i*M:(i+1)*M], x[i*K:(i+1)*K], p, b, 1, act)
	}
	for N := 1; N <= maxN; N++ {
		out := make([]float32, N*M)
		for i := range out {
			out[i] = float32(math.NaN())
		}
		r.LinearAct(out, x[:N*K], p, b, N, act)
		for i := range N {
			for c := range M {
				var want float64
				var mag float64
				for k := range K {
					v := float64(x[i*K+k]) * float64(ref[c*K+k])
					want += v
					mag += math.Abs(v)
				}
				if b != nil {
					want += float64(b[c])
					mag += math.Abs(float64(b[c]))
				}
				got := out[i*M+c]
				pre := want
				if act == ActGELUTanh {
					want = 0.5 * want * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(want+0.044715*want*want*want)))
				}
				if tol := 1e-6*mag + 1e-5*(1+math.Abs(pre)); math.Abs(float64(got)-want) > tol || math.IsNaN(float64(got)) {
					t.Fatalf("%v M %d K %d N %d act %v bias %v: out[%d][%d] = %g, want %g", p.DType, M, K, N, act, b != nil, i, c, got, want)
				}
				if got != alone[i*M+c] {
					t.Fatalf("M %d K %d N %d: out[%d][%d] = %g in the batch, %g alone", M, K, N, i, c, got, alone[i*M+c])
				}
			}
		}
	}
	// LinearRange from a strip's start to anywhere (its end column inside
	// a strip runs in Go: equal within rounding, not bit for bit).
	for _, lohi := range [][2]int{{0, M}, {PanelWidth, M}, {0, M - 1}, {0, min(M, 7)}} {
		lo, hi := lohi[0], lohi[1]
		if lo >= hi {
			continue
		}
		out := make([]float32, 2*M)
		full := make([]float32, 2*M)
		r.LinearAct(full, x[:2*K], p, b, 2, ActNone)
		LinearRange(out, x[:2*K], p, b, 2, lo, hi)
		for i := range 2 {
			for c := range M {
				got, want := out[i*M+c], full[i*M+c]
				if c < lo || c >= hi {
					want = 0
				}
				if math.Abs(float64(got-want)) > 1e-5*(1+math.Abs(float64(want))) {
					t.Fatalf("M %d K %d LinearRange [%d, %d): out[%d][%d] = %g, want %g", M, K, lo, hi, i, c, got, want)
				}
			}
		}
	}
}
