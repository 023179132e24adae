package bench

import (
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/cpu"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// backendName qualifies the CPU backend with its kernel variant:
// "cpu-avx512", "cpu-avx2" or "cpu-generic"; other backends keep their name.
func backendName(backend string) string {
	if backend == "cpu" {
		return "cpu-" + tensor.Kernels()
	}
	return backend
}

// SystemInfo describes this machine and binary for a report: OS, arch,
// kernel, Go version, CPU model, cores, GOMAXPROCS, memory, the SIMD
// features the kernels use (CPUFeatures), and the tool version and VCS
// commit from the build information ("-dirty" when built from modified
// files; empty when the build recorded none, as with go run or
// -buildvcs=false). backend names the backend: "cpu" becomes "cpu-avx2"
// or "cpu-generic" after tensor.Kernels, others ("cuda") stay as they are;
// the caller fills CUDA on a GPU build.
func SystemInfo(backend, toolVersion string) report.SystemInfo {
	s := report.SystemInfo{
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		Kernel:      kernelRelease(),
		GoVersion:   runtime.Version(),
		CPUModel:    cpuModel(),
		Cores:       runtime.NumCPU(),
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		MemoryBytes: totalMemory(),
		CPUFeatures: CPUFeatures(),
		Backend:     backendName(backend),
		ToolVersion: toolVersion,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if s.ToolVersion == "" {
			s.ToolVersion = bi.Main.Version
		}
		var rev string
		dirty := false
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.modified":
				dirty = kv.Value == "true"
			}
		}
		if rev != "" && dirty {
			rev += "-dirty"
		}
		s.GitCommit = rev
	}
	return s
}

// CPUFeatures lists the SIMD features the kernels use on this machine
// (never nil): AVX2, FMA and F16C when tensor.Kernels() is "avx2", those
// plus AVX-512 F, BW, DQ, VL and VNNI when it is "avx512", none for the
// pure-Go kernels. Detection is golang.org/x/sys/cpu's.
func CPUFeatures() []string {
	f := []string{}
	add := func(ok bool, name string) {
		if ok {
			f = append(f, name)
		}
	}
	k := tensor.Kernels()
	if k == "avx2" || k == "avx512" {
		add(cpu.X86.HasAVX2, "avx2")
		add(cpu.X86.HasFMA, "fma")
		add(cpu.X86.HasF16C, "f16c")
	}
	if k == "avx512" {
		add(cpu.X86.HasAVX512F, "avx512f")
		add(cpu.X86.HasAVX512BW, "avx512bw")
		add(cpu.X86.HasAVX512DQ, "avx512dq")
		add(cpu.X86.HasAVX512VL, "avx512vl")
		add(cpu.X86.HasAVX512VNNI, "avx512vnni")
	}
	return f
}
