package loadgen

import (
	"context"
	"errors"
	"fmt"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// Sweep finds the highest request rate at which the SLO holds: it measures
// the server's capacity with a saturating closed-loop point, then runs
// open-loop points starting at that capacity: while every rate tried holds
// it doubles the rate, and once one fails it bisects between the highest
// rate that held and the lowest that failed, toward the highest rate whose
// SLO attainment reaches SLO.MinAttainment (as GuideLLM's sweep looks for
// the knee and DistServe defines goodput). Every step is a point of the
// goodput curve.
type Sweep struct {
	// Capacity is the closed-loop point that saturates the server (e.g. concurrency 64).
	Capacity Point
	// Probe is the template of each rate point: arrival, burstiness, bounds, warm-up, cap; its Rate is set by the sweep.
	Probe Point
	// Steps is the number of rate points (>= 1).
	Steps int
}

// RunSweep runs s, calling done after each point (for progress), and
// returns every point measured, capacity first, and the sweep's result.
// first is the index of the first point in the report. The SLO must be set.
func RunSweep(ctx context.Context, o Options, s Sweep, first int, done func(PointResult)) ([]PointResult, report.LoadSweep, error) {
	var out []PointResult
	var sw report.LoadSweep
	if o.SLO == nil {
		return nil, sw, errors.New("a sweep needs an SLO (e.g. ttft=500ms,tpot=50ms)")
	}
	if s.Steps < 1 || s.Steps > 100 {
		return nil, sw, fmt.Errorf("sweep steps %d: want 1 to 100", s.Steps)
	}
	need := o.SLO.MinAttainment
	if need <= 0 || need > 1 {
		return nil, sw, fmt.Errorf("SLO attainment %v: want a fraction in (0, 1], e.g. 0.9", need)
	}
	capRes, err := RunPoint(ctx, o, s.Capacity, first)
	out = append(out, capRes)
	if done != nil {
		done(capRes)
	}
	if err != nil {
		return out, sw, err
	}
	sw.CapacityRequestsPerS = capRes.Point.RequestsPerS
	if sw.CapacityRequestsPerS <= 0 {
		return out, sw, errors.New("the capacity point completed no request; nothing to sweep")
	}
	lo, hi := 0.0, 0.0 // highest rate that held, lowest that failed (0: none yet)
	rate := sw.CapacityRequestsPerS
	for k := range s.Steps {
		p := s.Probe
		p.Rate = rate
		res, err := RunPoint(ctx, o, p, first+1+k)
		out = append(out, res)
		sw.Rates = append(sw.Rates, rate)
		if done != nil {
			done(res)
		}
		if err != nil {
			return out, sw, err
		}
		if res.Point.SLOAttainment >= need {
			if rate > sw.MaxRequestRate {
				sw.MaxRequestRate, sw.MaxGoodputRequestsPerS = rate, res.Point.GoodputRequestsPerS
			}
			lo = rate
		} else {
			hi = rate
		}
		if hi == 0 {
			rate = 2 * lo // nothing failed yet: look higher
		} else {
			rate = (lo + hi) / 2
		}
	}
	return out, sw, nil
}
