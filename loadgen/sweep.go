package loadgen

import (
	"context"
	"errors"
	"fmt"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// Sweep finds the highest request rate at which the SLO holds: it measures
// the server's capacity with a saturating closed-loop point, then runs
// open-loop points at rates between 0 and that capacity, bisecting toward
// the highest rate whose SLO attainment reaches SLO.MinAttainment (as
// GuideLLM's sweep looks for the knee and DistServe defines goodput).
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
	lo, hi := 0.0, sw.CapacityRequestsPerS
	rate := hi
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
			if rate == hi {
				break // holds at capacity: no higher rate can be sustained
			}
			lo = rate
		} else {
			hi = rate
		}
		rate = (lo + hi) / 2
	}
	return out, sw, nil
}
