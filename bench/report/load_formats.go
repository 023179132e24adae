package report

import (
	"fmt"
	"io"
	"strconv"
)

// loadBenchName is the benchmark name part of a load point:
// "load=closed/conc=4" or "load=poisson/rate=4/b=1/cap=0".
func loadBenchName(p *LoadPoint) string { return loadKey(p) }

// writeLoadBenchstat writes the load points in the Go benchmark format: one
// BenchmarkLoadRequest line per completed request (ns/op is its E2E from
// the send, with its TTFT and, when every request has one, TPOT), and one
// BenchmarkLoadThroughput line per point (ns per output token, tok/s).
func writeLoadBenchstat(w io.Writer, r *Report, model, procs string) {
	if r.Load == nil {
		return
	}
	ns := func(ms float64) string { return strconv.FormatFloat(ms*1e6, 'f', 0, 64) }
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for i := range r.Load.Points {
		p := &r.Load.Points[i]
		name := fmt.Sprintf("model=%s/%s%s", model, loadBenchName(p), procs)
		for k, e2e := range p.E2E.Samples {
			fmt.Fprintf(w, "BenchmarkLoadRequest/%s 1 %s ns/op", name, ns(e2e))
			if len(p.TTFT.Samples) == len(p.E2E.Samples) {
				fmt.Fprintf(w, " %s ttft-ms", num(p.TTFT.Samples[k]))
			}
			if len(p.TPOT.Samples) == len(p.E2E.Samples) {
				fmt.Fprintf(w, " %s tpot-ms", num(p.TPOT.Samples[k]))
			}
			fmt.Fprintln(w)
		}
		if p.OutputTokensPerS > 0 {
			fmt.Fprintf(w, "BenchmarkLoadThroughput/%s 1 %s ns/op %s tok/s\n", name, ns(1e3/p.OutputTokensPerS), num(p.OutputTokensPerS))
		}
	}
}

// loadCSVRows returns the CSV rows of the load points: section "load", the
// arrival in the mode column, the concurrency, and "rate=R" in the phase
// column for open-loop points.
func loadCSVRows(r *Report, sum func(keys []string, metric, unit string, s Summary), one func(keys []string, metric, unit string, v float64)) {
	if r.Load == nil {
		return
	}
	it := strconv.Itoa
	for _, p := range r.Load.Points {
		rate := ""
		if p.Arrival != ArrivalClosed {
			rate = fmt.Sprintf("rate=%g", p.RequestRate)
		}
		k := []string{"load", "", "", p.Arrival, it(p.Concurrency), "", rate, ""}
		one(k, "requests", "count", float64(p.Requests))
		one(k, "failed", "count", float64(p.Failed))
		one(k, "duration", "s", p.DurationS)
		one(k, "requests_per_s", "req/s", p.RequestsPerS)
		one(k, "output_tokens_per_s", "tok/s", p.OutputTokensPerS)
		one(k, "total_tokens_per_s", "tok/s", p.TotalTokensPerS)
		one(k, "goodput_requests_per_s", "req/s", p.GoodputRequestsPerS)
		one(k, "slo_attainment", "fraction", p.SLOAttainment)
		sum(k, "ttft", "ms", p.TTFT)
		sum(k, "tpot", "ms", p.TPOT)
		sum(k, "itl", "ms", p.ITL)
		sum(k, "e2e", "ms", p.E2E)
		if p.TTFTFromPlan != nil {
			sum(k, "ttft_from_plan", "ms", *p.TTFTFromPlan)
		}
		if p.E2EFromPlan != nil {
			sum(k, "e2e_from_plan", "ms", *p.E2EFromPlan)
		}
		if v := p.ServerView; v != nil {
			sum(k, "server_ttft", "ms", v.TTFT)
			sum(k, "server_itl_mean", "ms", v.ITL)
			sum(k, "client_minus_server_ttft", "ms", v.TTFTDiffMs)
		}
		sum(k, "send_lag", "ms", p.Client.SendLag)
	}
}
