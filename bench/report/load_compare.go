package report

import "fmt"

// loadKey identifies a load point across reports: its arrival process,
// concurrency (or cap) and rate, e.g. "load=poisson/rate=4/b=1/cap=0".
func loadKey(p *LoadPoint) string {
	if p.Arrival == ArrivalClosed {
		return fmt.Sprintf("load=closed/conc=%d", p.Concurrency)
	}
	return fmt.Sprintf("load=%s/rate=%g/b=%g/cap=%d", p.Arrival, p.RequestRate, p.Burstiness, p.Concurrency)
}

// compareLoad adds the rows of the load points found in both reports: TTFT,
// TPOT and E2E per request (independent samples: one per request), the
// plan-based TTFT and E2E of open-loop points, and the output token rate
// (one value per point, so never significant on its own). Pooled ITL is
// not compared: its gaps are not independent.
func compareLoad(c *Comparison, a, b *Load, alpha float64) {
	var as, bs []LoadPoint
	if a != nil {
		as = a.Points
	}
	if b != nil {
		bs = b.Points
	}
	pairUp(c, "load", as, bs, loadKey, func(k string, pa, pb *LoadPoint) {
		c.Rows = append(c.Rows,
			compareSummary(k, "ttft_ms", LowerIsBetter, &pa.TTFT, &pb.TTFT, alpha),
			compareSummary(k, "tpot_ms", LowerIsBetter, &pa.TPOT, &pb.TPOT, alpha),
			compareSummary(k, "e2e_ms", LowerIsBetter, &pa.E2E, &pb.E2E, alpha))
		if pa.TTFTFromPlan != nil && pb.TTFTFromPlan != nil {
			c.Rows = append(c.Rows, compareSummary(k, "ttft_from_plan_ms", LowerIsBetter, pa.TTFTFromPlan, pb.TTFTFromPlan, alpha))
		}
		if pa.E2EFromPlan != nil && pb.E2EFromPlan != nil {
			c.Rows = append(c.Rows, compareSummary(k, "e2e_from_plan_ms", LowerIsBetter, pa.E2EFromPlan, pb.E2EFromPlan, alpha))
		}
		sa, sb := single(pa.OutputTokensPerS), single(pb.OutputTokensPerS)
		c.Rows = append(c.Rows, compareSummary(k, "output_tokens_per_s", HigherIsBetter, &sa, &sb, alpha))
	})
}

// single is the Summary of one value.
func single(v float64) Summary {
	return Summary{N: 1, Mean: v, Min: v, Max: v, P50: v, P90: v, P95: v, P99: v, Samples: []float64{v}}
}

// loadWorkload describes r's load workload for the settings check; "" without a load section.
func loadWorkload(r *Report) string {
	if r.Load == nil {
		return ""
	}
	w := r.Load.Workload
	temp := "server's"
	if w.Temperature != nil {
		temp = fmt.Sprint(*w.Temperature)
	}
	return fmt.Sprintf("%s/%s input %d-%d output %d-%d prefix %dx%d ignore_eos=%v temperature=%s %s",
		w.Source, w.PromptFormat, w.InputLenMin, w.InputLenMax, w.OutputLenMin, w.OutputLenMax, w.PrefixLen, w.PrefixGroups, w.IgnoreEOS, temp, w.Dataset)
}
