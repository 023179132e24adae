//go:build cuda

package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gpt2bench/gpt2bench/model/cuda"
	"github.com/gpt2bench/gpt2bench/profile"
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

// TestProfileCUDA profiles the tiny fixture on the GPU: every op of every
// layer timed with CUDA events, the device named, nominal limits used,
// and the per-op times inside the measured steps.
func TestProfileCUDA(t *testing.T) {
	mf := modelFlags{model: tinyDir, revision: "main", dtype: "f32", backend: "cuda"}
	e, err := mf.open(context.Background())
	if errors.Is(err, cuda.ErrNoDevice) {
		t.Skip("no CUDA device")
	}
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	code, stdout, stderr := runCLI(t, "profile", "--backend", "cuda", "--model", tinyDir, "--input-len", "8", "--output-len", "4", "--format", "json", "--overhead-runs", "1")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var p profile.Profile
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if p.Device == "" || p.Threads != 1 {
		t.Errorf("device %q, threads %d; want a device name and 1", p.Device, p.Threads)
	}
	layers := map[string]map[int]bool{}
	for _, r := range p.Ops {
		if r.TotalMs <= 0 {
			t.Errorf("%s layer %d %s: %g ms", r.Phase, r.Layer, r.Op, r.TotalMs)
		}
		if layers[r.Op] == nil {
			layers[r.Op] = map[int]bool{}
		}
		layers[r.Op][r.Layer] = true
	}
	for _, op := range []string{"qkv", "attn_scores", "attn_proj", "mlp_up", "mlp_down"} {
		if len(layers[op]) != 2 { // tiny-gpt2 has 2 layers
			t.Errorf("%s timed in layers %v, want 0 and 1", op, layers[op])
		}
	}
	for _, ph := range p.Phases {
		if ph.Coverage <= 0 || ph.Coverage > 1.05 {
			t.Errorf("%s: per-op GPU time is %.0f%% of the step's wall time, want (0, 105%%]", ph.Phase, 100*ph.Coverage)
		}
	}
	t.Logf("phases: %+v", p.Phases)
}
