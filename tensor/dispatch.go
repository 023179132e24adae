package tensor

// Kernel variants. Every hot kernel has a pure-Go version (the *Generic
// functions, always built; also the oracle in tests) and, on amd64 with
// AVX2, FMA and F16C, an assembly version; the linear layers (tiles and
// the float16 and 4-bit GEMVs), the fused attention of prefill and layer
// norm also have AVX-512 (F, BW, DQ, VL, VNNI) versions. The choice is made once, at
// package init, and stored in useAVX2FMA and useAVX512 (dispatch_amd64.go):
//
//   - build with -tags purego to compile the assembly out entirely;
//   - or set GPT2BENCH_NOASM=1 in the environment before the program starts
//     to keep it compiled in but unused (the same binary, for comparisons);
//   - or set GPT2BENCH_NOAVX512=1 to keep the AVX2 kernels but not the
//     AVX-512 ones (what a machine without AVX-512 runs).
//
// Tests flip useAVX2FMA and useAVX512 to run every variant against the
// generic oracle.

// noasmEnv is the environment variable that turns the assembly kernels off.
const noasmEnv = "GPT2BENCH_NOASM"

// noavx512Env is the environment variable that keeps the AVX2 kernels
// where AVX-512 ones exist.
const noavx512Env = "GPT2BENCH_NOAVX512"

// Kernels names the kernel variant in use: "avx512" (the AVX2 assembly
// plus the AVX-512 kernels), "avx2" (AVX2+FMA+F16C assembly) or
// "generic" (pure Go). Reports record it next to the timings.
func Kernels() string {
	if useAVX512 {
		return "avx512"
	}
	if useAVX2FMA {
		return "avx2"
	}
	return "generic"
}

// useOuter lets Linear take the outer-product path for N >= outerMinN (with
// the assembly kernels). It is changed only by tests and benchmarks, to
// compare the path with the dot-product tiles.
var useOuter = true
