package bench

import (
	"context"
	"errors"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// countingProgress records the steps Run reports.
type countingProgress struct {
	tasks, steps, open int
}

func (p *countingProgress) Start(string, int) { p.tasks++; p.open++ }
func (p *countingProgress) Add(n int)         { p.steps += n }
func (p *countingProgress) Finish()           { p.open-- }

func tinyEnv(t *testing.T) Env {
	m := newTinyModel(t, tinyConfig, tensor.F32)
	return Env{
		Engine:        cpuEngine{m},
		ModelName:     "tiny",
		WeightsBytes:  WeightsBytesByDType(tinyConfig, tensor.F32),
		System:        SystemInfo("cpu", "test"),
		Metadata:      report.Metadata{Device: "cpu", DType: "float32", RandomWeights: true, CommandLine: []string{"gpt2bench", "bench"}},
		Now:           func() time.Time { return time.Date(2026, 1, 28, 17, 1, 52, 0, time.UTC) },
		NewContinuous: func(c engine.Config) (*engine.Engine, error) { return engine.New(m, c) },
	}
}

func validate(t *testing.T, r *report.Report) {
	t.Helper()
	data, err := report.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Validate(data); err != nil {
		t.Fatalf("report does not validate: %v", err)
	}
}

func TestRunAllPhases(t *testing.T) {
	env := tinyEnv(t)
	prog := &countingProgress{}
	env.Progress = prog
	opts := QuickOptions()
	opts.InputLens = []int{8, 60, 16} // 60 + 16 - 1 > 64: skipped
	opts.OutputLen = 6
	opts.Concurrency = []int{1, 2}
	opts.BatchSizes = []int{1, 3}
	opts.Continuous = []int{3}
	opts.RequestRate = 500
	r, err := Run(context.Background(), env, opts)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, r)
	if r.Incomplete {
		t.Errorf("report incomplete: %s", r.IncompleteReason)
	}
	if len(r.Latency) != 2 || r.Latency[0].InputLen != 8 || r.Latency[1].InputLen != 16 {
		t.Fatalf("latency input lengths: %+v, want 8 and 16", r.Latency)
	}
	for _, l := range r.Latency {
		if l.Runs != 3 || l.TTFT.N != 3 || l.ITL.N != 3*5 || l.TPOT.N != 3 {
			t.Errorf("input %d: runs %d, TTFT n %d, ITL n %d, TPOT n %d; want 3, 3, 15, 3 (warm-up never counted)", l.InputLen, l.Runs, l.TTFT.N, l.ITL.N, l.TPOT.N)
		}
		if l.DecodeTokensPerS.Mean <= 0 || l.PrefillTokensPerS.Mean <= 0 {
			t.Errorf("input %d: decode %v, prefill %v tok/s, want > 0", l.InputLen, l.DecodeTokensPerS.Mean, l.PrefillTokensPerS.Mean)
		}
	}
	if len(r.Skipped) != 2 || r.Skipped[0].InputLen != 60 { // latency and memory
		t.Errorf("skipped = %+v, want input 60 in latency and memory", r.Skipped)
	}
	// memory: inputs 8 and 16 at batch 1, input 8 at batch 3.
	if len(r.Memory) != 3 || r.Memory[2].BatchSize != 3 {
		t.Fatalf("memory settings = %d, want 3 (last at batch 3)", len(r.Memory))
	}
	m := r.Memory[0]
	if want := KVCacheBytes(tinyConfig, 1, 8+6-1, 4); m.KVCacheAnalyticBytes != want {
		t.Errorf("KV analytic = %d, want %d", m.KVCacheAnalyticBytes, want)
	}
	if want := KVCacheBytes(tinyConfig, 1, tinyConfig.NPositions, 4); m.KVCacheAllocatedBytes != want {
		t.Errorf("KV allocated = %d, want %d (a full-context cache)", m.KVCacheAllocatedBytes, want)
	}
	if m.InferencePeakRSSBytes <= 0 || m.HeapInUseBytes <= 0 {
		t.Errorf("peak RSS %d, heap %d, want > 0", m.InferencePeakRSSBytes, m.HeapInUseBytes)
	}
	// throughput: single, concurrent 2, batched 3, continuous 3, continuous at 500 req/s.
	if len(r.Throughput) != 5 {
		t.Fatalf("throughput rows = %d, want 5", len(r.Throughput))
	}
	want := []struct {
		mode            string
		conc, batch, rq int
	}{{report.ModeSingle, 1, 1, 3}, {report.ModeConcurrent, 2, 1, 6}, {report.ModeBatched, 1, 3, 9}, {report.ModeContinuous, 3, 1, 9}, {report.ModeContinuous, 0, 1, 24}}
	for i, w := range want {
		tp := r.Throughput[i]
		if tp.Mode != w.mode || tp.Concurrency != w.conc || tp.BatchSize != w.batch || tp.Requests != w.rq || tp.Failed != 0 {
			t.Errorf("throughput %d = %s c%d b%d, %d requests (%d failed); want %s c%d b%d, %d requests", i, tp.Mode, tp.Concurrency, tp.BatchSize, tp.Requests, tp.Failed, w.mode, w.conc, w.batch, w.rq)
		}
		if tp.InputLen != 8 || tp.OutputTokensPerS <= 0 || tp.DurationS <= 0 {
			t.Errorf("throughput %d: input %d, %v tok/s over %v s", i, tp.InputLen, tp.OutputTokensPerS, tp.DurationS)
		}
	}
	for _, tp := range r.Throughput[3:] {
		if tp.TTFT == nil || tp.TTFT.N != tp.Requests || tp.TPOT.N != tp.Requests || tp.ITL.N != tp.Requests*5 || tp.ITL.SampleUnit != report.UnitTokenGap {
			t.Errorf("continuous c%d rate %g: TTFT %+v TPOT %+v ITL n %d", tp.Concurrency, tp.RequestRate, tp.TTFT, tp.TPOT, tp.ITL.N)
			continue
		}
		if tp.TTFT.Min < 0 || tp.Latency.Min < tp.TTFT.Min {
			t.Errorf("continuous c%d rate %g: TTFT min %g ms, latency min %g ms", tp.Concurrency, tp.RequestRate, tp.TTFT.Min, tp.Latency.Min)
		}
		if e := tp.Engine; e == nil || e.Steps == 0 || e.DecodeRows == 0 || e.PrefillRows == 0 || e.ForwardShare <= 0 {
			t.Errorf("continuous engine steps: %+v", tp.Engine)
		}
	}
	if r.Throughput[4].RequestRate != 500 {
		t.Errorf("open-loop rate = %g, want 500", r.Throughput[4].RequestRate)
	}
	if prog.open != 0 || prog.tasks != 2+3+5 {
		t.Errorf("progress: %d tasks, %d left open; want 10, 0", prog.tasks, prog.open)
	}
	if r.Metadata.Warmup != 1 || r.Metadata.Runs != 3 || !r.Metadata.Quick || r.Metadata.Seed != 42 {
		t.Errorf("metadata = %+v", r.Metadata)
	}
}

func TestRunRefusesTooLong(t *testing.T) {
	opts := QuickOptions()
	opts.InputLens = []int{64}
	_, err := Run(context.Background(), tinyEnv(t), opts)
	var ce *ContextError
	if !errors.As(err, &ce) {
		t.Fatalf("Run = %v, want a *ContextError", err)
	}
}

// cancelAfter cancels its context after n forward calls.
type cancelAfter struct {
	model.Backend
	n      *int
	cancel context.CancelFunc
}

func (c cancelAfter) Forward(ctx context.Context, tokens [][]int32, logits []float32) error {
	*c.n--
	if *c.n == 0 {
		c.cancel()
	}
	return c.Backend.Forward(ctx, tokens, logits)
}

type cancellingEngine struct {
	cpuEngine
	n      *int
	cancel context.CancelFunc
}

func (e cancellingEngine) NewSession(batch, capacity int) (model.Backend, error) {
	be, err := e.cpuEngine.NewSession(batch, capacity)
	return cancelAfter{be, e.n, e.cancel}, err
}

func TestRunInterrupted(t *testing.T) {
	env := tinyEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := QuickOptions()
	opts.InputLens = []int{8, 16}
	opts.OutputLen = 4
	// 4 generations of 4 forward calls at input 8, then 2 into input 16.
	n := 4*4 + 2*4 + 2
	env.Engine = cancellingEngine{env.Engine.(cpuEngine), &n, cancel}
	r, err := Run(ctx, env, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if r == nil || !r.Incomplete || !strings.Contains(r.IncompleteReason, "interrupted during the latency phase") {
		t.Fatalf("report = %+v, want incomplete, interrupted during latency", r)
	}
	validate(t, r)
	if len(r.Latency) != 2 || r.Latency[0].Runs != 3 || r.Latency[1].Runs != 1 {
		t.Errorf("latency = %d settings, want input 8 complete and input 16 with its 1 finished run", len(r.Latency))
	}
	if len(r.Memory) != 0 || len(r.Throughput) != 0 {
		t.Error("phases after the interruption ran")
	}
}

func TestWeightsBytesByDType(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.Q8, tensor.Q4} {
		t.Run(dt.String(), func(t *testing.T) {
			m := newTinyModel(t, tinyConfig, dt)
			var sum int64
			for _, v := range WeightsBytesByDType(tinyConfig, dt) {
				sum += v
			}
			if sum != m.WeightBytes() {
				t.Errorf("sum by dtype = %d, Model.WeightBytes = %d", sum, m.WeightBytes())
			}
		})
	}
}

func TestKVCacheBytes(t *testing.T) {
	// gpt2: 2 x 12 layers x 1024 tokens x 768 x 4 bytes = 72 MiB.
	if got, want := KVCacheBytes(model.GPT2(), 1, 1024, 4), int64(2*12*1024*768*4); got != want {
		t.Errorf("KVCacheBytes = %d, want %d", got, want)
	}
}

func TestSystemInfo(t *testing.T) {
	s := SystemInfo("cpu", "v0.1.0")
	if s.OS == "" || s.Arch == "" || s.GoVersion == "" || s.Cores < 1 || s.GOMAXPROCS < 1 || s.CPUFeatures == nil {
		t.Errorf("incomplete system info: %+v", s)
	}
	if s.ToolVersion != "v0.1.0" || !strings.HasPrefix(s.Backend, "cpu-") {
		t.Errorf("tool version %q, backend %q", s.ToolVersion, s.Backend)
	}
}

func TestMeasureLoad(t *testing.T) {
	var keep []byte
	lm, err := MeasureLoad(func() error {
		keep = make([]byte, 64<<20)
		for i := range keep {
			keep[i] = 1 // touch it, so it is resident
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lm.HeapDeltaBytes < 60<<20 {
		t.Errorf("heap delta %d, want >= 60 MiB after keeping 64 MiB", lm.HeapDeltaBytes)
	}
	if _, err := currentRSS(); err == nil && lm.PeakRSSBytes < 64<<20 {
		t.Errorf("peak RSS %d, want >= 64 MiB", lm.PeakRSSBytes)
	}
	_ = keep[len(keep)-1]
}

func TestSamplerDoesNotAllocate(t *testing.T) {
	s := &memSampler{rss: newRSSReader(), heap: []metrics.Sample{{Name: metricHeapObjects}}} // no goroutine
	defer s.rss.close()
	if n := testing.AllocsPerRun(20, s.sample); n != 0 {
		t.Errorf("a memory sample allocates %v times, want 0 (it would count in allocations per token)", n)
	}
}

// countingTracer counts the steps and ops it receives.
type countingTracer struct{ steps, ops int }

func (c *countingTracer) BeginStep(model.Step)  { c.steps++ }
func (c *countingTracer) BeginOp(int, model.Op) { c.ops++ }
func (c *countingTracer) EndOp(int, model.Op)   {}
func (c *countingTracer) EndStep()              {}

func TestRunTracer(t *testing.T) {
	env := tinyEnv(t)
	tr := &countingTracer{}
	env.Tracer = tr
	opts := QuickOptions()
	opts.Phases = []Phase{PhaseLatency}
	opts.InputLens = []int{8}
	opts.OutputLen = 4
	if _, err := Run(context.Background(), env, opts); err != nil {
		t.Fatal(err)
	}
	// 3 measured runs of 4 forward steps each; the warm-up is not traced.
	if tr.steps != 3*4 || tr.ops == 0 {
		t.Errorf("tracer got %d steps, %d ops; want 12 steps and some ops", tr.steps, tr.ops)
	}
}

// failingBackend fails every Forward with errTest and counts the calls.
type failingBackend struct {
	model.Backend
	calls *atomic.Int32
}

func (f failingBackend) Forward(context.Context, [][]int32, []float32) error {
	f.calls.Add(1)
	return errTest
}

type failingEngine struct {
	cpuEngine
	calls *atomic.Int32
}

func (e failingEngine) NewSession(batch, capacity int) (model.Backend, error) {
	be, err := e.cpuEngine.NewSession(batch, capacity)
	return failingBackend{be, e.calls}, err
}

// TestThroughputWarmupFails checks that a failed warm-up stops the mode
// before any measured request.
func TestThroughputWarmupFails(t *testing.T) {
	env := tinyEnv(t)
	calls := &atomic.Int32{}
	env.Engine = failingEngine{env.Engine.(cpuEngine), calls}
	opts := QuickOptions()
	opts.Phases = []Phase{PhaseThroughput}
	opts.InputLens = []int{8}
	opts.OutputLen = 4
	opts.Warmup = 1
	r, err := Run(context.Background(), env, opts)
	if !errors.Is(err, errTest) || !strings.Contains(err.Error(), "warm-up") {
		t.Fatalf("Run = %v, want a warm-up error wrapping errTest", err)
	}
	if r == nil || !r.Incomplete || len(r.Throughput) != 0 {
		t.Errorf("report = %+v, want incomplete with no throughput entries", r)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d forward calls, want 1 (the failed warm-up; no measured runs after it)", n)
	}
}
