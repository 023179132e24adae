package tensor

import "fmt"

// Linear computes out = x·Wᵀ + b for every row of x (a GPT-2 linear layer),
// split across r's threads by output column (rows of W), so each thread
// streams its own part of W once.
//
//	x   [N, K]
//	w   [M, K]   out × in (HF Conv1D [K, M], transposed once at load)
//	b   [M]      may be nil
//	out [N, M]   must not alias x
//
// It panics if a length disagrees with N, K, M. It does not allocate.
func (r *Runner) Linear(out, x []float32, w *Mat, b []float32, N int) {
	K, M := w.Cols, w.Rows
	checkLinear(out, x, w, b, N)
	r.lin = linearTask{out: out, x: x, w: w, b: b, n: N, k: K, m: M}
	r.For(M, 16, &r.lin)
	r.lin = linearTask{} // drop references for the GC
}

// LinearRange computes columns [lo, hi) of out = x·Wᵀ + b on the calling
// goroutine; Linear runs it on every thread. Shapes as in Linear.
func LinearRange(out, x []float32, w *Mat, b []float32, N, lo, hi int) {
	checkLinear(out, x, w, b, N)
	if lo < 0 || hi > w.Rows || lo > hi {
		panic(fmt.Sprintf("tensor: LinearRange: range [%d, %d) outside [0, %d)", lo, hi, w.Rows))
	}
	linearRange(out, x, w, b, N, lo, hi)
}

func checkLinear(out, x []float32, w *Mat, b []float32, N int) {
	K, M := w.Cols, w.Rows
	switch {
	case len(x) != N*K:
		panic(fmt.Sprintf("tensor: Linear: len(x) %d != N*K %d*%d", len(x), N, K))
	case len(out) != N*M:
		panic(fmt.Sprintf("tensor: Linear: len(out) %d != N*M %d*%d", len(out), N, M))
	case b != nil && len(b) != M:
		panic(fmt.Sprintf("tensor: Linear: len(b) %d != M %d", len(b), M))
	}
}

type linearTask struct {
	out, x, b []float32
	w         *Mat
	n, k, m   int
}

func (t *linearTask) Run(lo, hi int) { linearRange(t.out, t.x, t.w, t.b, t.n, lo, hi) }

// linearRange dispatches on the weight type.
func linearRange(out, x []float32, w *Mat, b []float32, N, lo, hi int) {
	switch w.DType {
	case F32:
		linearF32(out, x, w.F32, b, N, w.Cols, w.Rows, lo, hi)
	default:
		linearSlow(out, x, w, b, N, lo, hi)
	}
}

// linearF32Generic is the plain loop: out[n, m] = Σ_k x[n, k]·w[m, k] + b[m].
func linearF32Generic(out, x, w, b []float32, N, K, M, lo, hi int) {
	for n := range N {
		xr := x[n*K : (n+1)*K]
		or := out[n*M : (n+1)*M]
		for m := lo; m < hi; m++ {
			s := Dot(xr, w[m*K:(m+1)*K])
			if b != nil {
				s += b[m]
			}
			or[m] = s
		}
	}
}

// linearSlow handles any DType by widening one weight row at a time. It is
// the fallback until a DType has its own kernel.
func linearSlow(out, x []float32, w *Mat, b []float32, N, lo, hi int) {
	K, M := w.Cols, w.Rows
	var buf [4096]float32
	if K > len(buf) {
		panic("tensor: linearSlow: K too large")
	}
	row := buf[:K]
	for m := lo; m < hi; m++ {
		w.Row(row, m)
		for n := range N {
			s := Dot(x[n*K:(n+1)*K], row)
			if b != nil {
				s += b[m]
			}
			out[n*M+m] = s
		}
	}
}
