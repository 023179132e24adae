package profile

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// syntheticProfile fills a Tracer for gpt2 with made-up but deterministic
// times: a 16-token prefill and 4 decode steps, each op taking time
// proportional to its bytes (a memory-bound machine) plus 1µs, a slow
// third decode token with a GC pause inside it.
func syntheticProfile(t *testing.T) *Profile {
	t.Helper()
	lim := &Limits{
		Key: "test", CPU: "Test CPU", Cores: 2, Kernel: "avx2-fma",
		MeasuredAt:   time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		MemRead1Core: fixed(12), MemReadAll: fixed(20),
		Peak1Core: fixed(125), PeakAll: fixed(250),
	}
	return syntheticProfileOn(t, Info{Model: "gpt2", DType: "f32", Threads: 2, Limits: lim})
}

// syntheticProfileOn is syntheticProfile with the run described by info
// (its InputLen and OutputLen are set here).
func syntheticProfileOn(t *testing.T, info Info) *Profile {
	t.Helper()
	cfg := model.GPT2()
	tr := NewTracer(cfg, TracerOptions{})
	const in, out = 16, 5
	var clock int64
	step := func(st model.Step, extra int64) {
		ph := phaseOf(st)
		rec := StepRecord{Phase: ph, T: st.T, Pos: st.Pos, Start: clock}
		for op := range model.NumOps {
			if op == model.OpSample {
				continue
			}
			f, b := model.OpCost(cfg, op, st, 4)
			ns := int64(b/10) + 1000 // 10 GB/s
			n := 1
			if op.PerLayer() {
				n = cfg.NLayer
			}
			for l := range n {
				layer := -1
				if op.PerLayer() {
					layer = l
				}
				c := &tr.acc[tr.index(ph, layer, op)]
				c.calls++
				c.ns += ns
				c.flops += f
				c.bytes += b
				clock += ns
				rec.OpNs += ns
			}
		}
		clock += 20000 + extra // untraced time inside the step
		rec.End = clock
		tr.steps = append(tr.steps, rec)
		f, b := model.OpCost(cfg, model.OpSample, st, 4)
		c := &tr.acc[tr.index(ph, -1, model.OpSample)]
		c.calls++
		c.ns += 50000
		c.flops += f
		c.bytes += b
		clock += 50000
		tr.tokens = append(tr.tokens, clock)
	}
	step(model.Step{B: 1, T: in}, 0)
	for i := range out - 1 {
		extra := int64(0)
		if i == 2 {
			extra = 5_000_000
			tr.rt.pauses = append(tr.rt.pauses, gcPause{start: clock + 1_000_000, end: clock + 1_400_000})
		}
		step(model.Step{B: 1, T: 1, Pos: in + i}, extra)
	}
	info.InputLen, info.OutputLen = in, out
	p := tr.Profile(info)
	est := 60 * float64(p.Overhead.OpCalls) * 1e-6
	p.Overhead = Overhead{PerOpNs: 60, OpCalls: p.Overhead.OpCalls, EstimatedMs: est, EstimatedShare: est / p.WallMs, Pairs: 2, UntracedMs: 100, TracedMs: 100.5, MeasuredShare: 0.005}
	return p
}

func TestWriteGolden(t *testing.T) {
	p := syntheticProfile(t)
	gpu := NominalLimits("Test GPU", "device attributes", 3000, 60000)
	gpu.MeasuredAt = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	pg := syntheticProfileOn(t, Info{Model: "gpt2", DType: "f16", Threads: 1, Device: "Test GPU", Limits: gpu})
	for _, tc := range []struct {
		p      *Profile
		format Format
		file   string
	}{
		{p, FormatTable, "profile.txt"}, {p, FormatMarkdown, "profile.md"}, {p, FormatJSON, "profile.json"},
		{pg, FormatTable, "profile-gpu.txt"}, {pg, FormatJSON, "profile-gpu.json"},
	} {
		p := tc.p
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := p.Write(&buf, tc.format); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
			}
		})
	}
	if err := p.Write(&bytes.Buffer{}, "yaml"); err == nil {
		t.Error("Write(yaml) succeeded, want an unknown-format error")
	}
}

// TestSyntheticProfile checks the numbers the renderers show.
func TestSyntheticProfile(t *testing.T) {
	p := syntheticProfile(t)
	if len(p.Phases) != 2 {
		t.Fatalf("%d phases, want 2", len(p.Phases))
	}
	dec := p.Phases[1]
	if dec.Phase != "decode" || dec.Steps != 4 || dec.Bound != report.BoundMemory {
		t.Errorf("decode summary %+v: want 4 memory-bound steps", dec)
	}
	// Every op moves bytes at 10 GB/s (plus 1µs each): just under 10 GB/s, half of 20.
	if dec.GBPerS > 10 || dec.GBPerS < 9.5 || dec.BandwidthShare > 0.5 || dec.BandwidthShare < 0.47 {
		t.Errorf("decode %g GB/s, %g of bandwidth; want just under 10, 0.5", dec.GBPerS, dec.BandwidthShare)
	}
	if len(p.Tail) == 0 || p.Tail[0].Token != 3 || p.Tail[0].GCPauses != 1 || math.Abs(p.Tail[0].GCPauseMs-0.4) > 1e-9 {
		t.Errorf("tail %+v: want token 3 first, with one 0.4 ms GC pause", p.Tail)
	}
	for _, r := range p.OpTotals() {
		if r.Phase == "decode" && r.Op == "qkv" && r.Calls != 4*12 {
			t.Errorf("decode qkv calls %d, want 48", r.Calls)
		}
	}
	rep := p.Report()
	worked := 0 // rows with work: gelu, fused into mlp_up, is left out
	for _, r := range p.Ops {
		if r.FLOPs > 0 || r.Bytes > 0 {
			worked++
		}
	}
	if len(rep.Ops) != worked || rep.Machine.MemBandwidthGBPerSAll != 20 || rep.TotalMs != p.WallMs {
		t.Errorf("Report(): %d ops, bandwidth %g, total %g; want %d, 20, %g", len(rep.Ops), rep.Machine.MemBandwidthGBPerSAll, rep.TotalMs, worked, p.WallMs)
	}
	if rep.OverheadMs <= 0 || rep.OverheadMs >= rep.TotalMs {
		t.Errorf("Report().OverheadMs = %g, want in (0, %g)", rep.OverheadMs, rep.TotalMs)
	}
	var buf bytes.Buffer
	if err := p.Write(&buf, FormatTable); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "decode: 4") || !strings.Contains(buf.String(), "of memory bandwidth") {
		t.Errorf("table lacks the decode bandwidth line:\n%s", buf.String())
	}
}

// TestReportValidates puts the converted profile into a benchmark report
// and checks it against the report's JSON Schema, with and without limits.
func TestReportValidates(t *testing.T) {
	for _, calibrated := range []bool{true, false} {
		t.Run(fmt.Sprintf("calibrated=%v", calibrated), func(t *testing.T) {
			p := syntheticProfile(t)
			if !calibrated {
				p.Limits = nil
			}
			r := &report.Report{
				SchemaVersion: report.SchemaVersion, ReportName: "gpt2_20261127_120000", ModelName: "gpt2",
				Timestamp: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
				Latency:   []report.Latency{}, Memory: []report.Memory{}, Throughput: []report.Throughput{},
				Profile: p.Report(),
			}
			data, err := report.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := report.Validate(data); err != nil {
				t.Fatalf("report with profile does not validate: %v", err)
			}
		})
	}
}

// TestNominalLimitsReport checks that nominal limits (a GPU's attributes)
// are named as such in the report, not as a calibration.
func TestNominalLimitsReport(t *testing.T) {
	gpu := NominalLimits("Test GPU", "device attributes", 3000, 60000)
	p := syntheticProfileOn(t, Info{Model: "gpt2", DType: "f16", Threads: 1, Device: "Test GPU", Limits: gpu})
	r := p.Report()
	if want := "nominal: device attributes"; r.Machine.Method != want {
		t.Errorf("method %q, want %q", r.Machine.Method, want)
	}
	if r.Machine.MemBandwidthGBPerSAll != 3000 || r.Machine.PeakGFLOPPerSAll != 60000 {
		t.Errorf("machine limits %+v, want 3000 GB/s and 60000 GFLOP/s", r.Machine)
	}
	if gpu.Bandwidth(1) != 3000 || gpu.Peak(8) != 60000 {
		t.Errorf("Bandwidth(1) %g, Peak(8) %g", gpu.Bandwidth(1), gpu.Peak(8))
	}
}
