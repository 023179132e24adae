package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestLinearBatchInvariant checks that in batch-invariant mode every row
// of Linear's output is bit-identical to the same row computed alone,
// whatever N is and wherever the row sits, for every dtype.
func TestLinearBatchInvariant(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	r := p.NewRunner()
	r.SetBatchInvariant(true)
	for _, dt := range []DType{F32, F16, Q8, Q4} {
		for _, sh := range []struct{ K, M int }{{64, 192}, {64, 77}, {768, 96}, {1600, 64}} {
			if (dt == Q8 || dt == Q4) && sh.K%Q8Block != 0 {
				continue
			}
			t.Run(fmt.Sprintf("%v/K=%d/M=%d", dt, sh.K, sh.M), func(t *testing.T) {
				K, M := sh.K, sh.M
				rng := rand.New(rand.NewPCG(1, 2))
				w := make([]float32, M*K)
				for i := range w {
					w[i] = rng.Float32() - 0.5
				}
				W, err := NewMat(w, M, K).Convert(dt)
				if err != nil {
					t.Fatal(err)
				}
				const rowsMax = 40
				x := make([]float32, rowsMax*K)
				for i := range x {
					x[i] = rng.Float32() - 0.5
				}
				bias := make([]float32, M)
				for i := range bias {
					bias[i] = rng.Float32()
				}
				ref := make([]float32, rowsMax*M)
				for n := range rowsMax {
					r.LinearAct(ref[n*M:(n+1)*M], x[n*K:(n+1)*K], W, bias, 1, ActGELUTanh)
				}
				for _, N := range []int{2, 3, 4, 5, 7, 16, 17, 33} {
					for off := 0; off+N <= rowsMax; off += 5 {
						out := make([]float32, N*M)
						r.LinearAct(out, x[off*K:(off+N)*K], W, bias, N, ActGELUTanh)
						for i, v := range out {
							if v != ref[off*M+i] {
								t.Fatalf("N=%d rows from %d: out[%d] = %g, alone %g", N, off, i, v, ref[off*M+i])
							}
						}
					}
				}
			})
		}
	}
}
