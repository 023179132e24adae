// Package tensor holds the float32 kernels of the GPT-2 forward pass:
// linear layers (matrix times vector or matrix), layer norm, GELU, softmax,
// the attention inner loops and small vector ops, on plain row-major
// []float32 slices, plus the persistent worker pool that splits each op
// across cores.
//
// Shapes are written outermost first, as in PyTorch: x [N, K] is N rows of
// K contiguous values. Kernels panic only on programmer errors (a length
// that disagrees with the shape arguments); they never allocate in steady
// state (a Runner sizes its scratch on first use).
//
// # Linear
//
// Runner.Linear computes out = x·Wᵀ + b with W [M, K] stored as float32,
// float16 or int8 (symmetric, one float32 scale per block of 32 values of a
// row; activations stay float32). Rows of W are split into chunks that the
// calling goroutine and the pool's workers take from a shared counter.
//
//   - N = 1 (decode): a GEMV reads the chunk's rows of W as one sequential
//     stream in their stored dtype (VCVTPH2PS for float16; VPMOVSXBD +
//     VCVTDQ2PS and a per-block scale for int8), so it runs at memory
//     bandwidth.
//   - N >= 16 (prefill; with the assembly kernels): x is packed once per
//     call, transposed in panels of 16 rows ([K][16], by 8×8 register
//     transposes), and an outer-product 6×16 register tile (12 FMA
//     accumulators: one value of each of 6 weight rows broadcast against
//     16 contiguous packed x values per step of K, no horizontal sums)
//     runs each group of 6 weight rows over every panel. A float32 W is
//     read in place (while one group runs, the panels prefetch the next
//     group's rows); float16 and int8 groups are widened into scratch.
//     K is blocked as below. It runs at ~90% of the FMA peak.
//   - N > 1 otherwise (batched decode): K is blocked so that x[:, k0:k1]
//     stays in L2; each group of 4 rows of W is copied or widened to
//     float32 once into per-thread scratch (stride padded against 4 KiB
//     aliasing) and a 4×3 register tile (12 FMA accumulators; 4×2 and 4×1
//     for the last rows of x) runs down x, reusing it from L1. While the
//     first tile runs, the next 4 rows of a float32 W are prefetched.
//
// LinearAct fuses bias + GELU into the same pass (the activation runs on
// each thread's columns while they are in cache); AddLayerNorm fuses a
// residual add with the next layer norm.
//
// # Kernel variants
//
// Every hot kernel has a pure-Go version (the *Generic functions, always
// built; the oracle in tests) and, on amd64 with AVX2, FMA and F16C, an
// assembly version (*_amd64.s). The choice is made once at init, from
// golang.org/x/sys/cpu, into the package variable useAVX2FMA:
//
//   - go build -tags purego compiles the assembly out (the Go convention);
//   - GPT2BENCH_NOASM=1 in the environment keeps it compiled in but unused,
//     to compare variants with one binary.
//
// Kernels reports which variant runs. The tests flip useAVX2FMA and check
// every variant against the generic oracle inside guard bands.
//
// # Benchmarks
//
//	go test ./tensor -run '^$' -bench 'Linear|MemBandwidth' -count 5 | benchstat -col /impl -
//
// BenchmarkLinear runs GPT-2 124M shapes (qkv, proj, mlp_up, mlp_down,
// lm_head at N = 1, 8, 128) for impl=generic, impl=avx2 (the dot-product
// tiles for every N), impl=avx2-outer (the outer-product path, N >= 16,
// what Linear runs there) and impl=gonum (blas32 Sgemv/Sgemm, float32
// only), reporting GFLOP/s and GB/s (weights + x read once). BenchmarkMemBandwidth streams a 256 MiB slice, the
// roofline for batch-1 decode.
package tensor
