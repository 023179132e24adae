package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/bench"
	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/profile"
)

func newProfileCmd(a *app) *cobra.Command {
	var (
		mf            modelFlags
		inputLens     []int
		outputLen     int
		timeline      string
		format        string
		warmup        int
		overheadPairs int
		labels        bool
		noCalibrate   bool
		seed          uint64
		inputLen      int
		stepDecodes   int
		stepChunk     int
	)
	cmd := &cobra.Command{
		Use:   "profile [--model M] [--input-len N] [--output-len N] [flags]",
		Short: "Per-layer, per-op profile of one generation, on this machine's roofline",
		Long: `profile runs one generation (a warm-up first) with every op of the forward
pass timed: for each block ln_1, qkv, attention scores, softmax and weighted
sum, the output projection, ln_2, the MLP up projection, GELU, the down
projection and both residual adds; then ln_f, the LM head (logits) and
sampling, split into prefill (the prompt) and decode (one token per step).

Each op's FLOPs and bytes come from its shapes; with the machine's limits
(measured once by 'gpt2bench calibrate', cached) each op is marked memory-
or compute-bound with its share of the relevant limit. The report also
shows the Go runtime's GC and scheduling activity per phase, whether the
slowest inter-token gaps contain GC pauses, and what the tracing cost.

pprof labels phase, layer and op are set while ops run, so
  gpt2bench profile --cpuprofile cpu.pprof && go tool pprof -tagfocus='layer=^3$' -top cpu.pprof
works (the worker pool's share of each parallel op carries the labels too).
With --backend cuda (a binary built with -tags cuda) each op's GPU time
comes from CUDA events recorded between the ops inside the step's CUDA
graph, so the step runs as it does untraced; the roofline is the GPU's
nominal memory bandwidth and float32 peak from its clocks.
--step-decodes D and --step-chunk C profile one step of the continuous-
batching engine instead of a generation: D sequences holding --input-len
cached positions decode a token each, beside a prompt chunk of C tokens,
all in one ragged forward pass (phase "step"; cpu backend).
--timeline writes the profiled generation as Chrome trace-event JSON for
ui.perfetto.dev or chrome://tracing; --trace adds per-op regions to the Go
execution trace (go tool trace).`,
		Example: `  gpt2bench profile                               # embedded default: gpt2 shapes, random weights
  gpt2bench profile --model gpt2 --input-len 128 --output-len 32
  gpt2bench profile --timeline gen.json --format markdown > profile.md
  gpt2bench profile --cpuprofile cpu.pprof && go tool pprof -tagfocus=op=qkv -top cpu.pprof
  gpt2bench profile --step-decodes 7 --step-chunk 128 --input-len 256   # one engine step
  gpt2bench profile --backend cuda --dtype f16    # -tags cuda binary on a GPU machine`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(inputLens) != 1 {
				return usagef("--input-len: profile runs one input length, got %d (bench sweeps several)", len(inputLens))
			}
			inputLen = inputLens[0]
			switch {
			case inputLen < 1:
				return usagef("--input-len %d: want >= 1", inputLen)
			case outputLen < 1:
				return usagef("--output-len %d: want >= 1", outputLen)
			case warmup < 0:
				return usagef("--warmup %d: want >= 0", warmup)
			case overheadPairs < 0:
				return usagef("--overhead-runs %d: want >= 0", overheadPairs)
			case stepDecodes < 0 || stepChunk < 0:
				return usagef("--step-decodes %d, --step-chunk %d: want >= 0", stepDecodes, stepChunk)
			case (stepDecodes > 0 || stepChunk > 0) && mf.backend != "cpu":
				return usagef("--step-decodes/--step-chunk: the engine's ragged step runs on the cpu backend only, not %s", mf.backend)
			}
			f, err := parseProfileFormat(format)
			if err != nil {
				return err
			}
			if err := mf.validate(); err != nil {
				return err
			}
			return runProfile(cmd.Context(), a, &mf, profileRun{
				inputLen: inputLen, outputLen: outputLen, timeline: timeline, format: f,
				warmup: warmup, overheadPairs: overheadPairs, labels: labels, noCalibrate: noCalibrate, seed: seed,
				stepDecodes: stepDecodes, stepChunk: stepChunk,
			})
		},
	}
	fl := cmd.Flags()
	mf.register(fl)
	fl.IntSliceVar(&inputLens, "input-len", []int{128}, "prompt length in tokens (random token ids); one value")
	fl.IntVar(&outputLen, "output-len", 32, "tokens to generate: 1 prefill step and N-1 decode steps")
	fl.StringVar(&timeline, "timeline", "", "write the profiled generation as Chrome trace-event JSON to `FILE` (ui.perfetto.dev, chrome://tracing)")
	fl.StringVar(&format, "format", "table", "output format: table, json or markdown")
	fl.IntVar(&warmup, "warmup", 1, "untimed generations before the profiled one")
	fl.IntVar(&overheadPairs, "overhead-runs", 2, "generations without and with the tracer, each, to measure its overhead (0 = skip)")
	fl.BoolVar(&labels, "labels", true, "set pprof labels phase, layer and op while ops run")
	fl.BoolVar(&noCalibrate, "no-calibrate", false, "use cached machine limits only; never measure them here")
	fl.IntVar(&stepDecodes, "step-decodes", 0, "profile one engine step instead: this many sequences decoding at depth --input-len ...")
	fl.IntVar(&stepChunk, "step-chunk", 0, "... beside a prompt chunk of this many tokens")
	fl.Uint64Var(&seed, "seed", uint64(bench.DefaultOptions().Seed), "seed of the random prompt")
	aliasFlags(fl, map[string]string{"input-lengths": "input-len"})
	return cmd
}

type profileRun struct {
	inputLen, outputLen int
	timeline            string
	format              profile.Format
	warmup              int
	overheadPairs       int
	labels, noCalibrate bool
	seed                uint64
	stepDecodes         int // > 0 or stepChunk > 0: profile one ragged engine step
	stepChunk           int
}

func parseProfileFormat(s string) (profile.Format, error) {
	switch s {
	case "table", "text":
		return profile.FormatTable, nil
	case "json":
		return profile.FormatJSON, nil
	case "markdown", "md":
		return profile.FormatMarkdown, nil
	}
	return "", usagef("--format %q: want table, json or markdown", s)
}

func runProfile(ctx context.Context, a *app, mf *modelFlags, r profileRun) error {
	e, err := mf.open(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	tgt, err := e.profileTarget(ctx, a, !r.noCalibrate)
	if err != nil {
		return err
	}
	cfg := e.Config()
	if need := r.inputLen + r.outputLen - 1; need > cfg.NPositions {
		return usagef("--input-len %d + --output-len %d needs %d positions, context is %d; lower one of them", r.inputLen, r.outputLen, need, cfg.NPositions)
	}
	fmt.Fprintln(a.stderr, e.Describe())
	if r.stepDecodes > 0 || r.stepChunk > 0 {
		return runStepProfile(ctx, a, e, tgt, r)
	}
	be, err := e.NewSession(1, min(r.inputLen+r.outputLen, cfg.NPositions))
	if err != nil {
		return err
	}
	defer be.Close()
	tb, ok := be.(profile.Traceable)
	if !ok {
		return profile.ErrNotTraceable
	}
	var tl *profile.Timeline
	if r.timeline != "" {
		tl = profile.NewTimeline("gpt2bench " + e.W.Name)
	}
	fmt.Fprintf(a.stderr, "profiling: %d warm-up, 1 traced and %d+%d overhead generations of %d+%d tokens\n",
		r.warmup, r.overheadPairs, r.overheadPairs, r.inputLen, r.outputLen)
	p, err := profile.Run(ctx, tb, profile.RunOptions{
		InputLen: r.inputLen, OutputLen: r.outputLen, Seed: r.seed,
		Warmup: warmupRuns(r.warmup), OverheadPairs: r.overheadPairs,
		Timeline: tl, Labels: r.labels,
		Info:                profile.Info{Model: e.W.Name, DType: e.DType.String(), Threads: tgt.threads, Device: tgt.device, Limits: tgt.limits},
		WeightBytesPerValue: model.WeightBytesPerValue(e.DType),
	})
	if err != nil {
		return err
	}
	if err := tgt.recheck(ctx, a, p); err != nil {
		return err
	}
	if tl != nil {
		if err := atomicfile.Write(r.timeline, tl.WriteJSON); err != nil {
			return fmt.Errorf("--timeline: %w", err)
		}
		fmt.Fprintf(a.stderr, "timeline: %d events written to %s (open in ui.perfetto.dev or chrome://tracing)\n", tl.Len(), r.timeline)
	}
	return p.Write(a.stdout, r.format)
}

// profileTarget returns where e's profile runs: on a GPU its nominal
// limits and name, on the CPU this machine's calibrated limits (measured
// once when measure is set) and the kernels' threads.
func (e *engine) profileTarget(ctx context.Context, a *app, measure bool) (profileTarget, error) {
	if e.gpu != nil {
		info := e.gpu.Info()
		return profileTarget{limits: gpuLimits(info), device: gpuName(info), threads: 1}, nil
	}
	limits, cached, err := machineLimits(ctx, a, measure)
	if err != nil {
		return profileTarget{}, err
	}
	return profileTarget{limits: limits, threads: e.Threads(), cached: cached && measure}, nil
}

// aboveLimit is the share of a calibrated limit beyond which a phase's
// figure says the calibration was low rather than the code fast: decode
// reads 95-103% of a good calibration (README).
const aboveLimit = 1.05

// recheck measures the limits again when p reads above aboveLimit of
// cached ones (measured on a busy machine, they are low) and places p on
// the new calibration, which is cached when steady.
func (tgt *profileTarget) recheck(ctx context.Context, a *app, p *profile.Profile) error {
	phase, what, share := p.AboveLimits(aboveLimit)
	if phase == "" || !tgt.cached || tgt.limits == nil {
		return nil
	}
	fmt.Fprintf(a.stderr, "%s ran at %.0f%% of the cached %s (calibrated %s): that calibration was low; measuring again\n",
		phase, 100*share, what, tgt.limits.MeasuredAt.Format("2006-01-02 15:04 MST"))
	path, err := profile.DefaultLimitsPath()
	if err != nil {
		return nil
	}
	l, err := calibrate(ctx, a, tgt.calib, path)
	if err != nil {
		return err
	}
	tgt.limits, tgt.cached = l, false
	p.SetLimits(l)
	return nil
}

// warmupRuns maps --warmup to RunOptions.Warmup, where 0 means the default.
func warmupRuns(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// machineLimits returns the cached limits of this machine (cached true);
// when none are cached and measure is set, it calibrates (a few seconds)
// and caches them if they are steady. Without limits it warns and returns
// nil: the profile then has no roofline columns.
func machineLimits(ctx context.Context, a *app, measure bool) (l *profile.Limits, cached bool, err error) {
	path, err := profile.DefaultLimitsPath()
	if err != nil {
		fmt.Fprintf(a.stderr, "warning: %v; no roofline\n", err)
		return nil, false, nil
	}
	l, err = profile.LoadLimits(path, profile.MachineKey())
	if err == nil {
		return l, true, nil
	}
	if !measure {
		fmt.Fprintf(a.stderr, "warning: %v; profiling without the roofline\n", err)
		return nil, false, nil
	}
	if !errors.Is(err, profile.ErrNoLimits) {
		fmt.Fprintf(a.stderr, "warning: %v; measuring again\n", err)
	}
	fmt.Fprintln(a.stderr, "no machine limits cached: calibrating once (see 'gpt2bench calibrate')")
	l, err = calibrate(ctx, a, profile.CalibrateOptions{}, path)
	if err != nil {
		return nil, false, err
	}
	return l, false, nil
}

// calibrate measures the limits and caches them unless they are unsteady
// (measured while other work ran): a low ceiling cached for good would
// make every later profile read above 100%.
func calibrate(ctx context.Context, a *app, opts profile.CalibrateOptions, path string) (*profile.Limits, error) {
	opts.Progress = func(msg string) { fmt.Fprintf(a.stderr, "calibrate: %s\n", msg) }
	l, err := profile.Calibrate(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, w := range l.Warnings() {
		fmt.Fprintf(a.stderr, "warning: %s; 'gpt2bench calibrate --force' on a quiet machine measures again\n", w)
	}
	if why := l.Unsteady(); why != "" {
		fmt.Fprintf(a.stderr, "calibrate: not cached, the machine was busy (%s); used for this run only\n", why)
		return l, nil
	}
	if err := profile.SaveLimits(path, l); err != nil {
		fmt.Fprintf(a.stderr, "warning: limits not cached: %v\n", err)
	} else {
		fmt.Fprintf(a.stderr, "calibrate: cached in %s\n", path)
	}
	return l, nil
}

func newCalibrateCmd(a *app) *cobra.Command {
	var (
		force    bool
		runs     int
		bufferMB int
		threads  int
		format   string
	)
	cmd := &cobra.Command{
		Use:   "calibrate [--force]",
		Short: "Measure this machine's memory bandwidth and float32 FMA peak (cached)",
		Long: `calibrate measures the limits that 'gpt2bench profile' places each op against:
memory read bandwidth (a vectorised sum streaming a 512 MiB float32 slice)
and peak float32 FMA rate (independent AVX2 FMA chains in registers), each
on one core and on all cores, several runs (the best run is the limit,
since other load only lowers a ceiling; median and spread show the
run-to-run variation). The result is cached in the user cache
directory (e.g. ~/.cache/gpt2bench/limits.json) under this machine's CPU
model and core count; later runs print the cached values unless --force.
Other load on the machine lowers the numbers: calibrate on a quiet machine.`,
		Example: `  gpt2bench calibrate
  gpt2bench calibrate --force --repeats 11 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case runs < 1:
				return usagef("--repeats %d: want >= 1", runs)
			case bufferMB < 1:
				return usagef("--buffer-mb %d: want >= 1 (512 defeats every cache)", bufferMB)
			case threads < 0:
				return usagef("--threads %d: want >= 0 (0 = all %d cores)", threads, runtime.NumCPU())
			case format != "table" && format != "json":
				return usagef("--format %q: want table or json", format)
			}
			path, err := profile.DefaultLimitsPath()
			if err != nil {
				return err
			}
			var l *profile.Limits
			if !force {
				if l, err = profile.LoadLimits(path, profile.MachineKey()); err == nil {
					fmt.Fprintf(a.stderr, "cached in %s (measured %s); --force measures again\n", path, l.MeasuredAt.Format("2006-01-02 15:04 MST"))
				}
			}
			if l == nil {
				l, err = calibrate(cmd.Context(), a, profile.CalibrateOptions{BufferBytes: int64(bufferMB) << 20, Runs: runs, Threads: threads}, path)
				if err != nil {
					return err
				}
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(l)
			}
			return writeLimits(a.stdout, l)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&force, "force", false, "measure again even when limits are cached")
	fl.IntVar(&runs, "repeats", 7, "repetitions of each measurement (the best is the limit)")
	fl.IntVar(&bufferMB, "buffer-mb", 512, "size of the slice streamed for bandwidth, in MiB")
	fl.IntVar(&threads, "threads", 0, "goroutines of the all-cores measurements (0 = all cores)")
	fl.StringVar(&format, "format", "table", "output format: table or json")
	aliasFlags(fl, map[string]string{"runs": "repeats"}) // --runs means measured generations in bench
	return cmd
}

// writeLimits prints the limits as a small table.
func writeLimits(w io.Writer, l *profile.Limits) error {
	fmt.Fprintf(w, "machine  %s  (%s kernels, %d MiB buffer, measured %s)\n\n", l.Key, l.Kernel, l.BufferBytes>>20, l.MeasuredAt.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "%-28s %10s %10s %10s %7s %5s\n", "limit", "best", "median", "worst", "spread", "runs")
	rows := []struct {
		name string
		m    profile.Measure
		unit string
	}{
		{"memory read, 1 core", l.MemRead1Core, "GB/s"},
		{fmt.Sprintf("memory read, %d cores", l.Cores), l.MemReadAll, "GB/s"},
		{"float32 FMA peak, 1 core", l.Peak1Core, "GFLOP/s"},
		{fmt.Sprintf("float32 FMA peak, %d cores", l.Cores), l.PeakAll, "GFLOP/s"},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-28s %10.1f %10.1f %10.1f %6.1f%% %5d  %s\n", r.name, r.m.Limit(), r.m.Median, r.m.Min, 100*r.m.Spread, len(r.m.Samples), r.unit)
	}
	bal1, balN := 0.0, 0.0
	if l.MemRead1Core.Limit() > 0 {
		bal1 = l.Peak1Core.Limit() / l.MemRead1Core.Limit()
	}
	if l.MemReadAll.Limit() > 0 {
		balN = l.PeakAll.Limit() / l.MemReadAll.Limit()
	}
	_, err := fmt.Fprintf(w, "\nlimits are the best run (other load only lowers them); machine balance: %.1f FLOP/byte on 1 core, %.1f on %d cores (ops below it are memory-bound)\n", bal1, balN, l.Cores)
	return err
}

// runStepProfile profiles one ragged step of the continuous-batching
// engine: r.stepDecodes sequences at depth r.inputLen decoding beside a
// prompt chunk of r.stepChunk tokens.
func runStepProfile(ctx context.Context, a *app, e *engine, tgt profileTarget, r profileRun) error {
	cfg := e.Config()
	if r.stepDecodes > 0 && r.inputLen+1 > cfg.NPositions {
		return usagef("--input-len %d: a decode at that depth needs %d positions, context is %d", r.inputLen, r.inputLen+1, cfg.NPositions)
	}
	if r.stepChunk > cfg.NPositions {
		return usagef("--step-chunk %d: context is %d", r.stepChunk, cfg.NPositions)
	}
	var tl *profile.Timeline
	if r.timeline != "" {
		tl = profile.NewTimeline("gpt2bench " + e.W.Name + " engine step")
	}
	opts := profile.StepOptions{
		Decodes: r.stepDecodes, Depth: r.inputLen, Chunk: r.stepChunk, Seed: r.seed, Labels: r.labels, Timeline: tl,
		Warmup:              warmupRuns(r.warmup),
		Info:                profile.Info{Model: e.W.Name, DType: e.DType.String(), Threads: tgt.threads, Device: tgt.device, Limits: tgt.limits},
		WeightBytesPerValue: model.WeightBytesPerValue(e.DType),
	}
	kv, err := model.NewKVBlocksOf(cfg, e.cpu.KVDType(), profile.StepBlockSize, profile.StepBlocks(opts))
	if err != nil {
		return err
	}
	rg, err := e.cpu.NewRagged(kv)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "profiling one engine step: %d decodes at depth %d and a %d-token prompt chunk (%d rows), 3 traced runs\n",
		r.stepDecodes, r.inputLen, r.stepChunk, r.stepDecodes+r.stepChunk)
	p, err := profile.RunStep(ctx, rg, opts)
	if err != nil {
		return err
	}
	if tl != nil {
		if err := atomicfile.Write(r.timeline, tl.WriteJSON); err != nil {
			return fmt.Errorf("--timeline: %w", err)
		}
	}
	return p.Write(a.stdout, r.format)
}
