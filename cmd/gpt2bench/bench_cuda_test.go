//go:build cuda

package main

import (
	"context"
	"errors"
	"testing"

	"github.com/gpt2bench/gpt2bench/model/cuda"
)

// TestBenchCUDA runs the memory phase on the GPU (go test -tags cuda on a
// machine with one) and checks the report's device memory.
func TestBenchCUDA(t *testing.T) {
	mf := modelFlags{model: tinyDir, revision: "main", dtype: "f32", backend: "cuda"}
	e, err := mf.open(context.Background())
	if errors.Is(err, cuda.ErrNoDevice) {
		t.Skip("no CUDA device")
	}
	if err != nil {
		t.Fatal(err)
	}
	used, total, err := infoMemory{e.gpu}.DeviceMemory()
	if err != nil || used <= 0 || total <= used {
		t.Errorf("DeviceMemory = %d, %d, %v; Info: %v", used, total, err, e.gpu.Info())
	}
	e.Close()

	out := t.TempDir()
	code, _, stderr := runCLI(t, tinyBench(out, "8,16", "--backend", "cuda", "--phases", "memory")...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	r := readOnlyReport(t, out)
	if !r.SystemInfo.CUDA.Available || len(r.Memory) == 0 {
		t.Fatalf("cuda %+v, %d memory rows", r.SystemInfo.CUDA, len(r.Memory))
	}
	for _, m := range r.Memory {
		if m.GPU == nil || m.GPU.PeakUsedBytes <= 0 || m.GPU.TotalBytes <= 0 {
			t.Errorf("input %d batch %d: GPU memory %+v, want peak and total > 0", m.InputLen, m.BatchSize, m.GPU)
		}
	}
}
