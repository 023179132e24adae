package profile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/trace"
	"slices"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
)

// Traceable is a backend that accepts a model.Tracer: *model.Session, and
// model/cuda's Session (which hands a Tracer that implements
// model.DeviceTracer, as Tracer does, its ops' CUDA-event times).
type Traceable interface {
	model.Backend
	SetTracer(t model.Tracer)
}

// RunOptions control Run.
type RunOptions struct {
	// InputLen is the prompt length (random token ids from Seed unless
	// Prompt is set); OutputLen the tokens generated (1 prefill step and
	// OutputLen-1 decode steps).
	InputLen, OutputLen int
	// Prompt, if set, is the prompt (one sequence); it overrides InputLen.
	Prompt []int32
	// Seed picks the random prompt.
	Seed uint64
	// Warmup is the untimed generations before the traced one; default 1,
	// negative for none.
	Warmup int
	// OverheadPairs is the (untraced, traced) generations run after the
	// profiled one to measure the tracer's overhead; 0 skips them.
	OverheadPairs int
	// Timeline, if set, records the profiled generation.
	Timeline *Timeline
	// Labels sets pprof labels during traced generations.
	Labels bool
	// Info describes the run in the Profile (model, dtype, threads, limits).
	Info Info
	// WeightBytesPerValue is the weight storage (model.WeightBytesPerValue).
	WeightBytesPerValue float64
}

// Run profiles one generation on be: warm-up, then one traced
// generation of OutputLen tokens (greedy) whose per-op profile it returns,
// then OverheadPairs untraced/traced pairs of the same generation to
// measure what tracing costs. be must hold InputLen+OutputLen-1 positions.
func Run(ctx context.Context, be Traceable, opts RunOptions) (*Profile, error) {
	cfg := be.Config()
	prompt := opts.Prompt
	if prompt == nil {
		if opts.InputLen < 1 {
			return nil, fmt.Errorf("profile: input length %d, want >= 1", opts.InputLen)
		}
		rng := rand.New(rand.NewPCG(opts.Seed, 1))
		prompt = make([]int32, opts.InputLen)
		for i := range prompt {
			prompt[i] = int32(rng.IntN(cfg.VocabSize))
		}
	}
	if opts.OutputLen < 1 {
		return nil, fmt.Errorf("profile: output length %d, want >= 1", opts.OutputLen)
	}
	if be.Batch() != 1 {
		return nil, fmt.Errorf("profile: backend has batch %d; profile one sequence (batch 1)", be.Batch())
	}
	info := opts.Info
	info.InputLen, info.OutputLen = len(prompt), opts.OutputLen
	if opts.Warmup == 0 {
		opts.Warmup = 1
	}
	prompts := [][]int32{prompt}
	// Each generation is its own runtime/trace task, named for what it is,
	// so a --trace of the command shows the profiled generation apart from
	// the warm-up and overhead runs.
	gen := func(tr *Tracer, task string) (time.Duration, error) {
		gctx, tk := trace.NewTask(ctx, task)
		defer tk.End()
		g := model.GenerateOptions{MaxNewTokens: opts.OutputLen}
		if tr != nil {
			tr.Reset()
			tr.SetTraceContext(gctx)
			be.SetTracer(tr)
			g.Tracer = tr
			defer be.SetTracer(nil)
			defer tr.ClearTraceContext()
		}
		t0 := time.Now()
		_, err := model.Generate(gctx, be, prompts, g)
		d := time.Since(t0)
		if tr != nil {
			tr.Finish()
		}
		return d, err
	}
	for range max(opts.Warmup, 0) {
		if _, err := gen(nil, "profile: warm-up generation"); err != nil {
			return nil, fmt.Errorf("profile: warm-up: %w", err)
		}
	}
	topts := TracerOptions{
		WeightBytesPerValue: opts.WeightBytesPerValue, Timeline: opts.Timeline,
		Labels: opts.Labels, Context: ctx, Steps: opts.OutputLen,
	}
	tr := NewTracer(cfg, topts)
	if _, err := gen(tr, "profile: profiled generation"); err != nil {
		return nil, fmt.Errorf("profile: traced run: %w", err)
	}
	p := tr.Profile(info)

	// The tracer's cost: a microbenchmark of one op pair with the same
	// options, and the same generation with and without the tracer.
	if opts.Timeline != nil {
		topts.Timeline = NewTimeline("")
	}
	scratch := NewTracer(cfg, topts)
	p.Overhead.PerOpNs = opPairCost(ctx, scratch)
	p.Overhead.EstimatedMs = p.Overhead.PerOpNs * float64(p.Overhead.OpCalls) * 1e-6
	if p.WallMs > 0 {
		p.Overhead.EstimatedShare = p.Overhead.EstimatedMs / p.WallMs
	}
	if opts.OverheadPairs > 0 {
		var off, on []float64
		for range opts.OverheadPairs {
			d, err := gen(nil, "profile: overhead, untraced generation")
			if err != nil {
				return nil, fmt.Errorf("profile: overhead run: %w", err)
			}
			off = append(off, d.Seconds()*1e3)
			if topts.Timeline != nil {
				topts.Timeline.Reset()
			}
			if d, err = gen(scratch, "profile: overhead, traced generation"); err != nil {
				return nil, fmt.Errorf("profile: overhead run: %w", err)
			}
			on = append(on, d.Seconds()*1e3)
		}
		p.Overhead.Pairs = opts.OverheadPairs
		p.Overhead.UntracedMs, p.Overhead.TracedMs = median(off), median(on)
		if p.Overhead.UntracedMs > 0 {
			p.Overhead.MeasuredShare = p.Overhead.TracedMs/p.Overhead.UntracedMs - 1
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// ErrNotTraceable reports a backend without SetTracer.
var ErrNotTraceable = errors.New("profile: this backend cannot be traced; use --backend cpu")

// opPairCost measures the cost in ns of one BeginOp/EndOp pair of t (with
// its options), over a few thousand calls inside one fake step. It resets t.
// Its fake ops make no runtime/trace regions: a user's --trace shows only
// a task saying the calibration ran (with regions on, an op pair would
// cost more here, but also in the traced generation it estimates).
func opPairCost(ctx context.Context, t *Tracer) float64 {
	const calls = 4096
	_, task := trace.NewTask(ctx, "profile: tracer cost calibration (no regions)")
	defer task.End()
	t.noRegions = true
	defer func() { t.noRegions = false }()
	t.Reset()
	if t.opts.Timeline != nil {
		t.opts.Timeline.reserve(calls + 8)
	}
	t.BeginStep(model.Step{B: 1, T: 1, Pos: 1})
	t0 := time.Now()
	for range calls {
		t.BeginOp(0, model.OpGELU)
		t.EndOp(0, model.OpGELU)
	}
	d := time.Since(t0)
	t.EndStep()
	t.Finish()
	t.Reset()
	if t.opts.Timeline != nil {
		t.opts.Timeline.Reset()
	}
	return float64(d.Nanoseconds()) / calls
}

func median(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return percentile(c, 50)
}
