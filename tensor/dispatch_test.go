package tensor

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestKernelsEnv runs this test binary again under each environment
// switch and checks the variant it reports: GPT2BENCH_NOAVX512 keeps the
// AVX2 kernels, GPT2BENCH_NOASM the pure-Go ones.
func TestKernelsEnv(t *testing.T) {
	if os.Getenv("GPT2BENCH_KERNELS_CHILD") != "" {
		os.Stdout.WriteString("kernels=" + Kernels() + "\n")
		return
	}
	// From the CPU, not from this process's variables: the test may run
	// under GPT2BENCH_NOAVX512 or GPT2BENCH_NOASM, which the children unset.
	avx2, avx512 := cpuHas()
	want512, want2 := "generic", "generic"
	if avx2 {
		want512, want2 = "avx2", "avx2"
	}
	if avx512 {
		want512 = "avx512"
	}
	for _, tc := range []struct{ env, want string }{
		{"", want512},
		{noavx512Env + "=1", want2},
		{noasmEnv + "=1", "generic"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKernelsEnv$")
		cmd.Env = append(os.Environ(), "GPT2BENCH_KERNELS_CHILD=1", noavx512Env+"=", noasmEnv+"=")
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.env, err, out)
		}
		if !strings.Contains(string(out), "kernels="+tc.want+"\n") {
			t.Errorf("with %q: %s, want kernels=%s", tc.env, strings.TrimSpace(string(out)), tc.want)
		}
	}
}
