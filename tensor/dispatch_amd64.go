//go:build gc && !purego

package tensor

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAVX2FMA selects the assembly kernels. It is set once at init from the
// CPU's features and GPT2BENCH_NOASM, and changed only by tests.
var useAVX2FMA = cpuAVX2FMA() && os.Getenv(noasmEnv) == ""

// useAVX512 selects the AVX-512 kernels where they exist (the others stay
// AVX2). It needs useAVX2FMA plus AVX-512 F, BW, DQ, VL and VNNI, and
// GPT2BENCH_NOAVX512 unset; it is set once at init and changed only by
// tests.
var useAVX512 = useAVX2FMA && cpuAVX512() && os.Getenv(noavx512Env) == ""

// cpuAVX2FMA reports whether the CPU can run the AVX2 kernels.
func cpuAVX2FMA() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C }

// cpuAVX512 reports whether the CPU can run the AVX-512 kernels.
func cpuAVX512() bool {
	return cpuAVX2FMA() && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ &&
		cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
}
