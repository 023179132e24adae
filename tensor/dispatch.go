package tensor

// Kernel variants. Every hot kernel has a pure-Go version (the *Generic
// functions, always built; also the oracle in tests) and, on amd64 with
// AVX2, FMA and F16C, an assembly version. The choice is made once, at
// package init, and stored in useAVX2FMA (dispatch_amd64.go):
//
//   - build with -tags purego to compile the assembly out entirely;
//   - or set GPT2BENCH_NOASM=1 in the environment before the program starts
//     to keep it compiled in but unused (the same binary, for comparisons).
//
// Tests flip useAVX2FMA to run every variant against the generic oracle.

// noasmEnv is the environment variable that turns the assembly kernels off.
const noasmEnv = "GPT2BENCH_NOASM"

// Kernels names the kernel variant in use: "avx2" (AVX2+FMA+F16C assembly)
// or "generic" (pure Go). Reports record it next to the timings.
func Kernels() string {
	if useAVX2FMA {
		return "avx2"
	}
	return "generic"
}

// useOuter lets Linear take the outer-product path for N >= outerMinN (with
// the assembly kernels). It is changed only by tests and benchmarks, to
// compare the path with the dot-product tiles.
var useOuter = true
