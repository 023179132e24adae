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

func layerNormRow(out, x, w, b []float32, eps float32) {
	C := len(x)
	out, w, b = out[:C], w[:C], b[:C]
	var mean float32
	for _, v := range x {
		mean += v
	}
	mean /= float32(C)
	var variance float32 // two passes: no cancellation from E[x²] - E[x]²
	for _, v := range x {
		d := v - mean
		variance += d * d
	}
	variance /= float32(C)
	rstd := float32(1 / math.Sqrt(float64(variance+eps)))
	for i, v := range x {
		out[i] = (v-mean)*rstd*w[i] + b[i]
	}
}

// Softmax replaces x with exp(x - max) / Σ exp(x - max) in place.
// Subtracting the max changes nothing mathematically; it keeps exp from
// overflowing. It does not allocate.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// GELUTanh applies GPT-2's GELU ("gelu_new", the tanh approximation) in
// place: x · ½(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func GELUTanh(x []float32) {
	const s = 0.7978845608028654 // √(2/π)
	for i, v := range x {
		u := s * (v + 0.044715*v*v*v)
		x[i] = 0.5 * v * (1 + float32(math.Tanh(float64(u))))
	}
}

// GELUErf applies the exact GELU ("gelu") in place: x · ½(1 + erf(x/√2)).
func GELUErf(x []float32) {
	for i, v := range x {
		x[i] = 0.5 * v * (1 + float32(math.Erf(float64(v)/math.Sqrt2)))
	}
}
