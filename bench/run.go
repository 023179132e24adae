package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/model"
)

// Engine is a loaded model: one set of weights from which any number of
// sessions (each its own KV cache, one goroutine at a time) can be made.
// A session may implement KVBytes() int64 to report its cache size, and an
// Engine on a GPU may implement DeviceMemory.
type Engine interface {
	// NewSession returns a backend for batch sequences of up to capacity
	// positions each (0 = n_positions).
	NewSession(batch, capacity int) (model.Backend, error)
	// Config returns the architecture.
	Config() model.Config
}

// Progress follows Run's work: one task per setting, stepped once per
// generation (between runs, never inside a timed one). Calls come from one
// goroutine at a time.
type Progress interface {
	Start(title string, total int) // a new task of total steps
	Add(n int)                     // n more steps done
	Finish()                       // the task is over (complete or not)
}

// Env is what Run benchmarks and records besides the measurements.
type Env struct {
	Engine    Engine
	ModelName string
	// WeightsBytes is the memory of the weights by dtype ("float32", "float16", "int8", "float64").
	WeightsBytes map[string]int64
	// KVElemBytes is the size of one KV-cache element: 0 means 4 (float32,
	// the CPU and GPU backends); the float64 reference backend uses 8.
	KVElemBytes int
	// Load is the cost of loading the model, measured by MeasureLoad.
	Load LoadMemory
	// GPUUsedBefore is device memory in use before the model was loaded
	// (GPU engines only).
	GPUUsedBefore int64
	System        report.SystemInfo
	// Metadata is copied to the report; Run fills Quick, Warmup, Runs and Seed.
	Metadata report.Metadata
	Progress Progress // nil for none
	// Tracer, if set, receives every op of the latency phase's measured
	// runs (batch 1, one goroutine; the other phases run untraced): the hook
	// for per-op profiles. It is installed on sessions that have
	// SetTracer(model.Tracer), as model.Session does. Tracing costs time.
	Tracer model.Tracer
	Now    func() time.Time // the report's timestamp; nil means time.Now
	// NewContinuous starts a continuous-batching engine on the loaded
	// model for the continuous mode; nil when the backend has no ragged
	// step (the mode then fails with ErrNoRaggedStep).
	NewContinuous func(engine.Config) (*engine.Engine, error)
}

// kvBytes is implemented by sessions that report their KV-cache size.
type kvBytes interface{ KVBytes() int64 }

// Run benchmarks env.Engine with opts and returns the report. Input
// lengths that do not fit the context are skipped and listed in the report;
// when none fits it returns a *ContextError and no report. When ctx is
// cancelled or a phase fails, Run stops, marks the report incomplete with the
// reason, and returns it together with the error, so the caller can still
// write it.
func Run(ctx context.Context, env Env, opts Options) (*report.Report, error) {
	if env.Engine == nil {
		return nil, errors.New("bench: no engine")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cfg := env.Engine.Config()
	plan, err := opts.PlanFor(cfg.NPositions)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if env.Now != nil {
		now = env.Now
	}
	md := env.Metadata
	md.Quick, md.Warmup, md.Runs, md.Seed = opts.Quick, opts.Warmup, opts.Runs, opts.Seed
	if md.CommandLine == nil {
		md.CommandLine = []string{}
	}
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		ModelName:     env.ModelName,
		Timestamp:     now().UTC().Truncate(time.Second),
		SystemInfo:    env.System,
		Latency:       []report.Latency{},
		Memory:        []report.Memory{},
		Throughput:    []report.Throughput{},
		Metadata:      md,
	}
	if r.SystemInfo.CPUFeatures == nil {
		r.SystemInfo.CPUFeatures = []string{}
	}
	for _, p := range AllPhases {
		if p == PhaseThroughput || !opts.Has(p) {
			continue // throughput runs at the first length that fits
		}
		for _, s := range plan.Skipped {
			r.Skipped = append(r.Skipped, report.Skipped{Phase: string(p), InputLen: s.InputLen, Reason: s.Reason})
		}
	}
	b := &runner{env: env, opts: opts, plan: plan, cfg: cfg, r: r}
	for _, p := range AllPhases {
		if !opts.Has(p) {
			continue
		}
		var err error
		switch p {
		case PhaseLatency:
			err = b.latencyPhase(ctx)
		case PhaseMemory:
			err = b.memoryPhase(ctx)
		case PhaseThroughput:
			err = b.throughputPhase(ctx)
		}
		if err != nil {
			r.Incomplete = true
			if ctx.Err() != nil {
				r.IncompleteReason = fmt.Sprintf("interrupted during the %s phase (%v); later phases not run", p, context.Cause(ctx))
				return r, fmt.Errorf("bench: %s phase: %w", p, context.Cause(ctx))
			}
			r.IncompleteReason = fmt.Sprintf("%s phase failed: %v; later phases not run", p, err)
			return r, fmt.Errorf("bench: %s phase: %w", p, err)
		}
	}
	return r, nil
}

// runner holds one Run's state.
type runner struct {
	env  Env
	opts Options
	plan Plan
	cfg  model.Config
	r    *report.Report
}

func (b *runner) start(title string, total int) {
	if b.env.Progress != nil {
		b.env.Progress.Start(title, total)
	}
}

func (b *runner) step() {
	if b.env.Progress != nil {
		b.env.Progress.Add(1)
	}
}

func (b *runner) finish() {
	if b.env.Progress != nil {
		b.env.Progress.Finish()
	}
}

// Prompt streams: distinct, reproducible prompts per phase and setting.
const (
	streamLatency    = 1 << 32
	streamMemory     = 2 << 32
	streamThroughput = 3 << 32
)

// prompts returns n prompts of T tokens from stream.
func (b *runner) prompts(stream uint64, n, T int) [][]int32 {
	return Prompts(b.opts.Seed, stream, n, T, b.cfg.VocabSize, b.opts.EOS)
}

// latencyPhase measures every planned input length at batch 1.
func (b *runner) latencyPhase(ctx context.Context) error {
	for _, T := range b.plan.InputLens {
		l, err := b.latency(ctx, T)
		if l.Runs > 0 {
			b.r.Latency = append(b.r.Latency, l)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// latency runs Warmup then Runs generations of one prompt each, batch 1.
// On error it returns the runs measured so far.
func (b *runner) latency(ctx context.Context, T int) (report.Latency, error) {
	N := b.opts.OutputLen
	b.start(fmt.Sprintf("latency  input %d", T), b.opts.Warmup+b.opts.Runs)
	defer b.finish()
	be, err := b.env.Engine.NewSession(1, T+N-1)
	if err != nil {
		return report.Latency{}, err
	}
	defer be.Close()
	prompts := b.prompts(streamLatency+uint64(T), b.opts.Warmup+b.opts.Runs, T)
	tr := b.env.Tracer
	st, traceable := be.(interface{ SetTracer(model.Tracer) })
	runtime.GC()
	for i := range b.opts.Warmup {
		if _, err := timedGenerate(ctx, be, prompts[i:i+1], N, b.opts.Seed, nil, nil); err != nil {
			return report.Latency{}, err
		}
		b.step()
	}
	var runs []RunTiming
	var runErr error
	if traceable && tr != nil {
		st.SetTracer(tr) // measured runs only
		defer st.SetTracer(nil)
	}
	gc0 := readGC()
	for i := range b.opts.Runs {
		rt, err := timedGenerate(ctx, be, prompts[b.opts.Warmup+i:b.opts.Warmup+i+1], N, b.opts.Seed, nil, tr)
		if err != nil {
			runErr = err
			break
		}
		runs = append(runs, rt)
		b.step()
	}
	l := LatencyStats(T, N, runs)
	l.GCCycles, l.GCPauseMs = readGC().sub(gc0)
	return l, runErr
}
