package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gpt2bench/gpt2bench/bench"
	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
	"github.com/gpt2bench/gpt2bench/loadgen"
	"github.com/gpt2bench/gpt2bench/tokenizer"
)

// loadFlags are the flags of `gpt2bench load`.
type loadFlags struct {
	url, apiKey, model string
	chat               bool
	inputLen           []int
	outputLen          int
	inputRange         string
	outputRange        string
	concurrency        []int
	rate               float64
	rates              []float64
	arrival            string
	burstiness         float64
	numRequests        int
	duration           time.Duration
	warmup             int
	slo                string
	sweep              int
	dataset            string
	prefixLen          int
	prefixGroups       int
	promptFormat       string
	vocab              int
	ignoreEOS          bool
	temperature        float32
	timeout            time.Duration
	lagThreshold       time.Duration
	seed               uint64
	out                string
	format             string
	quiet              bool
	targets            string
}

// Defaults of `gpt2bench load`.
const (
	defaultLoadRequests = 200
	defaultLoadWarmup   = 4
	defaultSweepSteps   = 6
	defaultSweepConc    = 64
	gpt2Vocab           = 50257
)

func newLoadCmd(a *app) *cobra.Command {
	var lf loadFlags
	def := bench.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "load --url URL [flags]",
		Short: "Benchmark any OpenAI-compatible server under load (rates, concurrency, sweeps, goodput)",
		Long: `load measures an OpenAI-compatible server (gpt2bench serve, vLLM, llama.cpp's
llama-server, TGI, ...) from the client: streaming /v1/completions (or
/v1/chat/completions with --chat), every SSE event timed on the monotonic clock.

Load shapes, one report point each:
  --concurrency 1,4,16        closed loop: that many requests always in flight
  --request-rates 2,4,8       open loop (--request-rate R: one rate): Poisson
                              arrivals (gamma gaps with
                              --burstiness, 1 = Poisson, < 1 burstier), or
                              --arrival constant; --concurrency N caps it
  --sweep[=N]                 the server's capacity (closed loop at the
                              largest --concurrency, default 64), then N
                              open-loop rates bisecting toward the highest one
                              whose --slo attainment holds
Open-loop latencies count from each request's planned send time as well as
from its actual send (coordinated omission): both are in the report.

Metrics as in bench: TTFT, TPOT = (E2E - TTFT)/(N_out - 1) with N_out the
server's usage.completion_tokens, ITL (gaps between events, pooled), E2E,
p50/p90/p95/p99, requests/s, output and total tokens/s, goodput (requests
meeting --slo per second). Warm-up requests are never counted. Failures by
class: http_<status>, timeout, connection, broken_stream, bad_response; and
completed requests of the wrong length (wrong_length, wrong_prompt).

Prompts are random token ids of exactly --input-len tokens, sent as ids
(--prompt-format text sends GPT-2 text of that many tokens); --output-len
is max_tokens, with ignore_eos and min_tokens (--ignore-eos=false drops
them), and every request asks for --temperature 0 (greedy, as bench
generates and as vLLM's bench serve asks). --input-len-range and
--output-len-range 64:256 draw uniform lengths. --dataset FILE.jsonl sends
{"prompt": "...", "output_len": N} lines instead. --prefix-len P with
--prefix-groups G shares the first P tokens within G groups of requests.

The report (load section, schema 1.1 and later) goes to --out as bench's does, with the
per-request records beside it ({report}.requests.jsonl). When the server
reports its own timings (gpt2bench serve's server_timing, a Server-Timing
header, llama.cpp's timings), server and client TTFT and ITL are shown side
by side. A point is marked client-bound when requests left later than
--lag-threshold (p99) behind their plan or the generator used over 90% of
its CPU. --url and --api-key default to OPENAI_BASE_URL and OPENAI_API_KEY;
--model to the only model the server lists.`,
		Example: `  gpt2bench load --url http://127.0.0.1:8000/v1 --concurrency 1,4,16 --num-requests 100
  gpt2bench load --url http://127.0.0.1:8000/v1 --request-rates 2,4,8 --burstiness 0.5 --duration 60s
  gpt2bench load --url http://127.0.0.1:8000/v1 --sweep=8 --slo ttft=500ms,tpot=50ms,e2e=10s
  OPENAI_BASE_URL=http://127.0.0.1:8080/v1 gpt2bench load --dataset prompts.jsonl --concurrency 8
  gpt2bench report data/benchmarks/gpt2_20261207_120000.json --html load.html`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("load takes no arguments, got %q; a sweep's point count goes as --sweep=N", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoad(cmd.Context(), a, &lf, cmd.Flags())
		},
	}
	f := cmd.Flags()
	f.StringVar(&lf.url, "url", "", "server base URL, e.g. http://127.0.0.1:8000/v1 (default $OPENAI_BASE_URL)")
	f.StringVar(&lf.apiKey, "api-key", "", "API key sent as a bearer token (default $OPENAI_API_KEY)")
	f.StringVar(&lf.model, "model", "", "model name sent with each request (default: the only one the server lists; while it answers 503, loading, asked again for up to 2 minutes)")
	f.BoolVar(&lf.chat, "chat", false, "use /chat/completions (text prompts) instead of /completions")
	f.IntSliceVar(&lf.inputLen, "input-len", []int{128}, "prompt length in tokens (one value)")
	f.IntVar(&lf.outputLen, "output-len", def.OutputLen, "tokens generated per request (max_tokens, EOS ignored)")
	f.StringVar(&lf.inputRange, "input-len-range", "", "prompt lengths drawn uniformly from `MIN:MAX` tokens, instead of --input-len")
	f.StringVar(&lf.outputRange, "output-len-range", "", "output lengths drawn uniformly from `MIN:MAX` tokens, instead of --output-len")
	f.IntSliceVar(&lf.concurrency, "concurrency", nil, "closed-loop requests in flight, one point each (default 1); with --request-rate, the cap on requests in flight")
	f.Float64Var(&lf.rate, "request-rate", 0, "open-loop request rate in requests/s (Poisson arrivals, as bench's); 0 = closed loop")
	f.Float64SliceVar(&lf.rates, "request-rates", nil, "several open-loop request rates, one point each (e.g. 2,4,8)")
	f.StringVar(&lf.arrival, "arrival", report.ArrivalPoisson, "open-loop arrivals: poisson (gamma gaps, see --burstiness) or constant")
	f.Float64Var(&lf.burstiness, "burstiness", 1, "gamma shape of Poisson gaps: 1 Poisson, < 1 burstier, > 1 steadier (as vLLM)")
	f.IntVar(&lf.numRequests, "num-requests", defaultLoadRequests, "measured requests per point (0: bounded by --duration only)")
	f.DurationVar(&lf.duration, "duration", 0, "time each point sends measured requests (0: bounded by --num-requests only)")
	f.IntVar(&lf.warmup, "warmup", defaultLoadWarmup, "unmeasured warm-up requests before each point")
	f.StringVar(&lf.slo, "slo", "", "service-level objective for goodput, e.g. ttft=500ms,tpot=50ms,e2e=10s,attainment=0.9")
	f.IntVar(&lf.sweep, "sweep", 0, fmt.Sprintf("find the highest rate holding --slo: capacity, then `N` rate points (--sweep alone: %d)", defaultSweepSteps))
	f.Lookup("sweep").NoOptDefVal = strconv.Itoa(defaultSweepSteps)
	f.StringVar(&lf.dataset, "dataset", "", "JSONL `FILE` of requests: {\"prompt\": \"...\", \"output_len\": 32} per line")
	f.IntVar(&lf.prefixLen, "prefix-len", 0, "tokens shared by the prompts of a prefix group (prefix caching)")
	f.IntVar(&lf.prefixGroups, "prefix-groups", 1, "number of distinct shared prefixes, requests round-robin")
	f.StringVar(&lf.promptFormat, "prompt-format", "ids", "random prompts sent as token ids (ids) or GPT-2 text (text)")
	f.IntVar(&lf.vocab, "vocab-size", gpt2Vocab, "random token ids are drawn below this")
	f.BoolVar(&lf.ignoreEOS, "ignore-eos", true, "ask for exactly --output-len tokens (ignore_eos, min_tokens)")
	f.Float32Var(&lf.temperature, "temperature", 0, "sampling temperature sent with each request: 0 greedy (as bench and vLLM's bench serve); negative sends none, leaving the server's default")
	f.DurationVar(&lf.timeout, "timeout", loadgen.DefaultTimeout, "per-request limit from send to last byte")
	f.DurationVar(&lf.lagThreshold, "lag-threshold", loadgen.DefaultLagThreshold, "send lag p99 beyond which a point is marked client-bound")
	f.Uint64Var(&lf.seed, "seed", uint64(def.Seed), "seed of the prompts, lengths and arrivals")
	f.StringVarP(&lf.out, "out", "o", defaultOut, "`directory` the report is written to (created if missing)")
	f.StringVar(&lf.format, "format", "table", "summary on stdout: table, json or markdown")
	f.BoolVarP(&lf.quiet, "quiet", "q", false, "no progress or messages on stderr")
	f.StringVar(&lf.targets, "targets", "", "performance targets `FILE` (YAML or JSON, load.* metrics) to check; a failure exits 1")
	return cmd
}

// loadPlan is the validated form of the flags.
type loadPlan struct {
	opts   loadgen.ClientOptions
	work   loadgen.Workload
	slo    *report.LoadSLO
	points []loadgen.Point
	sweep  *loadgen.Sweep
}

// plan validates every flag (usage errors) and builds the points to run.
func (lf *loadFlags) plan(a *app, fs *pflag.FlagSet) (*loadPlan, error) {
	changed := func(name string) bool { return fs != nil && fs.Changed(name) }
	if lf.url == "" {
		lf.url = a.getenv("OPENAI_BASE_URL")
	}
	if lf.url == "" {
		return nil, usagef("--url: no server; pass --url http://HOST:PORT/v1 or set OPENAI_BASE_URL")
	}
	if !changed("api-key") {
		lf.apiKey = a.getenv("OPENAI_API_KEY")
	}
	p := &loadPlan{opts: loadgen.ClientOptions{BaseURL: lf.url, APIKey: lf.apiKey, Model: lf.model, Chat: lf.chat,
		IgnoreEOS: lf.ignoreEOS, Timeout: lf.timeout}}
	// the float32 flag's shortest decimal (0.7, not 0.699999988)
	t, _ := strconv.ParseFloat(strconv.FormatFloat(float64(lf.temperature), 'g', -1, 32), 64)
	switch {
	case math.IsNaN(t) || math.IsInf(t, 0) || t > 100:
		return nil, usagef("--temperature %v: want 0 (greedy) to 100, or negative to send none", t)
	case t >= 0:
		p.opts.Temperature = &t
	}
	if _, err := loadgen.NewClient(p.opts); err != nil {
		return nil, usagef("--url: %v", err)
	}
	if lf.timeout <= 0 {
		return nil, usagef("--timeout %v: want a positive duration such as 10m", lf.timeout)
	}
	if lf.lagThreshold <= 0 {
		return nil, usagef("--lag-threshold %v: want a positive duration such as 5ms", lf.lagThreshold)
	}

	// workload
	switch lf.promptFormat {
	case "ids", "text":
	default:
		return nil, usagef("--prompt-format %q: want ids or text", lf.promptFormat)
	}
	if lf.dataset != "" {
		for _, name := range []string{"input-len", "output-len", "input-len-range", "output-len-range", "prefix-len", "prefix-groups", "prompt-format", "vocab-size"} {
			if changed(name) {
				return nil, usagef("--%s: the dataset sets the prompts and lengths; drop --%s or --dataset", name, name)
			}
		}
		d, err := loadgen.ReadDataset(lf.dataset)
		if err != nil {
			return nil, usagef("--dataset: %v", err)
		}
		if lf.chat {
			for i, r := range d.Requests {
				if r.PromptIDs != nil {
					return nil, usagef("--dataset: request %d has prompt_ids, which chat completions cannot take; drop --chat", i+1)
				}
			}
		}
		p.work = d
	} else {
		if len(lf.inputLen) != 1 {
			return nil, usagef("--input-len: give one length (a load run has one workload), or --input-len-range MIN:MAX")
		}
		in, out := loadgen.Fixed(lf.inputLen[0]), loadgen.Fixed(lf.outputLen)
		for _, r := range []struct {
			name, s string
			into    *loadgen.Lengths
			fixed   string
		}{{"input-len-range", lf.inputRange, &in, "input-len"}, {"output-len-range", lf.outputRange, &out, "output-len"}} {
			if r.s == "" {
				continue
			}
			if changed(r.fixed) {
				return nil, usagef("--%s and --%s both set the length; give one", r.fixed, r.name)
			}
			l, err := loadgen.ParseLengths(r.s)
			if err != nil {
				return nil, usagef("--%s: %v", r.name, err)
			}
			*r.into = l
		}
		groups := lf.prefixGroups
		if lf.prefixLen == 0 {
			groups = 0
		}
		rw := &loadgen.RandomWorkload{Input: in, Output: out, PrefixLen: lf.prefixLen, PrefixGroups: groups, Vocab: lf.vocab, Seed: int64(lf.seed)}
		if err := rw.Check(); err != nil {
			return nil, usagef("--input-len/--output-len/--prefix-len/--vocab-size: %v", err)
		}
		p.work = rw
		if lf.promptFormat == "text" || lf.chat {
			if lf.vocab > gpt2Vocab {
				return nil, usagef("--prompt-format text: --vocab-size %d is beyond GPT-2's %d ids", lf.vocab, gpt2Vocab)
			}
			tok, err := tokenizer.New()
			if err != nil {
				return nil, fmt.Errorf("tokenizer: %w", err)
			}
			p.work = &loadgen.TextWorkload{Workload: rw, Codec: tok}
		}
	}

	// SLO
	if lf.slo != "" {
		slo, err := parseSLO(lf.slo)
		if err != nil {
			return nil, usagef("--slo: %v", err)
		}
		p.slo = slo
	}

	// load shape
	if lf.numRequests < 0 || lf.numRequests > loadgen.MaxRequests {
		return nil, usagef("--num-requests %d: want 0 to %d", lf.numRequests, loadgen.MaxRequests)
	}
	if lf.duration < 0 {
		return nil, usagef("--duration %v is negative", lf.duration)
	}
	n := lf.numRequests
	if changed("duration") && !changed("num-requests") {
		n = 0 // --duration alone bounds the points
	}
	if n == 0 && lf.duration == 0 {
		return nil, usagef("--num-requests 0 needs --duration; give one bound or both")
	}
	if lf.warmup < 0 {
		return nil, usagef("--warmup %d is negative", lf.warmup)
	}
	switch lf.arrival {
	case report.ArrivalPoisson, report.ArrivalConstant:
	default:
		return nil, usagef("--arrival %q: want poisson or constant", lf.arrival)
	}
	if !(lf.burstiness > 0) || math.IsInf(lf.burstiness, 0) {
		return nil, usagef("--burstiness %v: want a positive number (1 = Poisson)", lf.burstiness)
	}
	if changed("burstiness") && lf.arrival != report.ArrivalPoisson {
		return nil, usagef("--burstiness applies to --arrival poisson only")
	}
	for _, c := range lf.concurrency {
		if c < 1 || c > loadgen.MaxInFlight {
			return nil, usagef("--concurrency %d: want 1 to %d", c, loadgen.MaxInFlight)
		}
	}
	if changed("request-rate") {
		if changed("request-rates") {
			return nil, usagef("--request-rate and --request-rates both set the rates; give one")
		}
		if lf.rate < 0 || math.IsNaN(lf.rate) || math.IsInf(lf.rate, 0) {
			return nil, usagef("--request-rate %v: want a positive number of requests/s (0 = closed loop)", lf.rate)
		}
		if lf.rate > 0 {
			lf.rates = []float64{lf.rate}
		}
	}
	for _, r := range lf.rates {
		if !(r > 0) || math.IsInf(r, 0) {
			return nil, usagef("--request-rates %v: want positive numbers of requests/s", r)
		}
	}
	burst := 0.0
	if lf.arrival == report.ArrivalPoisson {
		burst = lf.burstiness
	}
	probe := loadgen.Point{Arrival: lf.arrival, Burstiness: burst, Requests: n, Duration: lf.duration, Warmup: lf.warmup}
	switch {
	case changed("sweep") || lf.sweep > 0:
		if lf.sweep < 1 || lf.sweep > 100 {
			return nil, usagef("--sweep %d: want 1 to 100 rate points", lf.sweep)
		}
		if len(lf.rates) > 0 {
			return nil, usagef("--sweep picks the rates; drop --request-rate(s)")
		}
		if p.slo == nil {
			return nil, usagef("--sweep needs --slo, e.g. --slo ttft=500ms,tpot=50ms")
		}
		conc := defaultSweepConc
		if len(lf.concurrency) > 0 {
			conc = slices.Max(lf.concurrency)
		}
		p.sweep = &loadgen.Sweep{Steps: lf.sweep, Probe: probe,
			Capacity: loadgen.Point{Arrival: report.ArrivalClosed, Concurrency: conc, Requests: n, Duration: lf.duration, Warmup: lf.warmup}}
	case len(lf.rates) > 0:
		if len(lf.concurrency) > 1 {
			return nil, usagef("--concurrency with --request-rate is the cap on requests in flight; give one value")
		}
		if len(lf.concurrency) == 1 {
			probe.Concurrency = lf.concurrency[0]
		}
		for _, r := range lf.rates {
			pt := probe
			pt.Rate = r
			p.points = append(p.points, pt)
		}
	default:
		if changed("arrival") || changed("burstiness") {
			return nil, usagef("--arrival and --burstiness shape open-loop points; add --request-rate or --sweep")
		}
		cs := lf.concurrency
		if len(cs) == 0 {
			cs = []int{1}
		}
		for _, c := range cs {
			p.points = append(p.points, loadgen.Point{Arrival: report.ArrivalClosed, Concurrency: c, Requests: n, Duration: lf.duration, Warmup: lf.warmup})
		}
	}
	for _, pt := range p.points {
		if err := pt.Check(); err != nil {
			return nil, usagef("%v", err)
		}
	}
	maxConns := 1
	for _, pt := range p.points {
		maxConns = max(maxConns, pt.Concurrency)
	}
	if p.sweep != nil {
		maxConns = max(maxConns, p.sweep.Capacity.Concurrency)
	}
	p.opts.MaxConns = min(maxConns, 1024)
	return p, nil
}

// parseSLO parses "ttft=500ms,tpot=50ms,e2e=10s,attainment=0.9".
func parseSLO(s string) (*report.LoadSLO, error) {
	slo := &report.LoadSLO{MinAttainment: 0.9}
	seen := false
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want key=value, e.g. ttft=500ms", part)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if k == "attainment" {
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
			if err == nil && strings.HasSuffix(v, "%") {
				f /= 100
			}
			if err != nil || !(f > 0 && f <= 1) {
				return nil, fmt.Errorf("attainment %q: want a fraction in (0, 1], e.g. 0.9 or 90%%", v)
			}
			slo.MinAttainment = f
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s=%s: want a positive duration such as 500ms", k, v)
		}
		ms := float64(d) / 1e6
		switch k {
		case "ttft":
			slo.TTFTMs = ms
		case "tpot":
			slo.TPOTMs = ms
		case "e2e":
			slo.E2EMs = ms
		default:
			return nil, fmt.Errorf("unknown objective %q: want ttft, tpot, e2e or attainment", k)
		}
		seen = true
	}
	if !seen {
		return nil, errors.New("no objective; give at least one of ttft, tpot, e2e")
	}
	return slo, nil
}

// runLoad validates the flags, finds the model, runs the points, writes
// the report and the records, checks targets and prints the summary.
func runLoad(ctx context.Context, a *app, lf *loadFlags, fs *pflag.FlagSet) error {
	format, err := summaryFormat(lf.format)
	if err != nil {
		return err
	}
	plan, err := lf.plan(a, fs)
	if err != nil {
		return err
	}
	var targets []bench.Target
	if lf.targets != "" {
		if targets, err = bench.LoadTargets(lf.targets); err != nil {
			return usagef("--targets: %v", err)
		}
		for i, t := range targets {
			if t.Phase() != bench.PhaseLoad {
				return usagef("--targets: target %d (%s) is a bench metric; load reports have load.* metrics (e.g. load.ttft_ms.p99)", i+1, t.Metric)
			}
		}
	}
	if err := checkOutDir(lf.out); err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		if !lf.quiet {
			fmt.Fprintf(a.stderr, format, args...)
		}
	}
	client, err := loadgen.NewClient(plan.opts)
	if err != nil {
		return usagef("--url: %v", err)
	}
	defer client.Close()
	ids, server, err := listModels(ctx, client, logf)
	if lf.model, err = chooseModel(lf.model, ids, err, logf); err != nil {
		return err
	}
	client.SetModel(lf.model)
	logf("load: %s%s, model %s%s\n", client.BaseURL(), client.Endpoint(), lf.model, orEmpty(", server "+server, server != ""))

	start := time.Now().UTC()
	o := loadgen.Options{Client: client, Workload: plan.work, SLO: plan.slo, Seed: int64(lf.seed), LagThreshold: lf.lagThreshold}
	var (
		results []loadgen.PointResult
		sweep   *report.LoadSweep
		runErr  error
	)
	total := len(plan.points)
	if plan.sweep != nil {
		total = 1 + plan.sweep.Steps
	}
	var prog *loadProgress
	if a.stderrTTY && !lf.quiet {
		prog = &loadProgress{w: a.stderr, total: total}
		o.Progress = &prog.counts
	}
	describe := func(pt loadgen.Point) string {
		if pt.Arrival == report.ArrivalClosed {
			return fmt.Sprintf("concurrency %d", pt.Concurrency)
		}
		s := fmt.Sprintf("%s %.3g req/s", pt.Arrival, pt.Rate)
		if pt.Concurrency > 0 {
			s += fmt.Sprintf(" (cap %d)", pt.Concurrency)
		}
		return s
	}
	if plan.sweep != nil {
		prog.start(0, "sweep: capacity, "+describe(plan.sweep.Capacity), plan.sweep.Capacity.Requests)
		var sw report.LoadSweep
		done := 0
		results, sw, runErr = loadgen.RunSweep(ctx, o, *plan.sweep, 0, func(r loadgen.PointResult) {
			prog.stop()
			logf("%s\n", pointLine(r.Point))
			if done++; done < total {
				prog.start(done, "sweep: rate point", plan.sweep.Probe.Requests)
			}
		})
		sweep = &sw
	} else {
		for i, pt := range plan.points {
			prog.start(i, describe(pt), pt.Requests)
			res, err := loadgen.RunPoint(ctx, o, pt, i)
			prog.stop()
			results = append(results, res)
			logf("%s\n", pointLine(res.Point))
			if err != nil {
				runErr = err
				break
			}
		}
	}

	version, commit := buildVersion()
	sys := bench.SystemInfo("http", version)
	sys.Backend = "http"
	if commit != "unknown" {
		sys.GitCommit = commit
	}
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		ModelName:     lf.model,
		Timestamp:     start.Truncate(time.Second),
		SystemInfo:    sys,
		Metadata: report.Metadata{Device: "http", Warmup: lf.warmup, Runs: 1, Seed: int64(lf.seed),
			CommandLine: redactArgs(a.args)},
		Load: loadgen.Section(client, plan.work, plan.slo, lf.ignoreEOS, int64(lf.seed), server, results, sweep),
	}
	if runErr != nil {
		r.Incomplete = true
		r.IncompleteReason = runErr.Error()
		if ctx.Err() != nil {
			r.IncompleteReason = fmt.Sprintf("interrupted during point %d of %d", len(results), total)
		}
	}
	if len(targets) > 0 {
		r.Targets = bench.EvaluateTargets(r, targets)
	}
	var recs bytes.Buffer
	for _, res := range results {
		if err := loadgen.WriteRecords(&recs, res.Records); err != nil {
			return fmt.Errorf("records: %w", err)
		}
	}
	if err := os.MkdirAll(lf.out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", lf.out, err)
	}
	r.Load.RecordsFile = report.FileBase(r) + ".requests.jsonl"
	path, err := report.WriteNew(lf.out, r)
	if err != nil {
		// keep the measurement: the records at least
		if rerr := atomicfile.Create(filepath.Join(lf.out, r.Load.RecordsFile), recs.Bytes()); rerr == nil {
			err = fmt.Errorf("%w (the per-request records are in %s)", err, filepath.Join(lf.out, r.Load.RecordsFile))
		}
		return errors.Join(runErr, err)
	}
	recPath := strings.TrimSuffix(path, ".json") + ".requests.jsonl"
	if filepath.Base(recPath) != r.Load.RecordsFile {
		logf("warning: the report took the name %s; its records are %s, not %s as it says\n", filepath.Base(path), filepath.Base(recPath), r.Load.RecordsFile)
	}
	if err := atomicfile.Create(recPath, recs.Bytes()); err != nil {
		return errors.Join(runErr, fmt.Errorf("records: %w", err))
	}
	if err := printSummary(a.stdout, r, format); err != nil {
		return err
	}
	logf("report: %s (summary %s, records %s)\n", path, strings.TrimSuffix(path, ".json")+".md", recPath)
	for i, pt := range r.Load.Points {
		if pt.Client.ClientBound {
			logf("warning: point %d is client-bound: %s; its latencies include the generator's own delay\n", i+1, pt.Client.Reason)
		}
	}
	switch {
	case runErr != nil && ctx.Err() != nil:
		return &interruptError{exitInterrupted, fmt.Errorf("interrupted; the incomplete report is %s", path)}
	case runErr != nil:
		return fmt.Errorf("%w; the incomplete report is %s", runErr, path)
	}
	if n := bench.Failed(r.Targets); n > 0 {
		return fmt.Errorf("%d of %d targets failed (see the TARGETS table and %s)", n, len(r.Targets), path)
	}
	return nil
}

// pointLine is the one-line result of a point on stderr.
func pointLine(p report.LoadPoint) string {
	shape := fmt.Sprintf("concurrency %d", p.Concurrency)
	if p.Arrival != report.ArrivalClosed {
		shape = fmt.Sprintf("%s %.3g req/s", p.Arrival, p.RequestRate)
	}
	s := fmt.Sprintf("  %s: %d requests, %d failed, %.2f req/s, %.1f output tok/s, TTFT p50 %.1f ms, TPOT p50 %.2f ms",
		shape, p.Requests, p.Failed, p.RequestsPerS, p.OutputTokensPerS, p.TTFT.P50, p.TPOT.P50)
	if p.TTFTFromPlan != nil {
		s += fmt.Sprintf(" (from plan %.1f)", p.TTFTFromPlan.P50)
	}
	if p.SLOAttainment < 1 {
		s += fmt.Sprintf(", SLO %.0f%%", 100*p.SLOAttainment)
	}
	if p.Client.ClientBound {
		s += ", CLIENT-BOUND"
	}
	return s
}

func orEmpty(s string, ok bool) string {
	if ok {
		return s
	}
	return ""
}

// redactArgs hides the value of --api-key in a command line kept in a report.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, s := range out {
		switch {
		case s == "--api-key" && i+1 < len(out):
			out[i+1] = "REDACTED"
		case strings.HasPrefix(s, "--api-key="):
			out[i] = "--api-key=REDACTED"
		}
	}
	return out
}

// loadProgress draws one status line on a terminal: the point, requests
// done, in flight, failed and the current output token rate.
type loadProgress struct {
	w      io.Writer
	total  int
	counts loadgen.Progress
	stopc  chan struct{}
	wg     sync.WaitGroup
}

func (p *loadProgress) start(k int, title string, n int) {
	if p == nil {
		return
	}
	p.counts.Done.Store(0)
	p.counts.Failed.Store(0)
	p.counts.Tokens.Store(0)
	p.stopc = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		begin := time.Now()
		lastTok, lastT := int64(0), begin
		for {
			select {
			case <-p.stopc:
				fmt.Fprintf(p.w, "\r\033[K")
				return
			case now := <-t.C:
				tok := p.counts.Tokens.Load()
				rate := float64(tok-lastTok) / now.Sub(lastT).Seconds()
				lastTok, lastT = tok, now
				of := ""
				if n > 0 {
					of = fmt.Sprintf("/%d", n)
				}
				fmt.Fprintf(p.w, "\r\033[Kpoint %d/%d %s: done %d%s, in flight %d, failed %d, %.0f tok/s, %s",
					k+1, p.total, title, p.counts.Done.Load(), of, p.counts.InFlight.Load(), p.counts.Failed.Load(), rate,
					now.Sub(begin).Truncate(time.Second))
			}
		}
	}()
}

func (p *loadProgress) stop() {
	if p == nil || p.stopc == nil {
		return
	}
	close(p.stopc)
	p.wg.Wait()
	p.stopc = nil
}

// readyWait bounds how long load and soak wait for a server whose model
// list answers 503 (a model still loading) before they give up.
const readyWait = 2 * time.Minute

// listModels is client.Models, asked again every half second for up to
// readyWait while the server answers 503, so that load and soak can start
// together with the server they measure.
func listModels(ctx context.Context, client *loadgen.Client, logf func(string, ...any)) ([]string, string, error) {
	deadline := time.Now().Add(readyWait)
	for said := false; ; said = true {
		ids, server, err := client.Models(ctx)
		if !errors.Is(err, loadgen.ErrNotReady) || time.Now().After(deadline) {
			return ids, server, err
		}
		if !said {
			logf("%s/models answers 503 (a model still loading?): asking again for up to %v\n", client.BaseURL(), readyWait)
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// chooseModel settles --model (model) against the server's model list:
// ids, or listErr when the list could not be had. An empty --model takes
// the one model listed; a failed list is fatal only when --model is empty
// (otherwise a warning through logf).
func chooseModel(model string, ids []string, listErr error, logf func(string, ...any)) (string, error) {
	switch {
	case listErr != nil && model == "":
		return "", fmt.Errorf("%w; or pass --model to skip the model list", listErr)
	case listErr != nil:
		logf("warning: %v; going on with --model %s\n", listErr, model)
	case model == "" && len(ids) != 1:
		return "", usagef("--model: the server lists %d models (%s); pick one with --model", len(ids), strings.Join(ids, ", "))
	case model == "":
		model = ids[0]
	}
	return model, nil
}
