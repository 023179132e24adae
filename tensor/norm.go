package tensor

import (
	"fmt"
	"math"
)

// LayerNorm normalises each row of x to zero mean and unit variance, then
// scales and shifts it: out[n, :] = (x[n, :] - μ) / sqrt(σ² + eps) · w + b.
// σ² is the biased variance (divide by C), as in PyTorch.
//
//	x, out [N, C]   may alias
//	w, b   [C]
//
// It panics if a length disagrees with N, C. It does not allocate.
func LayerNorm(out, x, w, b []float32, N, C int, eps float32) {
	if len(x) != N*C || len(out) != N*C || len(w) != C || len(b) != C {
		panic(fmt.Sprintf("tensor: LayerNorm: lens x %d out %d w %d b %d for N=%d C=%d", len(x), len(out), len(w), len(b), N, C))
	}
	for n := range N {
		layerNormRow(out[n*C:(n+1)*C], x[n*C:(n+1)*C], w, b, eps)
	}
}

// layerNormRowGeneric normalises one row in pure Go (the oracle of the
// AVX-512 rows).
func layerNormRowGeneric(out, x, w, b []float32, eps float32) {
	C := len(x)
	out, w, b = out[:C], w[:C], b[:C]
	mean := sum4(x) / float32(C)
	// two passes: no cancellation from E[x²] - E[x]²; four partial sums
	// so the adds are not one dependency chain
	var v0, v1, v2, v3 float32
	i := 0
	for ; i+4 <= C; i += 4 {
		d0, d1, d2, d3 := x[i]-mean, x[i+1]-mean, x[i+2]-mean, x[i+3]-mean
		v0 += d0 * d0
		v1 += d1 * d1
		v2 += d2 * d2
		v3 += d3 * d3
	}
	for ; i < C; i++ {
		d := x[i] - mean
		v0 += d * d
	}
	variance := ((v0 + v1) + (v2 + v3)) / float32(C)
	rstd := float32(1 / math.Sqrt(float64(variance+eps)))
	for i, v := range x {
		out[i] = (v-mean)*rstd*w[i] + b[i]
	}
}

// sum4 returns Σ x[i] with four partial sums.
func sum4(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Softmax replaces x with exp(x - max) / Σ exp(x - max) in place.
// Subtracting the max changes nothing mathematically; it keeps exp from
// overflowing. exp is a float32 polynomial accurate to about 1 ulp.
// It does not allocate.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	inv := 1 / expSub(x, mx)
	for i := range x {
		x[i] *= inv
	}
}

// GELUTanh applies GPT-2's GELU ("gelu_new", the tanh approximation) in
// place: x · ½(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as x·σ(2u)
// in float32 (within a few ulp of the float64 formula).
func GELUTanh(x []float32) {
	geluTanhSlice(x)
}

// GELUErf applies the exact GELU ("gelu") in place: x · ½(1 + erf(x/√2)).
func GELUErf(x []float32) {
	for i, v := range x {
		x[i] = geluErf(v)
	}
}

// AddLayerNorm is the residual add fused with the next layer norm:
// x += y, then out = LayerNorm(x) (as LayerNorm), in one pass per row
// while the row is in cache.
//
//	x, y [N, C]   x is updated in place; y may not alias x
//	out  [N, C]   must not alias x or y
//	w, b [C]
//
// It panics if a length disagrees with N, C. It does not allocate.
func AddLayerNorm(out, x, y, w, b []float32, N, C int, eps float32) {
	if len(y) != N*C {
		panic(fmt.Sprintf("tensor: AddLayerNorm: len(y) %d != N*C %d*%d", len(y), N, C))
	}
	if len(x) != N*C || len(out) != N*C || len(w) != C || len(b) != C {
		panic(fmt.Sprintf("tensor: AddLayerNorm: lens x %d out %d w %d b %d for N=%d C=%d", len(x), len(out), len(w), len(b), N, C))
	}
	for n := range N {
		xr := x[n*C : (n+1)*C]
		Add(xr, y[n*C:(n+1)*C])
		layerNormRow(out[n*C:(n+1)*C], xr, w, b, eps)
	}
}

// LayerNorm is the package-level LayerNorm with rows split across r's
// threads when there are enough of them to pay for the hand-off (prefill).
// Shapes as in LayerNorm. It does not allocate.
func (r *Runner) LayerNorm(out, x, w, b []float32, N, C int, eps float32) {
	const minRows = 16 // below this one thread is faster than the hand-off
	if N < minRows || r.Threads() == 1 {
		LayerNorm(out, x, w, b, N, C, eps)
		return
	}
	if len(x) != N*C || len(out) != N*C || len(w) != C || len(b) != C {
		panic(fmt.Sprintf("tensor: LayerNorm: lens x %d out %d w %d b %d for N=%d C=%d", len(x), len(out), len(w), len(b), N, C))
	}
	r.ln = lnTask{out: out, x: x, w: w, b: b, c: C, eps: eps}
	r.For(N, 1, &r.ln)
	r.ln = lnTask{}
}

type lnTask struct {
	out, x, w, b []float32
	c            int
	eps          float32
}

func (t *lnTask) Run(lo, hi int) {
	C := t.c
	for n := lo; n < hi; n++ {
		layerNormRow(t.out[n*C:(n+1)*C], t.x[n*C:(n+1)*C], t.w, t.b, t.eps)
	}
}
