package profile

import (
	"fmt"
	"math"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// Report converts p into the benchmark report's profile section. The
// report keeps the per-(phase, layer, op) rows and the machine limits;
// the phase summaries with their runtime effects and the tail; the
// overhead details stay in Profile (its JSON form). OverheadMs is the wall time outside traced ops
// (bookkeeping between ops plus the tracer's own cost). Ops that did no
// work (gelu while the engine fuses it into mlp_up) are left out. Without
// Limits each op's bound is decided against NominalBalance, and
// Machine.Method says so.
func (p *Profile) Report() *report.Profile {
	r := &report.Profile{
		InputLen: p.InputLen, OutputLen: p.OutputLen, Threads: p.Threads,
		TotalMs: p.WallMs, OverheadMs: math.Max(0, p.WallMs-p.OpMs),
	}
	if l := p.Limits; l != nil {
		r.Machine = report.MachineLimits{
			MemBandwidthGBPerS1Core: l.MemRead1Core.Limit(), MemBandwidthGBPerSAll: l.MemReadAll.Limit(),
			PeakGFLOPPerS1Core: l.Peak1Core.Limit(), PeakGFLOPPerSAll: l.PeakAll.Limit(),
			Method: fmt.Sprintf("measured %s (%s kernels, best of %d runs, spread up to %.0f%%)",
				l.MeasuredAt.UTC().Format("2006-01-02 15:04 UTC"), l.Kernel, len(l.PeakAll.Samples), 100*l.MaxSpread()),
		}
		if l.Source != "" {
			r.Machine.Method = "nominal: " + l.Source
		} else {
			at := l.MeasuredAt.UTC()
			r.Machine.MeasuredAt = &at
			r.Machine.Spread = l.MaxSpread()
		}
	} else {
		r.Machine.Method = fmt.Sprintf("not calibrated: bounds against a nominal balance of %g FLOP/byte", NominalBalance)
	}
	r.Ops = make([]report.OpProfile, 0, len(p.Ops))
	for _, o := range p.Ops {
		if o.FLOPs == 0 && o.Bytes == 0 {
			continue
		}
		bound := o.Bound
		if bound == "" {
			bound = report.BoundMemory
			if o.Intensity >= NominalBalance {
				bound = report.BoundCompute
			}
		}
		r.Ops = append(r.Ops, report.OpProfile{
			Phase: o.Phase, Layer: o.Layer, Op: o.Op, TotalMs: o.TotalMs, Share: o.Share, Calls: o.Calls,
			FLOPs: int64(math.Round(o.FLOPs)), Bytes: int64(math.Round(o.Bytes)),
			GFLOPPerS: o.GFLOPPerS, GBPerS: o.GBPerS, Bound: bound, ShareOfPeak: o.OfLimit,
		})
	}
	for _, ph := range p.Phases {
		r.Phases = append(r.Phases, report.PhaseProfile{
			Phase: ph.Phase, Steps: ph.Steps, StepMs: ph.StepMs, Coverage: ph.Coverage,
			GFLOPPerS: ph.GFLOPPerS, GBPerS: ph.GBPerS, Bound: ph.Bound,
			BandwidthShare: ph.BandwidthShare, PeakShare: ph.PeakShare,
			GCCycles: int64(ph.Runtime.GCCycles), GCPauseMs: ph.Runtime.GCPauseTotalMs,
			SchedLatencyP99Ms: ph.Runtime.SchedLatencyP99Ms,
		})
	}
	for _, t := range p.Tail {
		r.Tail = append(r.Tail, report.TailToken(t))
	}
	return r
}

// NominalBalance is the machine balance (FLOPs per byte) Report assumes
// when the Profile has no calibrated Limits: about a desktop CPU's float32
// FMA peak over its memory bandwidth.
const NominalBalance = 10.0
