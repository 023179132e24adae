package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gpt2bench/gpt2bench/bench"
	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/loadgen"
	"github.com/gpt2bench/gpt2bench/server"
	"github.com/gpt2bench/gpt2bench/soak"
)

// soakFlags are the flags of `gpt2bench soak` besides the model's and the engine's.
type soakFlags struct {
	url, apiKey    string
	pid            int
	duration       time.Duration
	sampleInterval time.Duration
	warmup         time.Duration
	window         time.Duration
	concurrency    int
	concurrencyArg []int // --concurrency: a list, as bench's and load's, of one value here
	rate           float64
	inputLen       int
	inputLenArg    []int // --input-len: a list, as bench's and load's, of one value here
	outputLen      int
	prefixLen      int
	prefixGroups   int
	vocab          int
	timeout        time.Duration
	faults         string
	faultInterval  time.Duration
	faultSettle    time.Duration
	drainTimeout   time.Duration
	burstSize      int
	contextLen     int
	maxQueue       int
	errorBudget    float64
	driftThreshold float64
	driftAlpha     float64
	driftMin       time.Duration
	leakThresholds string
	seed           uint64
	out            string
	format         string
	quiet          bool
}

// defaultSoakQueue is the in-process server's queue in a soak: small, so
// that the burst fault overflows it with a few hundred requests.
const defaultSoakQueue = 64

func newSoakCmd(a *app) *cobra.Command {
	var (
		mf modelFlags
		ef engineFlags
		sf soakFlags
	)
	def := bench.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "soak [--url URL] --duration D [flags]",
		Short: "Run a load for hours: resources and latency per window, injected faults, leak/drift/error verdicts",
		Long: `soak runs a steady load against a server for a long time, samples its
resources and the load's latency per window, injects faults on a schedule,
and judges leaks, latency drift and errors. It exits 1 when a verdict fails;
the report is written either way.

Without --url it starts gpt2bench's own server (as serve: --model, engine
flags) on a loopback port in this process and drives it over HTTP, reading
the resources from the runtime: RSS, Go heap in use and live, goroutines,
open fds, KV blocks in use, prefix-cache blocks, GC cycles and pause (the
load generator shares the process: its few goroutines per request in
flight are counted too). With --url it targets any OpenAI-compatible
server: client-side figures, plus the server's /metrics when it has them
(gpt2bench serve, or any Go server with Prometheus' collectors), plus
/proc/PID with --pid (RSS, open fds).

The load is load's: --concurrency requests in flight (closed loop), or
--request-rate Poisson arrivals (with --concurrency as the cap), of
--input-len random token ids and --output-len tokens.

Faults (--faults, default all; none to turn them off), in turn every
--fault-interval after the warm-up: disconnect (streams dropped after their
first token), malformed (bodies that are not a request), over_context
(prompts one token past the context), burst (--burst-size requests at
once, beyond the queue: 429s), and once, half-way, restart (in process:
drain the server, start it again on the same port). A fault passes when
each of its requests completes or gets a clear error (none vanish) and the
goroutines, fds and KV blocks are back at their level before it within
--fault-settle.

Verdicts: leak, per resource, when the low end of the 95% interval of its
slope after the warm-up (OLS, t interval corrected for autocorrelation)
is above its threshold per hour (--leak-threshold overrides them) and it
grew past a minimum; drift, for TTFT, ITL and E2E, when the last fifth of
the windows is slower than the first by more than --drift-threshold (and by
more than --drift-min) with Mann-Whitney p < --drift-alpha; error budget, when more than
--error-budget of the requests failed outside the faults. The report
(schema 1.4, soak section: series, windows, faults, verdicts and their
evidence) goes to --out with the per-request records beside it; gpt2bench
report --html draws its time series with the faults marked.`,
		Example: `  gpt2bench soak --duration 2h --concurrency 4 --input-len 128 --output-len 32
  gpt2bench soak --model testdata/tiny-gpt2 --duration 60s --request-rate 20 --input-len 16 --output-len 8
  gpt2bench soak --url http://127.0.0.1:8000/v1 --pid 12345 --duration 24h --faults disconnect,malformed,burst
  gpt2bench report data/benchmarks/gpt2-random_20261207_130000.json --html soak.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSoak(cmd.Context(), a, &mf, &ef, &sf, cmd.Flags())
		},
	}
	mf.register(cmd.Flags())
	ef.register(cmd.Flags())
	f := cmd.Flags()
	f.Lookup("model").Usage = "in process: the model to serve (as serve's --model); with --url: the model name sent (default: the only one the server lists)"
	f.StringVar(&sf.url, "url", "", "soak this OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1) instead of gpt2bench's in process")
	f.StringVar(&sf.apiKey, "api-key", "", "with --url: API key sent as a bearer token (default $OPENAI_API_KEY)")
	f.IntVar(&sf.pid, "pid", 0, "with --url: the server's process id, to read its RSS and open fds from /proc")
	f.DurationVar(&sf.duration, "duration", time.Hour, "time the load runs (e.g. 60s, 2h, 24h)")
	f.DurationVar(&sf.sampleInterval, "sample-interval", 0, "time between resource samples (0: duration/120 within 1s..5s)")
	f.DurationVar(&sf.warmup, "warmup-time", 0, "start left out of the leak and drift verdicts (0: duration/6 within 5s..10m)")
	f.DurationVar(&sf.window, "window", 0, "width of a latency window (0: duration/60 within the sample interval..10m)")
	f.IntSliceVar(&sf.concurrencyArg, "concurrency", []int{4}, "closed-loop requests in flight (one value); with --request-rate, the cap on them (0: none)")
	f.Float64Var(&sf.rate, "request-rate", 0, "open-loop request rate in requests/s (Poisson arrivals); 0 = closed loop")
	f.IntSliceVar(&sf.inputLenArg, "input-len", []int{128}, "prompt length in tokens (one value)")
	f.IntVar(&sf.outputLen, "output-len", def.OutputLen, "tokens generated per request (max_tokens, EOS ignored)")
	f.IntVar(&sf.prefixLen, "prefix-len", 0, "tokens shared by the prompts of a prefix group (prefix caching)")
	f.IntVar(&sf.prefixGroups, "prefix-groups", 1, "number of distinct shared prefixes, requests round-robin")
	f.IntVar(&sf.vocab, "vocab-size", 0, "random token ids are drawn below this (default: the model's vocabulary in process, 50257 with --url)")
	f.DurationVar(&sf.timeout, "timeout", 2*time.Minute, "per-request limit from send to last byte")
	f.StringVar(&sf.faults, "faults", "all", "faults injected: all, none, or a list of "+strings.Join(soak.AllFaults, ","))
	f.DurationVar(&sf.faultInterval, "fault-interval", 0, "time between faults (0: (duration - warm-up)/10 within 3s..15m)")
	f.DurationVar(&sf.faultSettle, "fault-settle", soak.DefaultFaultSettle, "how long the resources may take to return to their level before a fault")
	f.DurationVar(&sf.drainTimeout, "drain-timeout", soak.DefaultDrainTimeout, "the restart's drain, and the end's wait for requests in flight, at most")
	f.IntVar(&sf.burstSize, "burst-size", 0, "requests the burst fault sends at once (default: 2 x (--max-queue + --max-num-seqs) in process, 256 with --url)")
	f.IntVar(&sf.contextLen, "context-len", 0, "the context the over_context fault exceeds (default: the model's in process, 1024 with --url)")
	f.IntVar(&sf.maxQueue, "max-queue", defaultSoakQueue, "in process: requests waiting at most in the server; past it, 429")
	f.Float64Var(&sf.errorBudget, "error-budget", soak.DefaultErrorBudget, "largest share of requests that may fail outside the faults (0.001 = 0.1%)")
	f.Float64Var(&sf.driftThreshold, "drift-threshold", soak.DefaultDriftThreshold, "largest growth of a latency median, last windows against first (0.25 = 25%)")
	f.DurationVar(&sf.driftMin, "drift-min", time.Duration(soak.DefaultDriftMinMs*float64(time.Millisecond)), "smallest growth of a latency median that counts as drift (below it: the machine's noise)")
	f.Float64Var(&sf.driftAlpha, "drift-alpha", soak.DefaultDriftAlpha, "significance level of the drift test (Mann-Whitney U)")
	f.StringVar(&sf.leakThresholds, "leak-threshold", "", "leak thresholds per hour, e.g. rss=128MiB,goroutines=120 (defaults in gpt2bench soak's README section)")
	f.Uint64Var(&sf.seed, "seed", uint64(def.Seed), "seed of the prompts and arrivals")
	f.StringVarP(&sf.out, "out", "o", defaultOut, "`directory` the report is written to (created if missing)")
	f.StringVar(&sf.format, "format", "table", "summary on stdout: table, json or markdown")
	f.BoolVarP(&sf.quiet, "quiet", "q", false, "no progress or messages on stderr")
	return cmd
}

// parseThresholds reads "rss=128MiB,goroutines=120".
func parseThresholds(s string) (map[string]float64, error) {
	out := map[string]float64{}
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want resource=value, e.g. rss=128MiB", part)
		}
		if _, known := soak.DefaultThresholds[k]; !known {
			names := make([]string, 0, len(soak.DefaultThresholds))
			for n := range soak.DefaultThresholds {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, fmt.Errorf("unknown resource %q; want one of %s", k, strings.Join(names, ", "))
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			n, perr := parseSize("leak-threshold", v)
			if perr != nil {
				return nil, fmt.Errorf("%s=%s: want a number per hour, or a size such as 64MiB", k, v)
			}
			x = float64(n)
		}
		if !(x >= 0) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s=%s: want a number >= 0", k, v)
		}
		out[k] = x
	}
	return out, nil
}

// runSoak validates the flags, starts the server in process (or reaches
// the one at --url), soaks it, writes the report and the records, and
// fails when a verdict failed.
func runSoak(ctx context.Context, a *app, mf *modelFlags, ef *engineFlags, sf *soakFlags, fs *pflag.FlagSet) error {
	changed := func(name string) bool { return fs != nil && fs.Changed(name) }
	format, err := summaryFormat(sf.format)
	if err != nil {
		return err
	}
	// Validate every flag before any work. --concurrency and --input-len
	// are lists in bench and load (one name, one type per idea); a soak
	// runs one load shape.
	if len(sf.concurrencyArg) != 1 {
		return usagef("--concurrency: give one value (a soak runs one load shape), got %d", len(sf.concurrencyArg))
	}
	if len(sf.inputLenArg) != 1 {
		return usagef("--input-len: give one length (a soak runs one load shape), got %d", len(sf.inputLenArg))
	}
	sf.concurrency, sf.inputLen = sf.concurrencyArg[0], sf.inputLenArg[0]
	switch {
	case sf.duration <= 0:
		return usagef("--duration %v: want a positive duration such as 60s or 2h", sf.duration)
	case sf.sampleInterval < 0 || sf.warmup < 0 || sf.window < 0 || sf.faultInterval < 0:
		return usagef("--sample-interval, --warmup-time, --window and --fault-interval must be >= 0 (0: automatic)")
	case sf.warmup >= sf.duration:
		return usagef("--warmup-time %v leaves nothing of --duration %v to judge", sf.warmup, sf.duration)
	case sf.timeout <= 0 || sf.faultSettle <= 0 || sf.drainTimeout <= 0:
		return usagef("--timeout, --fault-settle and --drain-timeout must be positive")
	case sf.concurrency < 0 || sf.concurrency > loadgen.MaxInFlight:
		return usagef("--concurrency %d: want 0 to %d", sf.concurrency, loadgen.MaxInFlight)
	case sf.rate < 0 || math.IsNaN(sf.rate) || math.IsInf(sf.rate, 0):
		return usagef("--request-rate %v: want a number of requests/s >= 0 (0 = closed loop)", sf.rate)
	case sf.rate == 0 && sf.concurrency < 1:
		return usagef("--concurrency 0 needs --request-rate (a closed loop needs requests in flight)")
	case sf.burstSize < 0 || sf.burstSize > loadgen.MaxInFlight:
		return usagef("--burst-size %d: want 0 (automatic) to %d", sf.burstSize, loadgen.MaxInFlight)
	case sf.contextLen < 0:
		return usagef("--context-len %d is negative", sf.contextLen)
	case sf.maxQueue < 1:
		return usagef("--max-queue %d: want >= 1", sf.maxQueue)
	case !(sf.errorBudget >= 0 && sf.errorBudget <= 1):
		return usagef("--error-budget %v: want a fraction in [0, 1], e.g. 0.001", sf.errorBudget)
	case !(sf.driftThreshold > 0) || math.IsInf(sf.driftThreshold, 0):
		return usagef("--drift-threshold %v: want a positive fraction, e.g. 0.25", sf.driftThreshold)
	case !(sf.driftAlpha > 0 && sf.driftAlpha < 1):
		return usagef("--drift-alpha %v: want a probability in (0, 1), e.g. 0.01", sf.driftAlpha)
	case sf.driftMin < 0:
		return usagef("--drift-min %v is negative", sf.driftMin)
	case sf.pid < 0:
		return usagef("--pid %d is negative", sf.pid)
	}
	thresholds, err := parseThresholds(sf.leakThresholds)
	if err != nil {
		return usagef("--leak-threshold: %v", err)
	}
	var faults []string
	switch sf.faults {
	case "all":
		faults = soak.AllFaults
		if sf.url != "" {
			faults = faults[:len(faults)-1] // restart is in process only
		}
	case "none", "":
	default:
		for _, k := range strings.Split(sf.faults, ",") {
			k = strings.TrimSpace(k)
			if !slices.Contains(soak.AllFaults, k) {
				return usagef("--faults: unknown fault %q; want all, none or a list of %s", k, strings.Join(soak.AllFaults, ","))
			}
			if k == report.FaultRestart && sf.url != "" {
				return usagef("--faults restart drains and restarts gpt2bench's server in process; it cannot restart the server at --url")
			}
			faults = append(faults, k)
		}
	}
	inProcess := sf.url == ""
	if inProcess {
		for _, name := range []string{"api-key", "pid"} {
			if changed(name) {
				return usagef("--%s goes with --url (the in-process server is this process)", name)
			}
		}
		if err := mf.validate(); err != nil {
			return err
		}
		if mf.backend != "cpu" {
			return usagef("--backend %s: the in-process server runs the engine's ragged steps on --backend cpu only", mf.backend)
		}
	} else {
		for _, name := range []string{"config", "revision", "dtype", "threads", "backend", "max-num-seqs", "max-num-batched-tokens", "kv-cache-memory",
			"block-size", "no-prefix-cache", "batch-invariant", "max-queue"} {
			if changed(name) {
				return usagef("--%s sets up the in-process server; the server at --url has its own settings", name)
			}
		}
	}
	ecfg, err := ef.config()
	if err != nil {
		return err
	}
	ecfg.MaxQueue = sf.maxQueue
	if err := checkOutDir(sf.out); err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		if !sf.quiet {
			fmt.Fprintf(a.stderr, format, args...)
		}
	}
	version, commit := buildVersion()
	r := &report.Report{SchemaVersion: report.SchemaVersion, Metadata: report.Metadata{Runs: 1, Seed: int64(sf.seed), CommandLine: redactArgs(a.args)}}
	o := soak.Options{
		Concurrency: sf.concurrency, Rate: sf.rate, Seed: int64(sf.seed), Duration: sf.duration, Warmup: sf.warmup,
		SampleInterval: sf.sampleInterval, Window: sf.window, Faults: faults, FaultInterval: sf.faultInterval, FaultSettle: sf.faultSettle,
		DrainTimeout: sf.drainTimeout, BurstSize: sf.burstSize, ContextLen: sf.contextLen, Thresholds: thresholds,
		DriftAlpha: sf.driftAlpha, DriftThreshold: sf.driftThreshold, DriftMinMs: float64(sf.driftMin) / 1e6, ErrorBudget: sf.errorBudget, Logf: logf,
	}
	if o.ErrorBudget == 0 {
		o.ErrorBudget = math.SmallestNonzeroFloat64 // --error-budget 0: no failure at all
	}
	if o.DriftMinMs == 0 {
		o.DriftMinMs = -1 // --drift-min 0: no floor
	}
	vocab := sf.vocab
	copts := loadgen.ClientOptions{IgnoreEOS: true, Timeout: sf.timeout, MaxConns: max(sf.concurrency, 1)}
	var srv *soak.InProcess
	if inProcess {
		e, err := mf.open(ctx)
		if err != nil {
			return err
		}
		defer e.Close()
		logf("%s\n%s\n", e.Describe(), describeEngine(ecfg))
		c := e.W.Config
		if vocab == 0 {
			vocab = c.VocabSize
		}
		if o.ContextLen == 0 {
			o.ContextLen = c.NPositions
		}
		if need := sf.inputLen + sf.outputLen - 1; need > c.NPositions {
			return usagef("--input-len %d plus --output-len %d needs %d positions, the model's context is %d; shorten them", sf.inputLen, sf.outputLen, need, c.NPositions)
		}
		if o.BurstSize == 0 {
			seqs := ecfg.MaxNumSeqs
			if seqs == 0 {
				seqs = defaultEngineFlags().maxNumSeqs
			}
			o.BurstSize = min(2*(sf.maxQueue+seqs), loadgen.MaxInFlight)
		}
		srv, err = soak.StartInProcess(e.cpu, ecfg, server.Options{ModelName: servedName(mf.model, e.W)})
		if err != nil {
			return err
		}
		defer srv.Close(sf.drainTimeout)
		copts.BaseURL, copts.Model = srv.BaseURL(), srv.ModelName()
		o.Server = srv
		o.Samplers = []soak.Sampler{soak.RuntimeSampler{}, soak.ProcSampler{}, soak.EngineSampler{Engine: srv.Engine}}
		r.ModelName = reportModelName(e)
		r.SystemInfo = bench.SystemInfo(mf.backend, version)
		r.Metadata.Device, r.Metadata.RandomWeights, r.Metadata.DType = mf.backend, e.W.Random, bench.DTypeName(e.DType)
		logf("soak: gpt2bench's server in process at %s, %v\n", srv.BaseURL(), sf.duration)
	} else {
		if !changed("api-key") {
			sf.apiKey = a.getenv("OPENAI_API_KEY")
		}
		copts.BaseURL, copts.APIKey, copts.Model = sf.url, sf.apiKey, mf.model
		client, err := loadgen.NewClient(copts)
		if err != nil {
			return usagef("--url: %v", err)
		}
		ids, _, err := listModels(ctx, client, logf)
		client.Close()
		if copts.Model, err = chooseModel(copts.Model, ids, err, logf); err != nil {
			return err
		}
		if vocab == 0 {
			vocab = gpt2Vocab
		}
		if mu, err := soak.MetricsURL(client.BaseURL()); err == nil {
			ms := soak.MetricsSampler{URL: mu}
			if _, err := ms.Sample(ctx); err == nil {
				o.Samplers = append(o.Samplers, ms)
			} else {
				logf("soak: no server metrics (%v); client-side figures only%s\n", err, orEmpty(" and /proc", sf.pid > 0))
			}
		}
		if sf.pid > 0 {
			ps := soak.ProcSampler{PID: sf.pid}
			if _, err := ps.Sample(ctx); err != nil {
				return usagef("--pid %d: %v", sf.pid, err)
			}
			o.Samplers = append([]soak.Sampler{ps}, o.Samplers...)
		}
		r.ModelName = copts.Model
		r.SystemInfo = bench.SystemInfo("http", version)
		r.SystemInfo.Backend = "http"
		r.Metadata.Device = "http"
		logf("soak: %s, model %s, %v\n", client.BaseURL(), copts.Model, sf.duration)
	}
	if commit != "unknown" {
		r.SystemInfo.GitCommit = commit
	}
	rw := &loadgen.RandomWorkload{Input: loadgen.Fixed(sf.inputLen), Output: loadgen.Fixed(sf.outputLen), PrefixLen: sf.prefixLen,
		PrefixGroups: sf.prefixGroups, Vocab: vocab, Seed: int64(sf.seed)}
	if sf.prefixLen == 0 {
		rw.PrefixGroups = 0
	}
	if err := rw.Check(); err != nil {
		return usagef("--input-len/--output-len/--prefix-len/--vocab-size: %v", err)
	}
	o.Workload, o.Vocab, o.Client = rw, vocab, copts

	// the records stream into a hidden file beside the report, named once the report is
	if err := os.MkdirAll(sf.out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", sf.out, err)
	}
	tmp, err := os.CreateTemp(sf.out, ".soak-*.requests.jsonl")
	if err != nil {
		return fmt.Errorf("--out %s: %w", sf.out, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil { // as the report's
		tmp.Close()
		return fmt.Errorf("records: %w", err)
	}
	bw := bufio.NewWriterSize(tmp, 64<<10)
	o.Records = bw
	r.Timestamp = time.Now().UTC().Truncate(time.Second)
	s, runErr := soak.Run(ctx, o)
	if s == nil {
		tmp.Close()
		return runErr // options refused before any work
	}
	r.Soak = s
	if runErr != nil && ctx.Err() != nil {
		r.Incomplete = true
		r.IncompleteReason = fmt.Sprintf("interrupted after %.0f s of %v", s.ElapsedS, sf.duration)
	}
	if err := errors.Join(bw.Flush(), tmp.Close()); err != nil {
		return errors.Join(runErr, fmt.Errorf("records: %w", err))
	}
	s.RecordsFile = report.FileBase(r) + ".requests.jsonl"
	path, err := report.WriteNew(sf.out, r)
	if err != nil {
		if rerr := os.Link(tmp.Name(), filepath.Join(sf.out, s.RecordsFile)); rerr == nil {
			err = fmt.Errorf("%w (the per-request records are in %s)", err, filepath.Join(sf.out, s.RecordsFile))
		}
		return errors.Join(runErr, err)
	}
	recPath := strings.TrimSuffix(path, ".json") + ".requests.jsonl"
	if err := os.Link(tmp.Name(), recPath); err != nil { // never over an earlier file
		return errors.Join(runErr, fmt.Errorf("records: %w", err))
	}
	if err := printSummary(a.stdout, r, format); err != nil {
		return err
	}
	logf("report: %s (summary %s, records %s)\n", path, strings.TrimSuffix(path, ".json")+".md", recPath)
	switch {
	case runErr != nil && ctx.Err() != nil:
		return &interruptError{interruptCode(ctx), fmt.Errorf("interrupted; the incomplete report is %s", path)}
	case runErr != nil:
		return fmt.Errorf("%w; the incomplete report is %s", runErr, path)
	case !s.Pass:
		return fmt.Errorf("soak: %d verdicts failed: %s (report %s)", len(s.Failures), strings.Join(s.Failures, "; "), path)
	}
	return nil
}
