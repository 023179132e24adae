package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// fmtUnit formats v in unit: bytes in binary units, ms and counts as numbers.
func fmtUnit(v float64, unit string) string {
	switch unit {
	case "bytes":
		return fmtBytes(int64(v))
	case "ms":
		return fmtFloat(v) + " ms"
	}
	return fmtFloat(v)
}

// soakShape names the soak's load: "closed c=4" or "poisson 4 req/s cap 8".
func soakShape(s *Soak) string {
	return loadShape(LoadPoint{Arrival: s.Arrival, Concurrency: s.Concurrency, RequestRate: s.RequestRate, Burstiness: 1})
}

// soakVerdict is the soak's overall result: "PASS" or "FAIL (n verdicts)".
func soakVerdict(s *Soak) string {
	if s.Pass {
		return "PASS"
	}
	return fmt.Sprintf("FAIL (%d)", len(s.Failures))
}

// soakSettings describes the soak in one line per setting.
func soakSettings(s *Soak) []kv {
	w := s.Workload
	work := fmt.Sprintf("%s prompts (%s), input %d-%d tokens, output %d-%d tokens", w.Source, w.PromptFormat,
		w.InputLenMin, w.InputLenMax, w.OutputLenMin, w.OutputLenMax)
	rows := []kv{
		{"Verdict", soakVerdict(s)},
		{"Target", s.Target + ", " + s.URL + orEmptyf(", pid %s", pidString(s.PID))},
		{"Load", soakShape(s) + "; " + work},
		{"Duration", fmt.Sprintf("%s s of %s s asked (warm-up %s s left out of the verdicts)", fmtFloat(s.ElapsedS), fmtFloat(s.DurationS), fmtFloat(s.WarmupS))},
		{"Sampling", fmt.Sprintf("every %s s (%d samples from %s), windows of %s s (%d)", fmtFloat(s.SampleIntervalS), len(s.SampleTimesS),
			orDash(strings.Join(s.Sources, ", ")), fmtFloat(s.WindowS), len(s.Windows))},
		{"Requests", fmt.Sprintf("%d ended, %d failed", s.Requests, s.Failed)},
	}
	if s.RecordsFile != "" {
		rows = append(rows, kv{"Records", s.RecordsFile})
	}
	return rows
}

func pidString(pid int) string {
	if pid == 0 {
		return ""
	}
	return fmt.Sprint(pid)
}

// soakLeakHeader and soakLeakRow: one row per resource judged.
var soakLeakHeader = []string{"resource", "n (eff)", "slope /h", "95% CI /h", "threshold /h", "fitted first -> last", "min growth", "verdict"}

func soakLeakRow(l SoakLeak) []string {
	u := func(v float64) string { return fmtUnit(v, l.Unit) }
	return []string{l.Resource, fmt.Sprintf("%d (%.0f)", l.N, l.NEff), u(l.SlopePerHour),
		"[" + u(l.CILowPerHour) + ", " + u(l.CIHighPerHour) + "]", u(l.ThresholdPerHour),
		u(l.First) + " -> " + u(l.Last), u(l.MinGrowth), strings.ToUpper(l.Verdict)}
}

// soakDriftHeader and soakDriftRow: one row per latency metric.
var soakDriftHeader = []string{"metric", "first n", "last n", "first p50", "last p50", "ratio", "p", "gate", "verdict"}

func soakDriftRow(d SoakDrift) []string {
	return []string{d.Metric, fmt.Sprint(d.FirstN), fmt.Sprint(d.LastN), fmtFloat(d.FirstP50), fmtFloat(d.LastP50),
		fmtFloat(d.Ratio), fmt.Sprintf("%.3g", d.P), fmt.Sprintf("p < %g, ratio > %g, +%g ms", d.Alpha, 1+d.Threshold, d.MinDeltaMs), strings.ToUpper(d.Verdict)}
}

// soakFaultHeader and soakFaultRow: one row per fault.
var soakFaultHeader = []string{"at s", "fault", "sent", "outcomes", "expected", "recovered after s", "result"}

func soakFaultRow(f SoakFault) []string {
	var outs []string
	for _, k := range slices.Sorted(maps.Keys(f.Outcomes)) {
		outs = append(outs, fmt.Sprintf("%s %d", k, f.Outcomes[k]))
	}
	rec := fmtFloat(f.RecoveredS)
	if f.RecoveredS < 0 {
		rec = "not recovered"
	}
	res := "ok"
	if !f.Pass {
		res = "FAIL"
	}
	if f.Detail != "" {
		res += ": " + f.Detail
	}
	return []string{fmtFloat(f.StartS), f.Kind, fmt.Sprint(f.Sent), strings.Join(outs, ", "), f.Expected, rec, res}
}

// soakErrorRow is the error budget in one line.
func soakErrorLine(e SoakErrorBudget) string {
	var cls []string
	for _, k := range slices.Sorted(maps.Keys(e.ByClass)) {
		cls = append(cls, fmt.Sprintf("%s %d", k, e.ByClass[k]))
	}
	s := fmt.Sprintf("%s: %d of %d requests failed outside the faults (%s, budget %s)", strings.ToUpper(e.Verdict), e.Failed, e.Requests,
		fmtPct(e.Used), fmtPct(e.Budget))
	if len(cls) > 0 {
		s += " by class " + strings.Join(cls, ", ")
	}
	if e.FailedDuringFaults > 0 {
		s += fmt.Sprintf("; %d more failed with a clear error inside a fault's window", e.FailedDuringFaults)
	}
	return s
}

// soakWindowHeader and soakWindowRow: the windows, at most maxSoakWindowRows of them evenly picked.
var soakWindowHeader = []string{"window s", "requests", "failed", "req/s", "output tok/s", "TTFT p50 ms", "TTFT p99 ms", "ITL p50 ms", "ITL p99 ms", "E2E p50 ms", "E2E p99 ms"}

// maxSoakWindowRows bounds the window rows of a table (a day has thousands of windows; the JSON has them all).
const maxSoakWindowRows = 12

func soakWindowRow(w SoakWindow) []string {
	p := func(x Percentiles, v float64) string {
		if x.N == 0 {
			return "-"
		}
		return fmtFloat(v)
	}
	return []string{fmtFloat(w.StartS) + "-" + fmtFloat(w.EndS), fmt.Sprint(w.Requests), fmt.Sprint(w.Failed), fmtFloat(w.RequestsPerS), fmtFloat(w.OutputTokensPerS),
		p(w.TTFT, w.TTFT.P50), p(w.TTFT, w.TTFT.P99), p(w.ITL, w.ITL.P50), p(w.ITL, w.ITL.P99), p(w.E2E, w.E2E.P50), p(w.E2E, w.E2E.P99)}
}

// soakWindows picks at most maxSoakWindowRows windows, evenly, first and last included.
func soakWindows(s *Soak) (ws []SoakWindow, note string) {
	n := len(s.Windows)
	if n <= maxSoakWindowRows {
		return s.Windows, ""
	}
	for i := range maxSoakWindowRows {
		ws = append(ws, s.Windows[i*(n-1)/(maxSoakWindowRows-1)])
	}
	return ws, fmt.Sprintf("%d of %d windows, evenly spaced; the JSON report has them all", maxSoakWindowRows, n)
}

// soakNote defines the verdicts under the tables.
const soakNote = "Leak: OLS slope of each resource after the warm-up (samples in fault windows left out), 95% t interval on an " +
	"effective sample size corrected for lag-1 autocorrelation; LEAK when the interval's low end is above the threshold " +
	"and the fitted growth over the samples judged is above the minimum growth. " +
	"Drift: per-request latencies of the first windows against the last, Mann-Whitney U; DRIFT when p < alpha and the median grew past the threshold and by more than the minimum in ms."
