package profile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

func TestLimitsCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "limits.json")
	if _, err := LoadLimits(path, "k1"); !errors.Is(err, ErrNoLimits) {
		t.Fatalf("LoadLimits(missing file) = %v, want ErrNoLimits", err)
	}
	a := &Limits{Key: "k1", CPU: "cpu A", Cores: 2, Kernel: KernelName(), MemReadAll: newMeasure([]float64{10, 12, 11})}
	b := &Limits{Key: "k2", CPU: "cpu B", Cores: 8, Kernel: KernelName()}
	old := &Limits{Key: "k4", CPU: "cpu A", Cores: 2, Kernel: "older-kernels"} // measured by other code: measure again
	for _, l := range []*Limits{a, b, old} {
		if err := SaveLimits(path, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		key, cpu string
	}{{"k1", "cpu A"}, {"k2", "cpu B"}} {
		t.Run(tc.key, func(t *testing.T) {
			got, err := LoadLimits(path, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if got.CPU != tc.cpu {
				t.Errorf("CPU %q, want %q", got.CPU, tc.cpu)
			}
		})
	}
	if got, _ := LoadLimits(path, "k1"); got.MemReadAll.Median != 11 {
		t.Errorf("median %g, want 11", got.MemReadAll.Median)
	}
	if _, err := LoadLimits(path, "k3"); !errors.Is(err, ErrNoLimits) {
		t.Errorf("LoadLimits(unknown key) = %v, want ErrNoLimits", err)
	}
	if _, err := LoadLimits(path, "k4"); !errors.Is(err, ErrNoLimits) || !strings.Contains(err.Error(), "older-kernels") {
		t.Errorf("LoadLimits(other kernels) = %v, want ErrNoLimits naming them", err)
	}
	if err := os.WriteFile(path, []byte("{bad"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLimits(path, "k1"); err == nil || errors.Is(err, ErrNoLimits) {
		t.Errorf("LoadLimits(corrupt) = %v, want a parse error", err)
	}
	if err := SaveLimits(path, a); err != nil { // a corrupt cache is replaced
		t.Fatal(err)
	}
	if err := SaveLimits(path, &Limits{}); err == nil {
		t.Error("SaveLimits(empty key) succeeded, want an error")
	}
}

func TestMeasure(t *testing.T) {
	for _, tc := range []struct {
		in                  []float64
		med, lo, hi, spread float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3, 1},
		{[]float64{4, 1, 2, 3}, 2.5, 1, 4, 1.2},
		{[]float64{5}, 5, 5, 5, 0},
		{nil, 0, 0, 0, 0},
	} {
		t.Run(fmt.Sprint(tc.in), func(t *testing.T) {
			m := newMeasure(tc.in)
			if m.Median != tc.med || m.Min != tc.lo || m.Max != tc.hi || math.Abs(m.Spread-tc.spread) > 1e-12 {
				t.Errorf("newMeasure = %+v, want median %g min %g max %g spread %g", m, tc.med, tc.lo, tc.hi, tc.spread)
			}
		})
	}
}

func TestLimitsInterp(t *testing.T) {
	l := &Limits{Cores: 4, MemRead1Core: fixed(10), MemReadAll: fixed(40), Peak1Core: fixed(100), PeakAll: fixed(400)}
	for _, tc := range []struct {
		threads  int
		bw, peak float64
	}{{0, 10, 100}, {1, 10, 100}, {2, 20, 200}, {4, 40, 400}, {16, 40, 400}} {
		t.Run(fmt.Sprintf("threads=%d", tc.threads), func(t *testing.T) {
			if bw, pk := l.Bandwidth(tc.threads), l.Peak(tc.threads); bw != tc.bw || pk != tc.peak {
				t.Errorf("Bandwidth, Peak = %g, %g; want %g, %g", bw, pk, tc.bw, tc.peak)
			}
			if got := l.Balance(tc.threads); got != 10 {
				t.Errorf("Balance = %g, want 10", got)
			}
		})
	}
}

func TestRoofline(t *testing.T) {
	l := &Limits{Cores: 1, MemRead1Core: fixed(20), Peak1Core: fixed(100)} // balance 5 FLOP/B
	for _, tc := range []struct {
		name            string
		gflops, gbs, ai float64
		bound           string
		ofLimit         float64
	}{
		{"matvec", 5, 10, 0.5, report.BoundMemory, 0.5},     // 10 of 20 GB/s
		{"matmul", 80, 1, 80, report.BoundCompute, 0.8},     // 80 of 100 GFLOP/s
		{"at balance", 50, 10, 5, report.BoundCompute, 0.5}, // on the ridge: compute
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, of := roofline(l, 1, tc.gflops, tc.gbs, tc.ai)
			if b != tc.bound || math.Abs(of-tc.ofLimit) > 1e-12 {
				t.Errorf("roofline = %s, %g; want %s, %g", b, of, tc.bound, tc.ofLimit)
			}
		})
	}
	if b, of := roofline(nil, 1, 1, 1, 1); b != "" || of != 0 {
		t.Errorf("roofline(no limits) = %q, %g; want empty", b, of)
	}
}

// TestCalibrateSmall runs the whole calibration on a small buffer: every
// limit positive, spreads computed. No assertion on the values (timing).
func TestCalibrateSmall(t *testing.T) {
	l, err := Calibrate(context.Background(), CalibrateOptions{BufferBytes: 4 << 20, Runs: 2, Threads: 2, FMADuration: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]Measure{"read 1": l.MemRead1Core, "read all": l.MemReadAll, "peak 1": l.Peak1Core, "peak all": l.PeakAll} {
		if !(m.Median > 0) || len(m.Samples) != 2 {
			t.Errorf("%s = %+v, want a positive median of 2 samples", name, m)
		}
	}
	if l.Key != MachineKey() || l.Cores != 2 || l.Kernel == "" {
		t.Errorf("limits %+v: want key %q, 2 cores, a kernel name", l, MachineKey())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Calibrate(ctx, CalibrateOptions{BufferBytes: 1 << 20, Runs: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Calibrate(cancelled) = %v, want context.Canceled", err)
	}
	if _, err := Calibrate(context.Background(), CalibrateOptions{BufferBytes: 1000}); err == nil {
		t.Error("Calibrate(1000-byte buffer) succeeded, want an error")
	}
}

func TestHistStats(t *testing.T) {
	buckets := []float64{math.Inf(-1), 0, 1, 2, 4, math.Inf(1)}
	counts := []uint64{0, 2, 1, 1, 0}
	n, sum, mx, p50 := histStats(counts, buckets, 0.5)
	if n != 4 || sum != 2*0.5+1*1.5+1*3 || mx != 4 || p50 != 1 {
		t.Errorf("histStats = %d, %g, %g, %g; want 4, 5.5, 4, 1", n, sum, mx, p50)
	}
	if n, _, _, _ := histStats(make([]uint64, 5), buckets, 0.5); n != 0 {
		t.Errorf("empty histogram count %d", n)
	}
}

func TestLimitsWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		want int
	}{
		{"quiet", Limits{Cores: 2, Peak1Core: fixed(100), PeakAll: fixed(195)}, 0},
		{"contended", Limits{Cores: 2, Peak1Core: fixed(100), PeakAll: fixed(110)}, 1},
		{"noisy", Limits{Cores: 1, Peak1Core: Measure{Median: 100, Max: 100, Spread: 0.3}, PeakAll: fixed(100)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.Warnings(); len(got) != tc.want {
				t.Errorf("Warnings() = %q, want %d", got, tc.want)
			}
		})
	}
}

// fixed is a Measure whose every run gave v.
func fixed(v float64) Measure { return Measure{Median: v, Min: v, Max: v} }

func TestUnsteady(t *testing.T) {
	m := func(v ...float64) Measure { return newMeasure(v) }
	steady := &Limits{Cores: 2, MemRead1Core: m(20, 20.5), MemReadAll: m(30, 31), Peak1Core: m(100, 101), PeakAll: m(199, 200)}
	tests := []struct {
		name string
		l    *Limits
		want string // substring; "" = steady
	}{
		{"steady", steady, ""},
		{"busy memory", &Limits{Cores: 2, MemRead1Core: m(12, 20, 24), MemReadAll: steady.MemReadAll, Peak1Core: steady.Peak1Core, PeakAll: steady.PeakAll}, "memory read, 1 core spread 60%"},
		{"cores shared", &Limits{Cores: 2, MemRead1Core: steady.MemRead1Core, MemReadAll: steady.MemReadAll, Peak1Core: m(100), PeakAll: m(117)}, "only 1.2x"},
		{"nominal", &Limits{Source: "GPU attributes", Cores: 1, MemRead1Core: m(1, 5)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.l.Unsteady()
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("Unsteady() = %q, want %q", got, tc.want)
			}
		})
	}
}
