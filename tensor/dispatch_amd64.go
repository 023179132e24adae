//go:build gc && !purego

package tensor

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAVX2FMA selects the assembly kernels. It is set once at init from the
// CPU's features and GPT2BENCH_NOASM, and changed only by tests.
var useAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C && os.Getenv(noasmEnv) == ""
