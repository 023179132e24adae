package tensor

import "fmt"

// Dot returns Σ a[i]·b[i]. It panics if the lengths differ.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("tensor: Dot: len %d != %d", len(a), len(b)))
	}
	return dot(a, b)
}

// dotGeneric uses four accumulators so the loop is not one long dependency chain.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Add computes dst[i] += x[i] (a residual connection). It panics if the
// lengths differ.
func Add(dst, x []float32) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("tensor: Add: len %d != %d", len(dst), len(x)))
	}
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// Axpy computes dst[i] += a·x[i]. It panics if the lengths differ.
func Axpy(dst []float32, a float32, x []float32) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("tensor: Axpy: len %d != %d", len(dst), len(x)))
	}
	axpy(dst, a, x)
}

func axpyGeneric(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += a * x[i]
	}
}
