package cuda

import (
	"math"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// spanRecorder is a model.DeviceTracer that keeps what it is given.
type spanRecorder struct {
	ops []recordedOp
}

type recordedOp struct {
	layer      int
	op         model.Op
	start, dur time.Duration
}

func (r *spanRecorder) BeginStep(model.Step)  {}
func (r *spanRecorder) EndStep()              {}
func (r *spanRecorder) BeginOp(int, model.Op) {}
func (r *spanRecorder) EndOp(int, model.Op)   {}
func (r *spanRecorder) DeviceOp(layer int, op model.Op, start, dur time.Duration) {
	r.ops = append(r.ops, recordedOp{layer, op, start, dur})
}

func TestPlanTimingSmall(t *testing.T) {
	ls := []launch{
		{kernel: "a", layer: -1, op: model.OpEmbed},
		{kernel: "b", layer: -1, op: model.NumOps},
		{kernel: "c", layer: 0, op: model.OpQKV},
		{kernel: "d", layer: 0, op: model.OpQKV},
		{kernel: "e", layer: 1, op: model.OpQKV},
		{kernel: "f", layer: -1, op: model.NumOps},
	}
	tm := planTiming(ls)
	wantAt := []int{0, -1, 1, -1, 2, -1}
	for i, a := range tm.at {
		if a != wantAt[i] {
			t.Errorf("event before launch %d (%s): %d, want %d", i, ls[i].kernel, a, wantAt[i])
		}
	}
	if tm.end != 5 || len(tm.spans) != 3 || tm.events() != 4 {
		t.Errorf("end %d, %d spans, %d events; want 5, 3, 4", tm.end, len(tm.spans), tm.events())
	}
	if got := planTiming(nil).events(); got != 0 {
		t.Errorf("empty plan: %d events, want 0", got)
	}
	var r spanRecorder
	tm.report(&r, []float32{0, 0.002, 0.0105, 0.0125})
	want := []recordedOp{
		{-1, model.OpEmbed, 0, 2 * time.Microsecond},
		{0, model.OpQKV, 2 * time.Microsecond, 8500 * time.Nanosecond},
		{1, model.OpQKV, 10500 * time.Nanosecond, 2 * time.Microsecond},
	}
	if len(r.ops) != len(want) {
		t.Fatalf("%d ops reported, want %d", len(r.ops), len(want))
	}
	for i, o := range r.ops {
		if o != want[i] {
			t.Errorf("op %d: %+v, want %+v", i, o, want[i])
		}
	}
	r.ops = nil
	tm.report(&r, []float32{0, 0.002}) // too few marks: nothing
	if len(r.ops) != 0 {
		t.Errorf("short marks reported %d ops", len(r.ops))
	}
	tm.report(&r, []float32{0, 0.003, 0.002, 0.004}) // out of order: zero, never negative
	if r.ops[1].dur != 0 {
		t.Errorf("out-of-order marks gave %v, want 0", r.ops[1].dur)
	}
}

// TestPlanTiming checks the spans of real plans: every timed launch
// belongs to the span of its (layer, op), spans follow model order, and a
// decode step of gpt2 has embed, 5 ops per layer (ln_1 inside qkv, ln_2
// inside mlp_up), logits and sample.
func TestPlanTiming(t *testing.T) {
	cfg := model.GPT2()
	for _, tc := range []struct {
		name  string
		s     shape
		spans int
	}{
		{"decode", shape{B: 1, T: 1, Cap: 1024}, 1 + 5*cfg.NLayer + 2},
		{"decode/nosample", shape{B: 1, T: 1, Cap: 1024, NoSample: true}, 1 + 5*cfg.NLayer + 1},
		{"decode/v2", shape{B: 1, T: 1, Cap: 1024, Kernels: KernelsV2}, 1 + 5*cfg.NLayer + 2},
		{"decode/unfused", shape{B: 1, T: 1, Cap: 1024, Unfused: true}, 1 + 7*cfg.NLayer + 3},
		{"prefill128", shape{B: 1, T: 128, Cap: 1024}, 1 + 7*cfg.NLayer + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := plan(cfg, tensor.F16, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			tm := planTiming(ls)
			if len(tm.spans) != tc.spans {
				t.Errorf("%d spans, want %d", len(tm.spans), tc.spans)
			}
			cur := -1
			for i, l := range ls {
				if a := tm.at[i]; a >= 0 {
					if a != cur+1 {
						t.Fatalf("launch %d opens span %d after %d", i, a, cur)
					}
					cur = a
				}
				if i >= tm.end {
					if l.op != model.NumOps {
						t.Errorf("launch %d (%s) after the last span", i, l.kernel)
					}
					continue
				}
				if sp := tm.spans[cur]; l.op != model.NumOps && (sp.layer != l.layer || sp.op != l.op) {
					t.Errorf("launch %d (%s, layer %d, %s) in span %d (layer %d, %s)", i, l.kernel, l.layer, l.op, cur, sp.layer, sp.op)
				}
			}
			for j := 1; j < len(tm.spans); j++ {
				a, b := tm.spans[j-1], tm.spans[j]
				if a.layer == b.layer && a.op == b.op {
					t.Errorf("spans %d and %d are both layer %d %s", j-1, j, a.layer, a.op)
				}
			}
			wantLast := model.OpSample
			if tc.s.NoSample {
				wantLast = model.OpLogits
			}
			if first, last := tm.spans[0], tm.spans[len(tm.spans)-1]; first.op != model.OpEmbed || last.op != wantLast {
				t.Errorf("spans run %s..%s, want embed..%s", first.op, last.op, wantLast)
			}
		})
	}
}

func TestNominalLimits(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		memKHz, bus, sms, kHz, mj, mn int
		gbs, gflops                   float64
	}{
		{"H100 SXM", 2619000, 5120, 132, 1980000, 9, 0, 3352.32, 66908.16},
		{"A100 SXM", 1215000, 5120, 108, 1410000, 8, 0, 1555.2, 19491.84},
		{"RTX 4090", 10501000, 384, 128, 2520000, 8, 9, 1008.096, 82575.36},
		{"unknown architecture", 1000000, 64, 4, 1000000, 3, 0, 16, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nominalBandwidth(tc.memKHz, tc.bus); math.Abs(got-tc.gbs) > 1e-6*tc.gbs {
				t.Errorf("bandwidth %g GB/s, want %g", got, tc.gbs)
			}
			if got := nominalFP32Peak(tc.sms, tc.kHz, tc.mj, tc.mn); math.Abs(got-tc.gflops) > 1e-6*tc.gflops {
				t.Errorf("fp32 peak %g GFLOP/s, want %g", got, tc.gflops)
			}
		})
	}
}
