package report

import (
	"fmt"
	"strings"
)

// loadShape names a point's load: "closed c=4", "poisson 2 req/s (b=0.5)",
// "constant 4 req/s cap 8".
func loadShape(p LoadPoint) string {
	if p.Arrival == ArrivalClosed {
		return fmt.Sprintf("closed c=%d", p.Concurrency)
	}
	s := fmt.Sprintf("%s %.4g req/s", p.Arrival, p.RequestRate)
	if p.Arrival == ArrivalPoisson && p.Burstiness != 1 && p.Burstiness != 0 {
		s += fmt.Sprintf(" b=%g", p.Burstiness)
	}
	if p.Concurrency > 0 {
		s += fmt.Sprintf(" cap %d", p.Concurrency)
	}
	return s
}

// loadPointHeader and loadPointRow: one row per load point, send-based latencies.
var loadPointHeader = []string{"load", "requests", "failed", "req/s", "output tok/s", "goodput req/s", "SLO met",
	"TTFT p50 ms", "TTFT p99 ms", "TPOT p50 ms", "TPOT p99 ms", "ITL p50 ms", "ITL p99 ms", "E2E p50 ms", "E2E p99 ms", "client"}

func loadPointRow(p LoadPoint) []string {
	client := "ok"
	if p.Client.ClientBound {
		client = "CLIENT-BOUND"
	}
	return []string{loadShape(p), fmt.Sprint(p.Requests), fmt.Sprint(p.Failed), fmtFloat(p.RequestsPerS), fmtFloat(p.OutputTokensPerS),
		fmtFloat(p.GoodputRequestsPerS), fmtPct(p.SLOAttainment),
		fmtStat(p.TTFT, p.TTFT.P50), fmtStat(p.TTFT, p.TTFT.P99), fmtStat(p.TPOT, p.TPOT.P50), fmtStat(p.TPOT, p.TPOT.P99),
		fmtStat(p.ITL, p.ITL.P50), fmtStat(p.ITL, p.ITL.P99), fmtStat(p.E2E, p.E2E.P50), fmtStat(p.E2E, p.E2E.P99), client}
}

// loadPlanHeader and loadPlanRow: open-loop points, latency from the
// planned send beside latency from the actual send.
var loadPlanHeader = []string{"load", "TTFT p50 send/plan ms", "TTFT p99 send/plan ms", "E2E p50 send/plan ms", "E2E p99 send/plan ms", "send lag p99 ms"}

func loadPlanRow(p LoadPoint) []string {
	pair := func(a Summary, b *Summary, v func(Summary) float64) string {
		if a.N == 0 || b == nil || b.N == 0 {
			return "-"
		}
		return fmtFloat(v(a)) + " / " + fmtFloat(v(*b))
	}
	p50 := func(s Summary) float64 { return s.P50 }
	p99 := func(s Summary) float64 { return s.P99 }
	return []string{loadShape(p), pair(p.TTFT, p.TTFTFromPlan, p50), pair(p.TTFT, p.TTFTFromPlan, p99),
		pair(p.E2E, p.E2EFromPlan, p50), pair(p.E2E, p.E2EFromPlan, p99), fmtStat(p.Client.SendLag, p.Client.SendLag.P99)}
}

// loadServerHeader and loadServerRow: the server's timings beside the client's.
var loadServerHeader = []string{"load", "source", "n", "queue p50 ms", "TTFT p50 server/client ms", "TTFT p99 server/client ms",
	"client-server TTFT p50 ms", "ITL mean p50 server/client ms", "client-server ITL p50 ms"}

func loadServerRow(p LoadPoint) []string {
	v := p.ServerView
	return []string{loadShape(p), v.Source, fmt.Sprint(v.Requests), fmtStat(v.QueueMs, v.QueueMs.P50),
		fmtStat(v.TTFT, v.TTFT.P50) + " / " + fmtStat(p.TTFT, p.TTFT.P50),
		fmtStat(v.TTFT, v.TTFT.P99) + " / " + fmtStat(p.TTFT, p.TTFT.P99),
		fmtStat(v.TTFTDiffMs, v.TTFTDiffMs.P50),
		fmtStat(v.ITL, v.ITL.P50) + " / " + fmtStat(v.ClientITL, v.ClientITL.P50),
		fmtStat(v.ITLDiffMs, v.ITLDiffMs.P50)}
}

// loadErrorHeader and loadErrorRows: failures and mismatches by class.
var loadErrorHeader = []string{"load", "class", "count", "first message"}

func loadErrorRows(l *Load) [][]string {
	var rows [][]string
	for _, p := range l.Points {
		for _, e := range p.Errors {
			rows = append(rows, []string{loadShape(p), e.Class, fmt.Sprint(e.Count), oneLine(e.Example)})
		}
	}
	return rows
}

// loadSettings describes the endpoint, workload and SLO in one line each.
func loadSettings(l *Load) []kv {
	w := l.Workload
	lens := func(a, b int) string {
		if a == b {
			return fmt.Sprint(a)
		}
		return fmt.Sprintf("%d-%d (uniform)", a, b)
	}
	work := fmt.Sprintf("%s prompts (%s), input %s tokens, output %s tokens", w.Source, w.PromptFormat,
		lens(w.InputLenMin, w.InputLenMax), lens(w.OutputLenMin, w.OutputLenMax))
	if w.Dataset != "" {
		work += ", dataset " + w.Dataset
	}
	if w.PrefixLen > 0 {
		work += fmt.Sprintf(", shared prefix %d tokens in %d groups", w.PrefixLen, w.PrefixGroups)
	}
	if w.IgnoreEOS {
		work += ", EOS ignored"
	}
	if w.Temperature != nil {
		work += ", temperature " + fmtFloat(*w.Temperature)
	}
	rows := []kv{{"Server", l.URL + l.Endpoint + orEmptyf(" (%s)", l.Server)}, {"Workload", work}}
	if s := l.SLO; s != nil {
		var parts []string
		for _, o := range []struct {
			name string
			v    float64
		}{{"TTFT", s.TTFTMs}, {"TPOT", s.TPOTMs}, {"E2E", s.E2EMs}} {
			if o.v > 0 {
				parts = append(parts, fmt.Sprintf("%s <= %s ms", o.name, fmtFloat(o.v)))
			}
		}
		rows = append(rows, kv{"SLO", strings.Join(parts, ", ") + fmt.Sprintf("; a point holds at %s of requests", fmtPct(s.MinAttainment))})
	}
	if sw := l.Sweep; sw != nil {
		v := "no rate tried held the SLO"
		if sw.MaxRequestRate > 0 {
			v = fmt.Sprintf("%s req/s (goodput %s req/s)", fmtFloat(sw.MaxRequestRate), fmtFloat(sw.MaxGoodputRequestsPerS))
		}
		rows = append(rows, kv{"Sweep", fmt.Sprintf("capacity %s req/s (closed loop); highest rate holding the SLO: %s", fmtFloat(sw.CapacityRequestsPerS), v)})
	}
	if l.RecordsFile != "" {
		rows = append(rows, kv{"Records", l.RecordsFile})
	}
	return rows
}

func orEmptyf(format, s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(format, s)
}

// loadNotes are the client-bound warnings, one per point.
func loadNotes(l *Load) []string {
	var out []string
	for _, p := range l.Points {
		if p.Client.ClientBound {
			out = append(out, fmt.Sprintf("%s is client-bound: %s; its latencies include the generator's own delay", loadShape(p), p.Client.Reason))
		}
	}
	return out
}

// loadNote defines the load metrics under the tables.
const loadNote = "TTFT, TPOT = (E2E - TTFT)/(N_out - 1) and E2E per request, from its send; ITL pooled over requests. " +
	"Open-loop points also count from each request's planned send (coordinated omission). Warm-up excluded."

// hasBench reports whether r has any bench section (a load or soak report has none).
func hasBench(r *Report) bool {
	return r.Load == nil && r.Soak == nil || len(r.Latency) > 0 || len(r.Memory) > 0 || len(r.Throughput) > 0
}

// plannedPoints returns the open-loop points of l.
func plannedPoints(l *Load) []LoadPoint {
	var out []LoadPoint
	for _, p := range l.Points {
		if p.TTFTFromPlan != nil {
			out = append(out, p)
		}
	}
	return out
}

// serverPoints returns the points with server timings.
func serverPoints(l *Load) []LoadPoint {
	var out []LoadPoint
	for _, p := range l.Points {
		if p.ServerView != nil {
			out = append(out, p)
		}
	}
	return out
}
