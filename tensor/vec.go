package tensor

import "fmt"

// Dot returns Σ a[i]·b[i]. It panics if the lengths differ.
//
// FLOPs 2n, bytes read 8n.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("tensor: Dot: len %d != %d", len(a), len(b)))
	}
	return dot(a, b)
}

// Sum returns Σ x[i], reading x once as one sequential stream, as fast
// as we know how: the memory-read reference that gpt2bench calibrate and
// the roofline benchmarks measure the kernels against. With AVX-512 it
// adds 512-bit loads into eight accumulators, each line prefetched 1 KiB
// ahead (2-8% above the same loop without prefetches, and above a 256-bit
// read); with AVX2, 256-bit loads into eight accumulators.
func Sum(x []float32) float32 { return sum(x) }

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
//
// FLOPs 2n, bytes read 8n, written 4n.
func Axpy(dst []float32, a float32, x []float32) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("tensor: Axpy: len %d != %d", len(dst), len(x)))
	}
	axpy(dst, a, x)
}
