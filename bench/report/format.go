package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// fmtFloat formats v with about 3-4 significant digits, the way the tables
// show every metric: 1234.5 -> "1234", 123.45 -> "123.5", 12.345 -> "12.35", 0.01234 -> "0.0123".
func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v == 0:
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// fmtBytes formats a byte count in binary units: "487.5 MiB".
func fmtBytes(b int64) string {
	const unit = 1024
	neg := b < 0
	a := b
	if neg {
		a = -b
	}
	if a < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := a / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	s := fmt.Sprintf("%.1f %ciB", float64(a)/float64(div), "KMGTP"[exp])
	if neg {
		s = "-" + s
	}
	return s
}

// fmtPct formats a fraction 0..1 as a percentage: 0.1234 -> "12.3%".
func fmtPct(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + "%"
}

// fmtMeanStd formats "mean ± std".
func fmtMeanStd(s Summary) string {
	if s.N == 0 {
		return "-"
	}
	return fmtFloat(s.Mean) + " ± " + fmtFloat(s.Std)
}

// fmtStat formats one statistic, "-" when the summary is empty.
func fmtStat(s Summary, v float64) string {
	if s.N == 0 {
		return "-"
	}
	return fmtFloat(v)
}

// yesNo formats a bool for humans.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// orDash returns s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// kv is one label/value row of a two-column table.
type kv struct{ K, V string }

// systemRows returns the system information as label/value rows.
func systemRows(s SystemInfo) []kv {
	cuda := "not available"
	if s.CUDA.Available {
		cuda = fmt.Sprintf("%s (driver %s, CUDA %s)", orDash(s.CUDA.Device), orDash(s.CUDA.Driver), orDash(s.CUDA.Version))
	}
	return []kv{
		{"OS / arch", s.OS + "/" + s.Arch},
		{"Kernel", orDash(s.Kernel)},
		{"CPU", orDash(s.CPUModel)},
		{"Cores / GOMAXPROCS", fmt.Sprintf("%d / %d", s.Cores, s.GOMAXPROCS)},
		{"Memory", fmtBytes(s.MemoryBytes)},
		{"CPU features", orDash(strings.Join(s.CPUFeatures, " "))},
		{"Backend", orDash(s.Backend)},
		{"CUDA", cuda},
		{"Go", orDash(s.GoVersion)},
		{"gpt2bench", orDash(s.ToolVersion) + " (" + orDash(s.GitCommit) + ")"},
	}
}

// metadataRows returns the run settings as label/value rows.
func metadataRows(m Metadata) []kv {
	return []kv{
		{"Device", orDash(m.Device)},
		{"DType", orDash(m.DType)},
		{"Quick", yesNo(m.Quick)},
		{"Warm-up / runs", fmt.Sprintf("%d / %d", m.Warmup, m.Runs)},
		{"Seed", strconv.FormatInt(m.Seed, 10)},
		{"Random weights", yesNo(m.RandomWeights)},
		{"Command", orDash(strings.Join(m.CommandLine, " "))},
	}
}

// latencyHeader and latencyRow lay out the latency table.
// rowsOf renders one table row per element of xs.
func rowsOf[T any](xs []T, row func(T) []string) [][]string {
	rows := make([][]string, len(xs))
	for i, x := range xs {
		rows[i] = row(x)
	}
	return rows
}

// memoryNote explains the memory columns, under the Markdown and HTML tables.
const memoryNote = "Peak RSS is what the OS backed with pages (VmHWM); heap in use is the Go heap's spans in use, which include memory allocated but not yet touched (a fresh KV cache of the full context is zeroed lazily), so it can exceed peak RSS. Allocations per token count the decode steps of the measured runs."

// latencyNote defines the latency columns, under the Markdown and HTML tables.
const latencyNote = "Batch size 1. TTFT: request start to first token. TPOT: (E2E − TTFT)/(N_out − 1) per run. ITL: gaps between consecutive tokens, pooled over runs. Decode tok/s: mean ± sample std over runs."

var latencyHeader = []string{"input", "output", "runs", "TTFT p50 ms", "TTFT p95 ms", "TPOT p50 ms", "ITL p50 ms", "ITL p99 ms", "E2E p50 ms", "prefill tok/s", "decode tok/s", "GC"}

func latencyRow(l Latency) []string {
	return []string{
		strconv.Itoa(l.InputLen), strconv.Itoa(l.OutputLen), strconv.Itoa(l.Runs),
		fmtStat(l.TTFT, l.TTFT.P50), fmtStat(l.TTFT, l.TTFT.P95),
		fmtStat(l.TPOT, l.TPOT.P50),
		fmtStat(l.ITL, l.ITL.P50), fmtStat(l.ITL, l.ITL.P99),
		fmtStat(l.E2E, l.E2E.P50),
		fmtStat(l.PrefillTokensPerS, l.PrefillTokensPerS.P50),
		fmtMeanStd(l.DecodeTokensPerS),
		fmt.Sprintf("%d (%s ms)", l.GCCycles, fmtFloat(l.GCPauseMs)),
	}
}

var memoryHeader = []string{"input", "output", "batch", "weights", "load peak RSS", "load heap Δ", "infer peak RSS", "heap in use", "KV analytic", "KV allocated", "allocs/tok", "B/tok", "GC"}

func memoryRow(m Memory) []string {
	return []string{
		strconv.Itoa(m.InputLen), strconv.Itoa(m.OutputLen), strconv.Itoa(m.BatchSize),
		weightsString(m.WeightsBytes),
		fmtBytes(m.LoadPeakRSSBytes), fmtBytes(m.LoadHeapDeltaBytes),
		fmtBytes(m.InferencePeakRSSBytes), fmtBytes(m.HeapInUseBytes),
		fmtBytes(m.KVCacheAnalyticBytes), fmtBytes(m.KVCacheAllocatedBytes),
		fmtFloat(m.AllocsPerToken), fmtFloat(m.BytesPerToken),
		fmt.Sprintf("%d (%s ms)", m.GCCycles, fmtFloat(m.GCPauseTotalMs)),
	}
}

// weightsString lists weight bytes by dtype in sorted dtype order.
func weightsString(w map[string]int64) string {
	if len(w) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + fmtBytes(w[k])
	}
	return strings.Join(parts, ", ")
}

// totalWeights sums weight bytes over dtypes.
func totalWeights(w map[string]int64) int64 {
	var t int64
	for _, v := range w {
		t += v
	}
	return t
}

var throughputHeader = []string{"mode", "conc", "batch", "input", "output", "requests", "failed", "duration s", "req/s", "out tok/s", "total tok/s", "lat p50 ms", "lat p95 ms", "ttft p50 ms", "tpot p50 ms", "itl p99 ms"}

// throughputRow is one throughput entry; TTFT, TPOT and ITL are "-" for
// the modes that do not measure them per request (all but continuous). An
// open-loop continuous run shows its rate in the conc column.
func throughputRow(t Throughput) []string {
	conc := strconv.Itoa(t.Concurrency)
	if t.RequestRate > 0 {
		conc = fmtFloat(t.RequestRate) + "/s"
	}
	opt := func(s *Summary, v func(*Summary) float64) string {
		if s == nil || s.N == 0 {
			return "-"
		}
		return fmtStat(*s, v(s))
	}
	return []string{
		t.Mode, conc, strconv.Itoa(t.BatchSize),
		strconv.Itoa(t.InputLen), strconv.Itoa(t.OutputLen),
		strconv.Itoa(t.Requests), strconv.Itoa(t.Failed),
		fmtFloat(t.DurationS), fmtFloat(t.RequestsPerS),
		fmtFloat(t.OutputTokensPerS), fmtFloat(t.TotalTokensPerS),
		fmtStat(t.Latency, t.Latency.P50), fmtStat(t.Latency, t.Latency.P95),
		opt(t.TTFT, func(s *Summary) float64 { return s.P50 }),
		opt(t.TPOT, func(s *Summary) float64 { return s.P50 }),
		opt(t.ITL, func(s *Summary) float64 { return s.P99 }),
	}
}

// opTotal is one op summed over layers within a phase.
type opTotal struct {
	Phase, Op             string
	TotalMs, Share        float64
	Calls, FLOPs, Bytes   int64
	GFLOPPerS, GBPerS     float64
	Bound                 string
	ShareOfPeakWeightedMs float64 // share_of_peak * total_ms, summed; divide by TotalMs
}

// opTotals groups the profile rows by (phase, op), summing over layers, in
// order of phase (prefill first) then descending time. The per-row rates are
// time-weighted (sum FLOPs / sum time); this is aggregation for display, not
// a new measurement.
func opTotals(p *Profile) []opTotal {
	if p == nil {
		return nil
	}
	idx := map[[2]string]int{}
	var out []opTotal
	for _, o := range p.Ops {
		key := [2]string{o.Phase, o.Op}
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, opTotal{Phase: o.Phase, Op: o.Op, Bound: o.Bound})
		}
		t := &out[i]
		t.TotalMs += o.TotalMs
		t.Share += o.Share
		t.Calls += o.Calls
		t.FLOPs += o.FLOPs
		t.Bytes += o.Bytes
		t.ShareOfPeakWeightedMs += o.ShareOfPeak * o.TotalMs
		if o.Bound != t.Bound {
			t.Bound = "mixed"
		}
	}
	for i := range out {
		t := &out[i]
		if t.TotalMs > 0 {
			t.GFLOPPerS = float64(t.FLOPs) / (t.TotalMs * 1e6)
			t.GBPerS = float64(t.Bytes) / (t.TotalMs * 1e6)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Phase != out[j].Phase {
			return phaseOrder(out[i].Phase) < phaseOrder(out[j].Phase)
		}
		return out[i].TotalMs > out[j].TotalMs
	})
	return out
}

func phaseOrder(p string) int {
	switch p {
	case PhasePrefill:
		return 0
	case PhaseDecode:
		return 1
	}
	return 2
}

var opTotalHeader = []string{"phase", "op", "total ms", "share", "calls", "GFLOP/s", "GB/s", "bound", "of peak"}

func opTotalRow(t opTotal) []string {
	sop := 0.0
	if t.TotalMs > 0 {
		sop = t.ShareOfPeakWeightedMs / t.TotalMs
	}
	return []string{
		t.Phase, t.Op, fmtFloat(t.TotalMs), fmtPct(t.Share), strconv.FormatInt(t.Calls, 10),
		fmtFloat(t.GFLOPPerS), fmtFloat(t.GBPerS), t.Bound, fmtPct(sop),
	}
}

var targetHeader = []string{"target", "metric", "value", "limit", "result"}

func targetRow(t Target) []string {
	res := "FAIL"
	if t.Pass {
		res = "pass"
	}
	return []string{t.Name, t.Metric, fmtFloat(t.Value) + " " + t.Unit, t.Op + " " + fmtFloat(t.Threshold) + " " + t.Unit, res}
}

// qualityRows returns the quality section as label/value rows.
func qualityRows(q *Quality) []kv {
	return []kv{
		{"DType vs reference", q.DType + " vs " + q.Reference},
		{"Positions compared", strconv.Itoa(q.Tokens)},
		{"Max |logit error|", fmtFloat(q.MaxAbsLogitError)},
		{"Top-1 agreement", fmtPct(q.Top1Agreement)},
		{"Mean KL (nats)", fmtFloat(q.MeanKL)},
		{"Perplexity (reference)", fmtFloat(q.Perplexity) + " (" + fmtFloat(q.ReferencePerplexity) + ")"},
	}
}

// machineRows returns the roofline limits as label/value rows.
func machineRows(p *Profile) []kv {
	m := p.Machine
	return []kv{
		{"Memory bandwidth, 1 core / all", fmtFloat(m.MemBandwidthGBPerS1Core) + " / " + fmtFloat(m.MemBandwidthGBPerSAll) + " GB/s"},
		{"Peak float32, 1 core / all", fmtFloat(m.PeakGFLOPPerS1Core) + " / " + fmtFloat(m.PeakGFLOPPerSAll) + " GFLOP/s"},
		{"Limits", orDash(m.Method)},
		{"Traced run", fmt.Sprintf("input %d, output %d, %d threads", p.InputLen, p.OutputLen, p.Threads)},
		{"Total / overhead", fmtFloat(p.TotalMs) + " ms / " + fmtFloat(p.OverheadMs) + " ms"},
	}
}

// phaseLine says where a phase sits on the roofline, e.g. "decode: 74.7% of
// memory bandwidth (28.40 GB/s), 1.9% of FMA peak: memory-bound; per-op
// times cover 99.8% of the step time; GC 1 cycle (0.21 ms pause), scheduler
// latency p99 0.33 ms".
func phaseLine(ph PhaseProfile) string {
	bound := ""
	if ph.Bound != "" {
		bound = ": " + ph.Bound + "-bound"
	}
	return fmt.Sprintf("%s: %s of memory bandwidth (%s GB/s), %s of FMA peak (%s GFLOP/s)%s; per-op times cover %s of the step time; GC %d cycles (%s ms pause), scheduler latency p99 %s ms",
		ph.Phase, fmtPct(ph.BandwidthShare), fmtFloat(ph.GBPerS), fmtPct(ph.PeakShare), fmtFloat(ph.GFLOPPerS), bound,
		fmtPct(ph.Coverage), ph.GCCycles, fmtFloat(ph.GCPauseMs), fmtFloat(ph.SchedLatencyP99Ms))
}

// tailHeader and tailRow render the slowest inter-token gaps beside the GC
// pauses inside them.
var tailHeader = []string{"token", "ITL ms", "over median ms", "GC pauses", "GC pause ms", "the collector?"}

func tailRow(t TailToken) []string {
	verdict := "no"
	if t.GCPauses > 0 {
		verdict = fmt.Sprintf("yes: %s of %s ms", fmtFloat(t.GCPauseMs), fmtFloat(t.ExcessMs))
	}
	return []string{fmt.Sprint(t.Token), fmtFloat(t.ITLMs), fmtFloat(t.ExcessMs), fmt.Sprint(t.GCPauses), fmtFloat(t.GCPauseMs), verdict}
}
