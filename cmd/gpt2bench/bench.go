package main

import (
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
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gpt2bench/gpt2bench/bench"
	"github.com/gpt2bench/gpt2bench/bench/report"
	sched "github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/weights/hub"
)

// defaultOut is where reports go unless --out says otherwise.
const defaultOut = "data/benchmarks"

// benchFlags are the flags of `gpt2bench bench`.
type benchFlags struct {
	mf          modelFlags
	phases      []string
	quick       bool
	warmup      int
	runs        int
	inputLens   []int
	outputLen   int
	concurrency []int
	batchSizes  []int
	continuous  []int       // --continuous: closed-loop concurrencies of the continuous mode
	requestRate float64     // --request-rate: an open-loop continuous run at this rate
	ef          engineFlags // the continuous-batching engine
	seed        uint64
	out         string
	format      string
	quiet       bool
	targets     string
	profile     bool // per-op profile section (issue: the report carries it)
}

func newBenchCmd(a *app) *cobra.Command {
	var bf benchFlags
	def := bench.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Run the latency, memory and throughput phases and write a report",
		Long: `bench measures the model in up to three phases and writes a JSON report,
data/benchmarks/{model}_{YYYYMMDD_HHMMSS}.json (never overwriting), with a
Markdown summary beside it, and prints the same summary on stdout.

  latency     batch 1, per input length: TTFT (prefill + first token),
              TPOT = (E2E - TTFT)/(N_out - 1), ITL (every gap between tokens),
              E2E, prefill and decode tokens/s; mean, sample std, min, max,
              p50/p90/p95/p99 (linear interpolation, as numpy)
  memory      weights by dtype, load and inference peak RSS and Go heap,
              KV cache analytic and allocated, allocations and bytes per
              generated token, GC cycles and pause
  throughput  single stream; concurrent (one KV cache per goroutine, shared
              weights); batched (B sequences per forward pass, lockstep);
              continuous (requests through the continuous-batching engine:
              a closed loop at each --continuous concurrency, and Poisson
              arrivals at --request-rate; paged KV cache, chunked prefill,
              prefix caching): requests/s, output and total tokens/s,
              latency percentiles, and for continuous per-request TTFT,
              TPOT and ITL with the engine's step mix

Prompts are random token ids of exactly each input length; generation runs
exactly --output-len tokens (EOS ignored). Warm-up runs are never counted.
An input length whose prompt + output exceed the context is skipped and
listed in the report (refused when none fits).

--targets FILE (YAML or JSON) adds a pass/fail table; the exit code is 1
when a target fails (the report is still written). Ctrl-C stops the run,
writes the report marked incomplete and exits 130.`,
		Example: `  gpt2bench bench --quick
  gpt2bench bench --model gpt2 --phases latency --input-len 128,512 --output-len 64
  gpt2bench bench --phases throughput --concurrency 1,2,4 --batch-sizes 1,4,8 --runs 5
  gpt2bench bench --phases throughput --batch-sizes 1,8 --continuous 8 --request-rate 2 --input-len 128 --output-len 128
  gpt2bench bench --quick --targets targets.yaml --format markdown --quiet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), a, &bf, cmd.Flags())
		},
	}
	f := cmd.Flags()
	bf.mf.register(f)
	f.StringSliceVar(&bf.phases, "phases", []string{"latency", "memory", "throughput"}, "phases to run: latency, memory, throughput")
	q := bench.QuickOptions()
	f.BoolVar(&bf.quick, "quick", false, fmt.Sprintf("quick settings (%d warm-up, %d runs, input lengths %s, output %d, concurrency %s, batch sizes %s) for the flags not given",
		q.Warmup, q.Runs, joinInts(q.InputLens), q.OutputLen, joinInts(q.Concurrency), joinInts(q.BatchSizes)))
	f.IntVar(&bf.warmup, "warmup", def.Warmup, "unmeasured warm-up runs before each setting")
	f.IntVar(&bf.runs, "runs", def.Runs, "measured runs per setting")
	f.IntSliceVar(&bf.inputLens, "input-len", def.InputLens, "prompt lengths in tokens, comma-separated")
	f.IntVar(&bf.outputLen, "output-len", def.OutputLen, "tokens generated per request (EOS ignored)")
	f.IntSliceVar(&bf.concurrency, "concurrency", def.Concurrency, "concurrent requests of the throughput phase (1 = single stream)")
	f.IntSliceVar(&bf.batchSizes, "batch-sizes", def.BatchSizes, "sequences per forward pass of the throughput phase (1 = single stream)")
	f.Var(newIntList(&bf.continuous, def.Continuous), "continuous", "concurrent requests of the throughput phase's continuous-batching mode (closed loop; none or an empty value: no continuous mode)")
	f.Float64Var(&bf.requestRate, "request-rate", 0, "add an open-loop continuous run: Poisson arrivals at this many requests/s (0 = none)")
	bf.ef.register(f)
	f.Uint64Var(&bf.seed, "seed", uint64(def.Seed), "seed of the random prompts")
	aliasFlags(f, map[string]string{"input-lengths": "input-len"})
	f.StringVarP(&bf.out, "out", "o", defaultOut, "`directory` the report is written to (created if missing)")
	f.StringVar(&bf.format, "format", "table", "summary on stdout: table, json or markdown")
	f.BoolVarP(&bf.quiet, "quiet", "q", false, "no progress or messages on stderr, only the report's path and errors")
	f.StringVar(&bf.targets, "targets", "", "performance targets `FILE` (YAML or JSON) to check; a failure exits 1")
	f.BoolVar(&bf.profile, "profile", true, "add the per-layer, per-op profile of one generation to the report (on a GPU: CUDA events)")
	return cmd
}

// runDefault is `gpt2bench` with no arguments: a quick benchmark of every
// phase on gpt2 from the Hugging Face cache if it is there, else on the
// embedded default, with the report in data/benchmarks.
func runDefault(ctx context.Context, a *app) error {
	bf := benchFlags{
		mf:      modelFlags{model: "gpt2", revision: "main", dtype: "f32", backend: "cpu"},
		quick:   true,
		profile: true,
		out:     defaultOut,
		format:  "table",
		phases:  []string{"latency", "memory", "throughput"},
	}
	q := bench.QuickOptions()
	bf.warmup, bf.runs, bf.inputLens, bf.outputLen = q.Warmup, q.Runs, q.InputLens, q.OutputLen
	bf.concurrency, bf.batchSizes, bf.seed = q.Concurrency, q.BatchSizes, uint64(q.Seed)
	bf.continuous = q.Continuous
	bf.ef = defaultEngineFlags()
	return runBench(ctx, a, &bf, nil)
}

// options turns the flags into bench.Options: --quick's settings for every
// flag not given explicitly (fs nil: all of them).
func (bf *benchFlags) options(fs *pflag.FlagSet) (bench.Options, error) {
	changed := func(name string) bool { return fs != nil && fs.Changed(name) }
	o := bench.Options{
		Warmup: bf.warmup, Runs: bf.runs, InputLens: bf.inputLens, OutputLen: bf.outputLen,
		Concurrency: bf.concurrency, BatchSizes: bf.batchSizes, Seed: int64(bf.seed), EOS: bench.GPT2EOS, Quick: bf.quick,
		Continuous: bf.continuous, RequestRate: bf.requestRate,
	}
	if bf.seed > math.MaxInt64 {
		return o, usagef("--seed %d: want at most %d", bf.seed, int64(math.MaxInt64))
	}
	ec, err := bf.ef.config()
	if err != nil {
		return o, err
	}
	o.Engine = ec
	// The continuous mode needs the CPU backend's ragged step: asked for
	// explicitly elsewhere it is a usage error; by default it is skipped.
	if bf.mf.backend != "" && bf.mf.backend != "cpu" {
		if changed("continuous") && len(bf.continuous) > 0 || changed("request-rate") && bf.requestRate > 0 {
			return o, usagef("--continuous/--request-rate: the continuous-batching engine runs its ragged steps on --backend cpu only (not yet on %s); drop them or use --backend cpu", bf.mf.backend)
		}
		o.Continuous, o.RequestRate = nil, 0
	}
	if bf.quick {
		q := bench.QuickOptions()
		if !changed("warmup") {
			o.Warmup = q.Warmup
		}
		if !changed("runs") {
			o.Runs = q.Runs
		}
		if !changed("input-len") {
			o.InputLens = q.InputLens
		}
		if !changed("output-len") {
			o.OutputLen = q.OutputLen
		}
		if !changed("concurrency") {
			o.Concurrency = q.Concurrency
		}
		if !changed("batch-sizes") {
			o.BatchSizes = q.BatchSizes
		}
		if !changed("continuous") && o.Continuous != nil {
			o.Continuous = q.Continuous
		}
	}
	for _, s := range bf.phases {
		p, err := bench.ParsePhase(s)
		if err != nil {
			return o, usagef("--phases: %v", err)
		}
		if !o.Has(p) {
			o.Phases = append(o.Phases, p)
		}
	}
	if err := o.Validate(); err != nil {
		return o, usagef("%s", flagNames.Replace(err.Error()))
	}
	return o, nil
}

// flagNames maps bench.Options' names in its errors to the flags.
var flagNames = strings.NewReplacer(
	"phases:", "--phases:", "warm-up runs:", "--warmup:", "runs:", "--runs:",
	"output length:", "--output-len:", "input lengths:", "--input-len:",
	"concurrency:", "--concurrency:", "batch sizes:", "--batch-sizes:",
	"continuous:", "--continuous:", "request rate:", "--request-rate:",
)

// summaryFormat checks --format.
func summaryFormat(s string) (string, error) {
	switch strings.ToLower(s) {
	case "table", "text":
		return "table", nil
	case "json":
		return "json", nil
	case "markdown", "md":
		return "markdown", nil
	}
	return "", usagef("--format %q: want table, json or markdown", s)
}

// checkOutDir checks that dir can hold the report without creating
// anything: dir, or its nearest existing parent, must be a writable
// directory.
func checkOutDir(dir string) error {
	if dir == "" {
		return usagef("--out: empty; give a directory")
	}
	d := dir
	for {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return usagef("--out %s: %s is not a directory; pass a directory", dir, d)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return usagef("--out %s: %v", dir, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return usagef("--out %s: no existing parent directory", dir)
		}
		d = parent
	}
	f, err := os.CreateTemp(d, ".gpt2bench-probe-*")
	if err != nil {
		return usagef("--out %s: cannot write in %s (%v); pass a writable directory", dir, d, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// interruptError is the error of an interrupted run; run exits with code.
type interruptError struct {
	code int
	err  error
}

func (e *interruptError) Error() string { return e.err.Error() }
func (e *interruptError) Unwrap() error { return e.err }
func (e *interruptError) ExitCode() int { return e.code }

// runBench validates every flag, loads the model (measuring the load),
// runs the phases, checks targets, writes the report and prints the summary.
func runBench(ctx context.Context, a *app, bf *benchFlags, fs *pflag.FlagSet) error {
	opts, err := bf.options(fs)
	if err != nil {
		return err
	}
	format, err := summaryFormat(bf.format)
	if err != nil {
		return err
	}
	var targets []bench.Target
	if bf.targets != "" {
		if targets, err = bench.LoadTargets(bf.targets); err != nil {
			return usagef("--targets: %v", err)
		}
		for i, t := range targets {
			if !opts.Has(t.Phase()) {
				return usagef("--targets: target %d (%s) needs the %s phase; add it to --phases", i+1, t.Metric, t.Phase())
			}
		}
	}
	logf := func(format string, args ...any) {
		if !bf.quiet {
			fmt.Fprintf(a.stderr, format, args...)
		}
	}
	if err := bf.mf.validate(); err != nil {
		return err
	}
	if err := checkOutDir(bf.out); err != nil {
		return err
	}

	var e *engine
	load, err := bench.MeasureLoad(func() error {
		var err error
		e, err = bf.mf.open(ctx)
		if fs == nil && err != nil && ctx.Err() == nil {
			// The default run: without gpt2 in the cache, the embedded default.
			if errors.Is(err, hub.ErrOffline) {
				logf("gpt2 is not in the Hugging Face cache and HF_HUB_OFFLINE is set (offline mode: nothing is downloaded); using the embedded default\n")
			} else if errors.Is(err, hub.ErrNotCached) {
				logf("gpt2 is not in the Hugging Face cache (gpt2bench download gpt2); using the embedded default\n")
			} else {
				logf("cannot load gpt2 from the Hugging Face cache (%v); using the embedded default\n", err)
			}
			bf.mf.model = ""
			e, err = bf.mf.open(ctx)
		}
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return &interruptError{interruptCode(ctx), fmt.Errorf("interrupted while loading the model; no report written: %w", err)}
		}
		return err
	}
	defer e.Close()
	cfg := e.Config()
	if _, err := opts.PlanFor(cfg.NPositions); err != nil {
		return usagef("--input-len: %v", err)
	}
	if err := opts.CheckMemory(cfg); err != nil {
		return usagef("%s", flagNames.Replace(err.Error()))
	}
	logf("%s\n", e.Describe())
	logf("benchmark: phases %s; input lengths %s, output %d tokens; warm-up %d, runs %d; concurrency %s, batch sizes %s\n",
		joinPhases(opts.Phases), joinInts(opts.InputLens), opts.OutputLen, opts.Warmup, opts.Runs, joinInts(opts.Concurrency), joinInts(opts.BatchSizes))
	if opts.Has(bench.PhaseThroughput) {
		switch {
		case len(opts.Continuous) > 0 || opts.RequestRate > 0:
			logf("throughput: continuous %s%s; %s\n", joinInts(opts.Continuous), rateNote(opts.RequestRate), describeEngine(opts.Engine))
		case bf.mf.backend != "cpu":
			logf("throughput: no continuous mode (the engine runs on --backend cpu only, not yet on %s)\n", bf.mf.backend)
		}
	}

	env := bf.env(a, e, load)
	switch {
	case bf.quiet:
	case a.stderrTTY:
		env.Progress = &barProgress{w: a.stderr}
	default: // a log (CI): plain lines, a few seconds apart
		env.Progress = &lineProgress{w: a.stderr, every: progressEvery, now: time.Now}
	}
	r, runErr := bench.Run(ctx, env, opts)
	if r == nil {
		var ce *bench.ContextError
		if errors.As(runErr, &ce) {
			return usagef("--input-len: %v", runErr)
		}
		return runErr
	}
	if runErr == nil && bf.profile {
		pa := *a // profile and calibration messages follow --quiet
		if bf.quiet {
			pa.stderr = io.Discard
		}
		if r.Profile, runErr = profileSection(ctx, &pa, e, opts, logf); runErr != nil {
			r.Incomplete, r.IncompleteReason = true, runErr.Error()
		}
	}
	if runErr == nil {
		if r.Quality, runErr = qualitySection(ctx, e, opts.Seed); runErr != nil {
			r.Incomplete, r.IncompleteReason = true, runErr.Error()
		}
	}
	if len(targets) > 0 {
		r.Targets = bench.EvaluateTargets(r, targets)
	}
	path, werr := writeReport(bf.out, r)
	if path == "" {
		// The measurements are not lost with the file: print them.
		printSummary(a.stdout, r, format)
		return errors.Join(runErr, fmt.Errorf("%w; the summary above holds the measurements", werr))
	}
	if err := printSummary(a.stdout, r, format); err != nil {
		return err
	}
	// Always, even with --quiet: the path is the result a script looks for.
	fmt.Fprintf(a.stderr, "report: %s (summary %s)\n", path, strings.TrimSuffix(path, ".json")+".md")
	if werr != nil {
		return errors.Join(runErr, werr)
	}

	switch {
	case runErr != nil && ctx.Err() != nil:
		return &interruptError{interruptCode(ctx), fmt.Errorf("interrupted; the incomplete report is %s", path)}
	case runErr != nil:
		return fmt.Errorf("%w; the incomplete report is %s", runErr, path)
	}
	if n := bench.Failed(r.Targets); n > 0 {
		return fmt.Errorf("%d of %d targets failed (see the TARGETS table and %s)", n, len(r.Targets), path)
	}
	return nil
}

// writeReport writes r in dir (created if need be). When that fails after
// the run (the directory was removed or the disk filled up meanwhile), it
// writes r in the temporary directory instead, so that no finished
// measurement is lost: it then returns that path and dir's error. It
// returns "" when neither could be written.
func writeReport(dir string, r *report.Report) (string, error) {
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		var path string
		if path, err = report.WriteNew(dir, r); err == nil {
			return path, nil
		}
	}
	err = fmt.Errorf("--out %s: %w", dir, err)
	if path, terr := report.WriteNew(os.TempDir(), r); terr == nil {
		return path, fmt.Errorf("%w; the report was written to %s instead", err, path)
	}
	return "", err
}

// env describes the loaded engine and this run for bench.Run.
func (bf *benchFlags) env(a *app, e *engine, load bench.LoadMemory) bench.Env {
	version, commit := buildVersion()
	sys := bench.SystemInfo(bf.mf.backend, version)
	if commit != "unknown" {
		sys.GitCommit = commit
	}
	env := bench.Env{
		Engine:       e,
		ModelName:    reportModelName(e),
		WeightsBytes: bench.WeightsBytesByDType(e.Config(), e.DType),
		Load:         load,
		System:       sys,
		Metadata: report.Metadata{
			Device:        bf.mf.backend,
			CommandLine:   a.args,
			RandomWeights: e.W.Random,
			DType:         bench.DTypeName(e.DType),
		},
	}
	if e.cpu != nil {
		env.NewContinuous = func(c sched.Config) (*sched.Engine, error) { return sched.New(e.cpu, c) }
	}
	if e.ref != nil { // widened to float64 at load, cache in float64
		env.WeightsBytes = map[string]int64{"float64": 8 * e.Config().NumParams()}
		env.KVElemBytes = 8
		env.Metadata.DType = "float64"
	}
	if e.gpu != nil {
		info := e.gpu.Info()
		env.System.CUDA = report.CUDAInfo{Available: true, Device: info["device"], Driver: info["driver_cuda_version"], Version: info["cuda_header_version"]}
		dm := infoMemory{e.gpu}
		env.Engine = gpuEngine{e, dm}
		if used, _, err := dm.DeviceMemory(); err == nil {
			var w int64
			for _, b := range env.WeightsBytes {
				w += b
			}
			env.GPUUsedBefore = max(used-w, 0) // approximate: in use now minus the weights just loaded
		}
	}
	return env
}

// gpuEngine is an engine on a GPU, whose device memory the memory phase
// samples.
type gpuEngine struct {
	*engine
	mem infoMemory
}

var _ bench.DeviceMemory = gpuEngine{}

// DeviceMemory implements bench.DeviceMemory.
func (g gpuEngine) DeviceMemory() (used, total int64, err error) { return g.mem.DeviceMemory() }

// infoMemory reads device memory from the CUDA model's Info.
type infoMemory struct{ g gpuModel }

func (m infoMemory) DeviceMemory() (used, total int64, err error) {
	info := m.g.Info()
	total, err1 := strconv.ParseInt(info["memory_total_bytes"], 10, 64)
	free, err2 := strconv.ParseInt(info["memory_free_bytes"], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("device memory: %w", err)
	}
	return total - free, total, nil
}

// reportModelName names the model in the report and its file name: the
// hub name, the directory of a local checkpoint, or gpt2-random for the
// embedded default.
func reportModelName(e *engine) string {
	w := e.W
	if w.Random && w.Format == "embedded" {
		return "gpt2-random"
	}
	if fi, err := os.Stat(w.Name); err == nil {
		p := filepath.Clean(w.Name)
		if !fi.IsDir() {
			p = filepath.Dir(p)
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return filepath.Base(p)
	}
	return w.Name
}

// printSummary writes r to w as a table, JSON or Markdown.
func printSummary(w io.Writer, r *report.Report, format string) error {
	switch format {
	case "json":
		data, err := report.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	case "markdown":
		return report.WriteMarkdown(w, r)
	}
	return report.WriteTable(w, r)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func joinPhases(ps []bench.Phase) string {
	var s []string
	for _, p := range bench.AllPhases {
		if slices.Contains(ps, p) {
			s = append(s, string(p))
		}
	}
	return strings.Join(s, ",")
}

// progressEvery is how often lineProgress prints while a task runs.
const progressEvery = 5 * time.Second

// lineProgress prints plain progress lines for logs (stderr not a
// terminal): one when a task has run for every since the last line, and one
// when it ends, with its count and elapsed time.
type lineProgress struct {
	w            io.Writer
	every        time.Duration
	now          func() time.Time
	title        string
	done, total  int
	start, since time.Time
}

func (p *lineProgress) Start(title string, total int) {
	p.title, p.done, p.total = strings.TrimSpace(title), 0, total
	p.start = p.now()
	p.since = p.start
}

func (p *lineProgress) Add(n int) {
	p.done += n
	if t := p.now(); t.Sub(p.since) >= p.every {
		p.since = t
		fmt.Fprintf(p.w, "%s: %d/%d (%.0f s)\n", p.title, p.done, p.total, t.Sub(p.start).Seconds())
	}
}

func (p *lineProgress) Finish() {
	if p.title == "" {
		return
	}
	state := "done"
	if p.done < p.total {
		state = "stopped"
	}
	fmt.Fprintf(p.w, "%s: %s, %d/%d in %.1f s\n", p.title, state, p.done, p.total, p.now().Sub(p.start).Seconds())
	p.title = ""
}

// barProgress draws one progress bar per task on a terminal.
type barProgress struct {
	w         io.Writer
	bar       *progressbar.ProgressBar
	done, max int
}

func (p *barProgress) Start(title string, total int) {
	p.done, p.max = 0, total
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("%-28s", title)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(24),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
	)
	_ = p.bar.RenderBlank()
}

func (p *barProgress) Add(n int) {
	p.done += n
	_ = p.bar.Add(n)
}

func (p *barProgress) Finish() {
	if p.bar == nil {
		return
	}
	if p.done >= p.max {
		_ = p.bar.Finish()
	} else {
		_ = p.bar.Exit()
	}
	p.bar = nil
}

// rateNote is ", open loop at R req/s" for a request rate, else "".
func rateNote(r float64) string {
	if r <= 0 {
		return ""
	}
	return fmt.Sprintf(", open loop at %g req/s", r)
}
