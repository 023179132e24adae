package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// benchPkg is the pkg: line of WriteBenchstat output.
const benchPkg = "github.com/gpt2bench/gpt2bench"

// WriteBenchstat writes r in the Go benchmark format, one line per
// independent sample, so benchstat computes its own statistics and the
// plain `benchstat old.txt new.txt` compares two reports:
//
//	goos: linux
//	goarch: amd64
//	pkg: github.com/gpt2bench/gpt2bench
//	cpu: AMD EPYC 7B13 64-Core Processor
//	model: gpt2
//	backend: cpu-avx2
//	dtype: float32
//	# report gpt2_20260128_170152, commit 0123abcd
//	BenchmarkGenerate/model=gpt2/input=128/output=32-8  1  1012345678 ns/op  61.2 ttft-ms  21.6 tpot-ms  21.5 itl-ms  2091 prefill-tok/s  46.3 decode-tok/s
//	BenchmarkDecode/model=gpt2/mode=batched/conc=1/batch=8-8  1  4870000 ns/op  205.3 tok/s
//	BenchmarkRequest/model=gpt2/mode=batched/conc=1/batch=8-8  1  1247000000 ns/op
//
// Generate lines are one per latency run (ns/op is E2E; itl-ms the run's
// median inter-token gap: pooled gaps are not independent samples); Decode
// lines one per throughput repetition (ns/op is ns per output token), or
// one line with the aggregate rate when the phase ran once; Request lines
// one per request, a batched generation being one request; a load report's
// points give LoadRequest lines (one per request) and LoadThroughput lines
// (see writeLoadBenchstat). The header has
// only keys that two runs of the same settings share: benchstat splits
// tables on any configuration key that differs, so the report name and
// commit, which differ per run, are a comment line (which benchstat skips).
func WriteBenchstat(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("report: benchstat: nil report")
	}
	bw := bufio.NewWriter(w)
	cfg := []kv{
		{"goos", r.SystemInfo.OS}, {"goarch", r.SystemInfo.Arch}, {"pkg", benchPkg},
		{"cpu", r.SystemInfo.CPUModel}, {"model", r.ModelName}, {"backend", r.SystemInfo.Backend},
		{"dtype", r.Metadata.DType},
	}
	for _, c := range cfg {
		if v := oneLine(c.V); v != "" {
			fmt.Fprintf(bw, "%s: %s\n", c.K, v)
		}
	}
	if r.ReportName != "" || r.SystemInfo.GitCommit != "" {
		fmt.Fprintf(bw, "# report %s, commit %s\n", orDash(oneLine(r.ReportName)), orDash(oneLine(r.SystemInfo.GitCommit)))
	}
	model := SanitizeName(r.ModelName)
	procs := ""
	if r.SystemInfo.GOMAXPROCS > 1 {
		procs = "-" + strconv.Itoa(r.SystemInfo.GOMAXPROCS)
	}
	ns := func(ms float64) string { return strconv.FormatFloat(ms*1e6, 'f', 0, 64) }
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for i := range r.Latency {
		l := &r.Latency[i]
		name := fmt.Sprintf("model=%s/input=%d/output=%d%s", model, l.InputLen, l.OutputLen, procs)
		per := []struct {
			s    *Summary
			unit string
		}{{&l.TTFT, "ttft-ms"}, {&l.TPOT, "tpot-ms"}, {l.ITLRunMedian, "itl-ms"}, {&l.PrefillTokensPerS, "prefill-tok/s"}, {&l.DecodeTokensPerS, "decode-tok/s"}}
		for i, e2e := range l.E2E.Samples {
			fmt.Fprintf(bw, "BenchmarkGenerate/%s 1 %s ns/op", name, ns(e2e))
			for _, p := range per {
				if p.s != nil && len(p.s.Samples) == len(l.E2E.Samples) {
					fmt.Fprintf(bw, " %s %s", num(p.s.Samples[i]), p.unit)
				}
			}
			fmt.Fprintln(bw)
		}
	}
	for i := range r.Throughput {
		t := &r.Throughput[i]
		rate := ""
		if t.RequestRate > 0 {
			rate = fmt.Sprintf("/rate=%g", t.RequestRate)
		}
		name := fmt.Sprintf("model=%s/mode=%s/conc=%d/batch=%d%s%s", model, t.Mode, t.Concurrency, t.BatchSize, rate, procs)
		rates := []float64{t.OutputTokensPerS}
		if t.OutputTokensPerSRuns != nil && len(t.OutputTokensPerSRuns.Samples) > 0 {
			rates = t.OutputTokensPerSRuns.Samples
		}
		for _, rate := range rates {
			if rate <= 0 {
				continue
			}
			fmt.Fprintf(bw, "BenchmarkDecode/%s 1 %s ns/op %s tok/s\n", name, ns(1e3/rate), num(rate))
		}
		for _, lat := range requestLatency(t).Samples {
			fmt.Fprintf(bw, "BenchmarkRequest/%s 1 %s ns/op\n", name, ns(lat))
		}
		if t.TTFT != nil { // continuous: time to first token per request
			for _, v := range t.TTFT.Samples {
				fmt.Fprintf(bw, "BenchmarkTTFT/%s 1 %s ns/op\n", name, ns(v))
			}
		}
	}
	writeLoadBenchstat(bw, r, model, procs)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write benchstat: %w", err)
	}
	return nil
}

// oneLine replaces line breaks so a value stays on its config line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// csvHeader is the header row of WriteCSV.
var csvHeader = []string{"section", "input_len", "output_len", "mode", "concurrency", "batch_size", "phase", "layer", "metric", "unit", "n", "mean", "std", "min", "p50", "p90", "p95", "p99", "max"}

// WriteCSV writes r as one long CSV table, one row per metric: a Summary
// fills n, mean, std, min, p50, p90, p95, p99 and max; a single value fills
// n=1 and mean only. Keys not relevant to a row are empty. Sections:
// latency, memory, throughput, profile (one row per op: total_ms), quality,
// load (one group of rows per point; see loadCSVRows).
func WriteCSV(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("report: csv: nil report")
	}
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	it := strconv.Itoa
	rows := [][]string{csvHeader}
	sum := func(keys []string, metric, unit string, s Summary) {
		rows = append(rows, append(append([]string{}, keys...), metric, unit, it(s.N),
			f(s.Mean), f(s.Std), f(s.Min), f(s.P50), f(s.P90), f(s.P95), f(s.P99), f(s.Max)))
	}
	one := func(keys []string, metric, unit string, v float64) {
		rows = append(rows, append(append([]string{}, keys...), metric, unit, "1", f(v), "", "", "", "", "", "", ""))
	}
	for _, l := range r.Latency {
		k := []string{"latency", it(l.InputLen), it(l.OutputLen), "", "", "1", "", ""}
		sum(k, "ttft", "ms", l.TTFT)
		sum(k, "tpot", "ms", l.TPOT)
		sum(k, "itl", "ms", l.ITL)
		sum(k, "e2e", "ms", l.E2E)
		sum(k, "prefill_tokens_per_s", "tok/s", l.PrefillTokensPerS)
		sum(k, "decode_tokens_per_s", "tok/s", l.DecodeTokensPerS)
		one(k, "gc_cycles", "count", float64(l.GCCycles))
		one(k, "gc_pause", "ms", l.GCPauseMs)
	}
	for _, m := range r.Memory {
		k := []string{"memory", it(m.InputLen), it(m.OutputLen), "", "", it(m.BatchSize), "", ""}
		one(k, "weights", "bytes", float64(totalWeights(m.WeightsBytes)))
		one(k, "load_peak_rss", "bytes", float64(m.LoadPeakRSSBytes))
		one(k, "load_heap_delta", "bytes", float64(m.LoadHeapDeltaBytes))
		one(k, "inference_peak_rss", "bytes", float64(m.InferencePeakRSSBytes))
		one(k, "heap_in_use", "bytes", float64(m.HeapInUseBytes))
		one(k, "kv_cache_analytic", "bytes", float64(m.KVCacheAnalyticBytes))
		one(k, "kv_cache_allocated", "bytes", float64(m.KVCacheAllocatedBytes))
		one(k, "allocs_per_token", "count", m.AllocsPerToken)
		one(k, "bytes_per_token", "bytes", m.BytesPerToken)
		one(k, "gc_cycles", "count", float64(m.GCCycles))
		one(k, "gc_pause_total", "ms", m.GCPauseTotalMs)
		if g := m.GPU; g != nil {
			one(k, "gpu_peak_used", "bytes", float64(g.PeakUsedBytes))
			one(k, "gpu_allocated", "bytes", float64(g.AllocatedBytes))
		}
	}
	for _, t := range r.Throughput {
		k := []string{"throughput", it(t.InputLen), it(t.OutputLen), t.Mode, it(t.Concurrency), it(t.BatchSize), "", ""}
		one(k, "requests", "count", float64(t.Requests))
		one(k, "failed", "count", float64(t.Failed))
		one(k, "duration", "s", t.DurationS)
		one(k, "requests_per_s", "req/s", t.RequestsPerS)
		one(k, "output_tokens_per_s", "tok/s", t.OutputTokensPerS)
		one(k, "total_tokens_per_s", "tok/s", t.TotalTokensPerS)
		sum(k, "latency", "ms", t.Latency)
		if t.OutputTokensPerSRuns != nil {
			sum(k, "output_tokens_per_s_runs", "tok/s", *t.OutputTokensPerSRuns)
		}
	}
	if p := r.Profile; p != nil {
		for _, o := range p.Ops {
			k := []string{"profile", it(p.InputLen), it(p.OutputLen), "", "", "", o.Phase, it(o.Layer)}
			one(k, o.Op, "ms", o.TotalMs)
		}
	}
	if q := r.Quality; q != nil {
		k := []string{"quality", "", "", "", "", "", "", ""}
		one(k, "max_abs_logit_error", "logit", q.MaxAbsLogitError)
		one(k, "top1_agreement", "fraction", q.Top1Agreement)
		one(k, "mean_kl", "nats", q.MeanKL)
		one(k, "perplexity", "ppl", q.Perplexity)
		one(k, "reference_perplexity", "ppl", q.ReferencePerplexity)
	}
	loadCSVRows(r, sum, one)
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("report: write csv: %w", err)
	}
	return nil
}
