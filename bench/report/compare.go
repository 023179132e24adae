package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// DefaultAlpha is the significance level Compare uses when CompareOptions.Alpha is 0.
const DefaultAlpha = 0.05

// CompareOptions control Compare.
type CompareOptions struct {
	// Alpha is the significance level of the Mann-Whitney U test, in (0, 1); 0 means DefaultAlpha.
	Alpha float64
	// Threshold is the smallest relative change, as a fraction (0.05 = 5%),
	// that Regressions reports; 0 reports every significant regression.
	Threshold float64
	// Force compares reports of different settings (model, dtype, lengths, backend) anyway.
	Force bool
}

// Direction says which way a metric improves.
type Direction int

// Directions.
const (
	LowerIsBetter  Direction = -1 // latencies
	HigherIsBetter Direction = 1  // rates
)

// String returns "lower is better" or "higher is better".
func (d Direction) String() string {
	if d == LowerIsBetter {
		return "lower is better"
	}
	return "higher is better"
}

// MetricDelta compares one metric of one setting between reports A (old) and B (new).
type MetricDelta struct {
	// Group is the setting, e.g. "input=128/output=32" or "mode=batched/batch=8".
	Group string `json:"group"`
	// Metric is the metric name with its unit, e.g. "ttft_ms".
	Metric string `json:"metric"`
	// Better says which way the metric improves.
	Better Direction `json:"better"`
	// A and B are the medians of the raw samples (the stored p50 when a report has no samples).
	A float64 `json:"a"`
	B float64 `json:"b"`
	// MeanA and MeanB are the stored means.
	MeanA float64 `json:"mean_a"`
	MeanB float64 `json:"mean_b"`
	// NA and NB are the sample counts.
	NA int `json:"n_a"`
	NB int `json:"n_b"`
	// DeltaPct is (B - A) / A * 100; NaN when A is 0.
	DeltaPct float64 `json:"delta_pct"`
	// P is the two-sided Mann-Whitney U p-value; NaN when not computable (fewer than one sample a side).
	P float64 `json:"p"`
	// Significant is true when P < alpha, the sample sizes could reach
	// significance and the samples are reports (ComparePooled), not the
	// runs of one process a side (Compare).
	Significant bool `json:"significant"`
	// Regression is true when Significant and B is worse than A in the metric's direction.
	Regression bool `json:"regression"`
	// Note explains a "~" that is not a p-value, e.g. "need >= 4 samples each at alpha 0.05".
	Note string `json:"note,omitempty"`
}

// Verdict is the delta column: "+12.3%" or "~" when not significant.
func (d MetricDelta) Verdict() string {
	if !d.Significant || math.IsNaN(d.DeltaPct) {
		return "~"
	}
	return fmt.Sprintf("%+.2f%%", d.DeltaPct)
}

// Difference is one field that differs between the two reports.
type Difference struct {
	Field string `json:"field"` // e.g. "model_name", "cpu_model"
	A     string `json:"a"`     // the value in report A (old)
	B     string `json:"b"`     // the value in report B (new)
}

// Comparison is the result of Compare.
type Comparison struct {
	// A and B name the reports (old, new).
	A, B string
	// ReportsA and ReportsB count the reports of each side: 0 or 1 for
	// Compare (samples are runs or requests of one process a side), more
	// for ComparePooled (one sample per report).
	ReportsA, ReportsB int
	// Alpha and Threshold are the options used.
	Alpha, Threshold float64
	// Rows holds one entry per (group, metric) present in both reports.
	Rows []MetricDelta
	// SettingDiffs lists the differing settings Force let through.
	SettingDiffs []Difference
	// SystemDiffs lists differing system information (always reported, never refused).
	SystemDiffs []Difference
	// OnlyInA and OnlyInB list groups present in one report only.
	OnlyInA, OnlyInB []string
	// IncompleteA and IncompleteB hold the reason a report is incomplete
	// (interrupted or a phase failed); empty for a complete report. A gate
	// should not pass on an incomplete report unless told to.
	IncompleteA, IncompleteB string
	// Ops compares the reports' per-op profiles (phase, op, summed over
	// layers, then a total per phase); empty when either has none. OpsNote
	// says why profiles present on both sides were not compared.
	Ops     []OpDelta
	OpsNote string
}

// Incomplete reports whether either report is incomplete.
func (c *Comparison) Incomplete() bool { return c.IncompleteA != "" || c.IncompleteB != "" }

// Regressions returns the significant regressions whose relative change is
// beyond Threshold, in row order. A CLI exits non-zero when it is not empty.
func (c *Comparison) Regressions() []MetricDelta {
	var out []MetricDelta
	for _, d := range c.Rows {
		if d.Regression && math.Abs(d.DeltaPct) > 100*c.Threshold {
			out = append(out, d)
		}
	}
	return out
}

// ErrSettingsDiffer is wrapped by *SettingsError.
var ErrSettingsDiffer = errors.New("reports have different settings")

// SettingsError refuses a comparison of reports made with different settings.
type SettingsError struct {
	Diffs []Difference // every differing setting
}

// Error implements error.
func (e *SettingsError) Error() string {
	parts := make([]string, len(e.Diffs))
	for i, d := range e.Diffs {
		parts[i] = fmt.Sprintf("%s %q vs %q", d.Field, d.A, d.B)
	}
	return "reports were made with different settings (" + strings.Join(parts, "; ") +
		"); compare runs of the same model and settings, or force the comparison"
}

// Unwrap makes errors.Is(err, ErrSettingsDiffer) true.
func (e *SettingsError) Unwrap() error { return ErrSettingsDiffer }

// Compare compares report a (old) with b (new): for every latency setting
// (TTFT, TPOT, ITL, E2E, prefill and decode tok/s) and throughput setting
// (request latency, output tok/s) in both, and every load point (TTFT, TPOT,
// E2E per request, from the plan too in open loop; output tok/s), the
// medians, the change and the Mann-Whitney U p-value on the raw samples. A change is significant when
// p < alpha and the sample sizes allow p < alpha at all (benchstat's rule;
// 3 against 3 never can at 0.05). It returns a *SettingsError when model
// name, dtype, input/output lengths or backend differ, unless opts.Force.
//
// One report a side is one process a side, and the runs of one process are
// not independent samples of its build: they share its heap and page
// placement, cores and neighbours. Two processes of the same build differed
// at p < 0.05 in 36-64% of rows on a 2-core machine (scripts/false-positive.sh),
// so Compare reports p on the runs but calls nothing significant; each row
// says so. ComparePooled, with several reports a side, tests one sample per
// report and does call changes significant.
func Compare(a, b *Report, opts CompareOptions) (*Comparison, error) {
	c, err := compareRuns(a, b, opts)
	if err != nil {
		return nil, err
	}
	for i := range c.Rows {
		d := &c.Rows[i]
		if d.Note == "" && !math.IsNaN(d.P) {
			d.Note = OneProcessNote
		}
		d.Significant, d.Regression = false, false
	}
	return c, nil
}

// compareRuns is Compare with the runs of each report tested as if they
// were independent samples of the build; ComparePooled reads each report's
// medians from it.
func compareRuns(a, b *Report, opts CompareOptions) (*Comparison, error) {
	if a == nil || b == nil {
		return nil, errors.New("report: compare: nil report")
	}
	alpha := opts.Alpha
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, fmt.Errorf("report: compare: alpha %v is outside (0, 1); use e.g. 0.05", opts.Alpha)
	}
	if opts.Threshold < 0 || math.IsNaN(opts.Threshold) {
		return nil, fmt.Errorf("report: compare: threshold %v is negative; use a fraction such as 0.05", opts.Threshold)
	}
	c := &Comparison{A: a.ReportName, B: b.ReportName, Alpha: alpha, Threshold: opts.Threshold}
	c.SettingDiffs = settingDiffs(a, b)
	if len(c.SettingDiffs) > 0 && !opts.Force {
		return nil, &SettingsError{Diffs: c.SettingDiffs}
	}
	c.SystemDiffs = systemDiffs(a.SystemInfo, b.SystemInfo)
	c.IncompleteA, c.IncompleteB = incomplete(a), incomplete(b)

	latMetrics := []struct {
		name   string
		better Direction
		get    func(*Latency) *Summary
	}{
		{"ttft_ms", LowerIsBetter, func(l *Latency) *Summary { return &l.TTFT }},
		{"tpot_ms", LowerIsBetter, func(l *Latency) *Summary { return &l.TPOT }},
		{"itl_ms", LowerIsBetter, itlSummary},
		{"e2e_ms", LowerIsBetter, func(l *Latency) *Summary { return &l.E2E }},
		{"prefill_tokens_per_s", HigherIsBetter, func(l *Latency) *Summary { return &l.PrefillTokensPerS }},
		{"decode_tokens_per_s", HigherIsBetter, func(l *Latency) *Summary { return &l.DecodeTokensPerS }},
	}
	latKey := func(l *Latency) string { return fmt.Sprintf("input=%d/output=%d", l.InputLen, l.OutputLen) }
	pairUp(c, "latency", a.Latency, b.Latency, latKey, func(k string, la, lb *Latency) {
		for _, m := range latMetrics {
			c.Rows = append(c.Rows, compareSummary(k, m.name, m.better, m.get(la), m.get(lb), alpha))
		}
	})
	tpKey := func(t *Throughput) string {
		k := fmt.Sprintf("mode=%s/conc=%d/batch=%d/input=%d/output=%d", t.Mode, t.Concurrency, t.BatchSize, t.InputLen, t.OutputLen)
		if t.RequestRate > 0 {
			k += fmt.Sprintf("/rate=%g", t.RequestRate)
		}
		return k
	}
	pairUp(c, "throughput", a.Throughput, b.Throughput, tpKey, func(k string, ta, tb *Throughput) {
		la, lb := requestLatency(ta), requestLatency(tb)
		c.Rows = append(c.Rows, compareSummary(k, "request_latency_ms", LowerIsBetter, &la, &lb, alpha))
		sa, sb := rateSummary(ta), rateSummary(tb)
		c.Rows = append(c.Rows, compareSummary(k, "output_tokens_per_s", HigherIsBetter, &sa, &sb, alpha))
		// Continuous: per-request TTFT and TPOT (independent samples).
		if ta.TTFT != nil && tb.TTFT != nil {
			c.Rows = append(c.Rows, compareSummary(k, "ttft_ms", LowerIsBetter, ta.TTFT, tb.TTFT, alpha))
		}
		if ta.TPOT != nil && tb.TPOT != nil {
			c.Rows = append(c.Rows, compareSummary(k, "tpot_ms", LowerIsBetter, ta.TPOT, tb.TPOT, alpha))
		}
	})
	if a.Load != nil || b.Load != nil {
		compareLoad(c, a.Load, b.Load, alpha)
	}
	c.Ops, c.OpsNote = compareOps(a.Profile, b.Profile)
	return c, nil
}

// pairUp matches the entries of as and bs by key: in the order of as, it
// calls both for each entry whose key is also in bs (the last such entry of
// bs), and it lists the keys found on one side only in c.OnlyInA and
// c.OnlyInB, as "section key".
func pairUp[T any](c *Comparison, section string, as, bs []T, key func(*T) string, both func(k string, a, b *T)) {
	inB := make(map[string]*T, len(bs))
	for i := range bs {
		inB[key(&bs[i])] = &bs[i]
	}
	inA := make(map[string]bool, len(as))
	for i := range as {
		k := key(&as[i])
		inA[k] = true
		b, ok := inB[k]
		if !ok {
			c.OnlyInA = append(c.OnlyInA, section+" "+k)
			continue
		}
		both(k, &as[i], b)
	}
	for i := range bs {
		if k := key(&bs[i]); !inA[k] {
			c.OnlyInB = append(c.OnlyInB, section+" "+k)
		}
	}
}

// incomplete returns why r is incomplete, "" when it is complete.
func incomplete(r *Report) string {
	if !r.Incomplete {
		return ""
	}
	if r.IncompleteReason == "" {
		return "incomplete"
	}
	return r.IncompleteReason
}

// itlSummary returns the ITL samples a test may use: the per-run medians
// (schema 1.1), else the pooled gaps, which compareSummary does not test.
func itlSummary(l *Latency) *Summary {
	if l.ITLRunMedian != nil && l.ITLRunMedian.N > 0 {
		return l.ITLRunMedian
	}
	s := l.ITL
	s.SampleUnit = UnitTokenGap // pooled, whatever the report's version
	return &s
}

// requestLatency returns the request latencies of t as independent
// samples. Reports before schema 1.1 wrote a batched generation's latency
// once per sequence; those copies are folded back into one sample per
// generation.
func requestLatency(t *Throughput) Summary {
	s := t.Latency
	if s.SampleUnit != "" || t.Mode != ModeBatched || t.BatchSize < 2 || len(s.Samples)%t.BatchSize != 0 {
		return s
	}
	one := make([]float64, 0, len(s.Samples)/t.BatchSize)
	for i := 0; i < len(s.Samples); i += t.BatchSize {
		one = append(one, s.Samples[i])
	}
	out := Summarize(one)
	out.SampleUnit = UnitBatch
	return out
}

// rateSummary returns the per-repetition output tok/s of t, or a
// single-sample summary of the aggregate rate when the phase ran once.
func rateSummary(t *Throughput) Summary {
	if t.OutputTokensPerSRuns != nil && t.OutputTokensPerSRuns.N > 0 {
		return *t.OutputTokensPerSRuns
	}
	v := t.OutputTokensPerS
	return Summary{N: 1, Mean: v, Min: v, Max: v, P50: v, P90: v, P95: v, P99: v, Samples: []float64{v}}
}

// compareSummary compares one metric's summaries.
func compareSummary(group, name string, better Direction, a, b *Summary, alpha float64) MetricDelta {
	d := MetricDelta{Group: group, Metric: name, Better: better,
		A: center(a), B: center(b), MeanA: a.Mean, MeanB: b.Mean,
		NA: len(a.Samples), NB: len(b.Samples), P: math.NaN(), DeltaPct: math.NaN()}
	if d.A != 0 {
		d.DeltaPct = (d.B - d.A) / math.Abs(d.A) * 100
	}
	if d.NA == 0 || d.NB == 0 {
		d.Note = "no raw samples"
		return d
	}
	if !a.Independent() || !b.Independent() {
		d.Note = "pooled token gaps are not independent samples: no test (run with a newer gpt2bench for per-run medians)"
		return d
	}
	d.P, _ = MannWhitneyU(a.Samples, b.Samples)
	if minP := minPValue(d.NA, d.NB); minP >= alpha {
		d.Note = fmt.Sprintf("need >= %d samples each to detect a difference at alpha %v (have %d and %d): no result can be significant; raise --runs",
			minSamples(alpha), alpha, d.NA, d.NB)
		return d
	}
	d.Significant = d.P < alpha
	worse := (better == LowerIsBetter && d.B > d.A) || (better == HigherIsBetter && d.B < d.A)
	d.Regression = d.Significant && worse
	return d
}

// MinSamples is the smallest number of samples a side (reports, for
// ComparePooled) that can reach p < alpha: 4 at 0.05.
func MinSamples(alpha float64) int { return minSamples(alpha) }

// minSamples is the smallest n for which n against n samples can reach
// p < alpha (benchstat's "need >= 4 samples to detect a difference at
// alpha level 0.05").
func minSamples(alpha float64) int {
	n := 1
	for minPValue(n, n) >= alpha && n < 1000 {
		n++
	}
	return n
}

// center is the median of the raw samples, or the stored p50 without samples.
func center(s *Summary) float64 {
	if len(s.Samples) == 0 {
		return s.P50
	}
	return Percentile(s.Samples, 50)
}

// settingDiffs lists the settings that must match for a fair comparison.
func settingDiffs(a, b *Report) []Difference {
	var out []Difference
	add := func(field, x, y string) {
		if x != y {
			out = append(out, Difference{field, x, y})
		}
	}
	add("model_name", a.ModelName, b.ModelName)
	add("dtype", a.Metadata.DType, b.Metadata.DType)
	add("backend", a.SystemInfo.Backend, b.SystemInfo.Backend)
	add("input lengths", lengths(a, true), lengths(b, true))
	add("output lengths", lengths(a, false), lengths(b, false))
	add("load workload", loadWorkload(a), loadWorkload(b))
	return out
}

// lengths lists the distinct latency input (or output) lengths of r, sorted.
func lengths(r *Report, input bool) string {
	var ls []int
	for _, l := range r.Latency {
		v := l.OutputLen
		if input {
			v = l.InputLen
		}
		if !slices.Contains(ls, v) {
			ls = append(ls, v)
		}
	}
	slices.Sort(ls)
	s := make([]string, len(ls))
	for i, v := range ls {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// systemDiffs lists the system information fields that differ.
func systemDiffs(a, b SystemInfo) []Difference {
	var out []Difference
	add := func(field, x, y string) {
		if x != y {
			out = append(out, Difference{field, x, y})
		}
	}
	add("os", a.OS, b.OS)
	add("arch", a.Arch, b.Arch)
	add("kernel", a.Kernel, b.Kernel)
	add("go_version", a.GoVersion, b.GoVersion)
	add("cpu_model", a.CPUModel, b.CPUModel)
	add("cores", strconv.Itoa(a.Cores), strconv.Itoa(b.Cores))
	add("gomaxprocs", strconv.Itoa(a.GOMAXPROCS), strconv.Itoa(b.GOMAXPROCS))
	add("memory_bytes", strconv.FormatInt(a.MemoryBytes, 10), strconv.FormatInt(b.MemoryBytes, 10))
	add("cpu_features", strings.Join(a.CPUFeatures, " "), strings.Join(b.CPUFeatures, " "))
	add("cuda.device", a.CUDA.Device, b.CUDA.Device)
	add("cuda.driver", a.CUDA.Driver, b.CUDA.Driver)
	add("cuda.version", a.CUDA.Version, b.CUDA.Version)
	add("tool_version", a.ToolVersion, b.ToolVersion)
	add("git_commit", a.GitCommit, b.GitCommit)
	return out
}

// OneProcessNote is the note of a row Compare could test only on the runs
// of one process a side.
const OneProcessNote = "one report a side: its runs share one process, so p (on the runs) does not say the builds differ (36-64% of rows of one build had p < 0.05 on a 2-core test machine); nothing is called significant: compare directories of 5+ reports a side, run interleaved (README: comparing runs)"

// WriteComparison writes c as a benchstat-like table: setting, metric, old
// and new medians, the change or "~", and the p-value with sample counts.
func WriteComparison(w io.Writer, c *Comparison) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "old: %s\nnew: %s\n", orDash(c.A), orDash(c.B))
	for _, d := range c.SettingDiffs {
		fmt.Fprintf(tw, "warning: settings differ (forced): %s %q vs %q\n", d.Field, d.A, d.B)
	}
	for _, d := range c.SystemDiffs {
		fmt.Fprintf(tw, "system differs: %s %q vs %q\n", d.Field, d.A, d.B)
	}
	if c.IncompleteA != "" {
		fmt.Fprintf(tw, "warning: old report is incomplete: %s\n", c.IncompleteA)
	}
	if c.IncompleteB != "" {
		fmt.Fprintf(tw, "warning: new report is incomplete: %s\n", c.IncompleteB)
	}
	fmt.Fprintf(tw, "\nsetting\tmetric\told\tnew\tdelta\tp (n)\n")
	for _, d := range c.Rows {
		p := "-"
		if !math.IsNaN(d.P) {
			p = fmt.Sprintf("p=%.3f n=%d+%d", d.P, d.NA, d.NB)
		}
		mark := ""
		if d.Regression {
			mark = "  (regression)"
		} else if d.Significant {
			mark = "  (improvement)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\n", d.Group, d.Metric, fmtFloat(d.A), fmtFloat(d.B), d.Verdict(), p, mark)
	}
	for _, g := range c.OnlyInA {
		fmt.Fprintf(tw, "only in old: %s\n", g)
	}
	for _, g := range c.OnlyInB {
		fmt.Fprintf(tw, "only in new: %s\n", g)
	}
	notes := map[string]bool{}
	for _, d := range c.Rows {
		if d.Note != "" && !notes[d.Note] {
			notes[d.Note] = true
			fmt.Fprintf(tw, "note: %s\n", d.Note)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: write comparison: %w", err)
	}
	return writeOps(w, c)
}
