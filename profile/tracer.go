package profile

import (
	"context"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/model"
)

// Phase is prefill (a step that processes a prompt: more than one new
// position, or the first position) or decode (one new position after the
// cache holds some).
type Phase uint8

// The phases, as reports name them.
const (
	Prefill Phase = iota
	Decode
	Mixed // a ragged engine step: decodes and prompt chunks together
	numPhases
)

// String returns the report's phase name: report.PhasePrefill,
// report.PhaseDecode or report.PhaseStep.
func (p Phase) String() string {
	switch p {
	case Decode:
		return report.PhaseDecode
	case Mixed:
		return report.PhaseStep
	}
	return report.PhasePrefill
}

// phaseOf classifies a forward step. A ragged step of decodes only is a
// decode step, one of prompt chunks only a prefill step, and one of both
// a mixed step.
func phaseOf(st model.Step) Phase {
	if st.Ragged {
		switch {
		case st.Decodes == st.B && st.Rows == st.B:
			return Decode
		case st.Decodes == 0:
			return Prefill
		}
		return Mixed
	}
	if st.T == 1 && st.Pos > 0 {
		return Decode
	}
	return Prefill
}

// TracerOptions choose what a Tracer records besides per-op times.
type TracerOptions struct {
	// WeightBytesPerValue is the storage of the weight matrices
	// (model.WeightBytesPerValue); 0 means 4 (float32).
	WeightBytesPerValue float64
	// Timeline, if set, receives one event per op, layer and step.
	Timeline *Timeline
	// Labels sets pprof labels phase, layer and op on the goroutine that
	// calls the Tracer, so a CPU profile can be focused on them
	// (go tool pprof -tagfocus='layer=^3$'). A model.Session passes them on
	// to tensor.Pool's workers for their share of each op.
	Labels bool
	// Context is the base of the labels and is restored by Finish; nil
	// means context.Background().
	Context context.Context
	// Steps is the expected number of forward steps (1 + output length - 1),
	// used to preallocate per-step records and the timeline so tracing
	// allocates nothing; more steps still work.
	Steps int
}

// cell accumulates one (phase, layer, op).
type cell struct {
	calls        int64
	ns           int64
	flops, bytes float64
}

// StepRecord is the timing of one forward step, in nanoseconds since the
// Tracer's epoch.
type StepRecord struct {
	Phase      Phase
	T, Pos     int
	Start, End int64 // BeginStep and EndStep
	OpNs       int64 // time inside ops between them
}

// Tracer implements model.Tracer: it times every op into accumulators
// [phase][layer][op] allocated once, computes each op's FLOPs and bytes
// from the step's shapes (model.OpCost), and optionally records a
// timeline, pprof labels, runtime/trace regions and runtime/metrics
// snapshots at phase boundaries. Ops must not nest (the engine never does).
//
// BeginOp and EndOp do not allocate (tested with testing.AllocsPerRun);
// with runtime/trace enabled, its regions allocate. A Tracer is used by
// one goroutine: the one calling Forward and Generate.
type Tracer struct {
	cfg   model.Config
	opts  TracerOptions
	epoch time.Time
	L     int // layers; layer index l is stored at l+1, layer -1 at 0

	acc  []cell                   // [numPhases][L+1][NumOps]
	cost [model.NumOps][2]float64 // FLOPs, bytes of each op for the current step

	phase    Phase
	started  bool  // a step has begun since Reset
	opStart  int64 // ns of the open op
	stepOpNs int64 // op time within the current step

	steps  []StepRecord
	tokens []int64 // end of each sampling op: a token is available

	// Timeline bookkeeping: the open layer event.
	layerOpen  int
	layerStart int64
	lastEnd    int64

	// pprof labels, precomputed: [numPhases][L+1][NumOps] and per phase.
	base      context.Context
	opCtx     []context.Context
	cur       context.Context // labels set now
	phaseCtx  [numPhases]context.Context
	layerName []string // "3" for layer 3, "" for -1

	// runtime/trace regions, when tracing is on: step, layer, op, under
	// the task of traceCtx (SetTraceContext).
	regions   [3]*trace.Region
	traceCtx  context.Context
	noRegions bool     // opPairCost's fake ops: none
	regionTag []string // "layer 3"

	rt runtimeSampler
}

// NewTracer returns a Tracer for models of architecture cfg.
func NewTracer(cfg model.Config, opts TracerOptions) *Tracer {
	if opts.WeightBytesPerValue == 0 {
		opts.WeightBytesPerValue = 4
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	L := cfg.NLayer
	t := &Tracer{
		cfg: cfg, opts: opts, L: L,
		acc:    make([]cell, int(numPhases)*(L+1)*int(model.NumOps)),
		steps:  make([]StepRecord, 0, max(opts.Steps, 1)),
		tokens: make([]int64, 0, max(opts.Steps, 1)),
		base:   opts.Context,
	}
	t.traceCtx = t.base
	t.layerName = make([]string, L+1)
	t.regionTag = make([]string, L+1)
	for l := range L {
		t.layerName[l+1] = strconv.Itoa(l)
		t.regionTag[l+1] = "layer " + strconv.Itoa(l)
	}
	if opts.Labels {
		t.opCtx = make([]context.Context, len(t.acc))
		for ph := range numPhases {
			t.phaseCtx[ph] = pprof.WithLabels(t.base, pprof.Labels("phase", ph.String()))
			for l := -1; l < L; l++ {
				for op := range model.NumOps {
					lbl := pprof.Labels("phase", ph.String(), "op", op.String())
					if l >= 0 {
						lbl = pprof.Labels("phase", ph.String(), "layer", t.layerName[l+1], "op", op.String())
					}
					t.opCtx[t.index(ph, l, op)] = pprof.WithLabels(t.base, lbl)
				}
			}
		}
	}
	if opts.Timeline != nil {
		opts.Timeline.reserve(max(opts.Steps, 1) * (int(model.NumOps)*(L+1) + L + 2))
	}
	t.rt.init()
	t.Reset()
	return t
}

// SetTraceContext makes ctx, which carries a runtime/trace task
// (trace.NewTask), the parent of the step, layer and op regions from now
// on, so each generation's regions sit under its own task in go tool
// trace. ClearTraceContext undoes it.
func (t *Tracer) SetTraceContext(ctx context.Context) {
	if ctx == nil {
		ctx = t.base
	}
	t.traceCtx = ctx
}

// ClearTraceContext restores the Tracer's base context as the parent of its
// regions, ending the effect of SetTraceContext.
func (t *Tracer) ClearTraceContext() { t.traceCtx = t.base }

// Reset clears every measurement, so the Tracer can time another run, and
// starts a new epoch. The timeline, if any, is not cleared.
func (t *Tracer) Reset() {
	clear(t.acc)
	t.steps = t.steps[:0]
	t.tokens = t.tokens[:0]
	t.phase = Prefill
	t.started = false
	t.layerOpen = -1
	t.rt.reset()
	t.epoch = time.Now()
	if t.opts.Timeline != nil {
		t.opts.Timeline.setEpoch(t.epoch)
	}
}

// now returns nanoseconds since the epoch (monotonic clock).
func (t *Tracer) now() int64 { return int64(time.Since(t.epoch)) }

func (t *Tracer) index(ph Phase, layer int, op model.Op) int {
	return (int(ph)*(t.L+1)+layer+1)*int(model.NumOps) + int(op)
}

// BeginStep implements model.Tracer.
func (t *Tracer) BeginStep(s model.Step) {
	ph := phaseOf(s)
	if !t.started || ph != t.phase {
		t.rt.switchPhase(t.phase, ph, t.started)
		t.started = true
	}
	t.phase = ph
	for op := range model.NumOps {
		f, b := model.OpCost(t.cfg, op, s, t.opts.WeightBytesPerValue)
		t.cost[op] = [2]float64{f, b}
	}
	if t.opts.Labels {
		t.cur = t.phaseCtx[ph]
		pprof.SetGoroutineLabels(t.cur)
	}
	if trace.IsEnabled() && !t.noRegions {
		t.regions[0] = trace.StartRegion(t.traceCtx, ph.String())
	}
	t.stepOpNs = 0
	now := t.now()
	t.steps = append(t.steps, StepRecord{Phase: ph, T: s.T, Pos: s.Pos, Start: now})
}

// BeginOp implements model.Tracer.
func (t *Tracer) BeginOp(layer int, op model.Op) {
	if t.opts.Labels {
		t.cur = t.opCtx[t.index(t.phase, layer, op)]
		pprof.SetGoroutineLabels(t.cur)
	}
	if t.regions[0] != nil {
		if layer >= 0 && t.regions[1] == nil {
			t.regions[1] = trace.StartRegion(t.traceCtx, t.regionTag[layer+1])
		}
		t.regions[2] = trace.StartRegion(t.traceCtx, op.String())
	}
	t.opStart = t.now()
	if t.opts.Timeline != nil && layer != t.layerOpen {
		t.closeLayer()
		if layer >= 0 {
			t.layerOpen, t.layerStart = layer, t.opStart
		}
	}
}

// EndOp implements model.Tracer.
func (t *Tracer) EndOp(layer int, op model.Op) {
	end := t.now()
	t.record(layer, op, t.opStart, end-t.opStart)
	if t.regions[2] != nil {
		t.regions[2].End()
		t.regions[2] = nil
		if op == model.OpResidual2 && t.regions[1] != nil {
			t.regions[1].End()
			t.regions[1] = nil
		}
	}
	if t.opts.Labels {
		t.cur = t.phaseCtx[t.phase]
		pprof.SetGoroutineLabels(t.cur)
	}
}

// DeviceOp implements model.DeviceTracer: op ran on the device for dur,
// starting start after the step's first op began there. A sampling op
// reported so (model.DeviceSampler) ran inside the step: it counts in the
// step's op time, and its end marks the token. The timeline
// places it at the step's host start plus start (the device's clock is
// not the host's: the offset between them, the launch latency, is not
// known).
func (t *Tracer) DeviceOp(layer int, op model.Op, start, dur time.Duration) {
	var base int64
	if n := len(t.steps); n > 0 {
		base = t.steps[n-1].Start
	}
	at := base + int64(start)
	if t.opts.Timeline != nil && layer != t.layerOpen {
		t.closeLayer()
		if layer >= 0 {
			t.layerOpen, t.layerStart = layer, at
		}
	}
	t.record(layer, op, at, int64(dur))
	if op == model.OpSample {
		t.stepOpNs += int64(dur) // sampled on the device, inside the step
	}
}

// record adds one op of d ns that began at start (ns since the epoch).
func (t *Tracer) record(layer int, op model.Op, start, d int64) {
	end := start + d
	c := &t.acc[t.index(t.phase, layer, op)]
	c.calls++
	c.ns += d
	c.flops += t.cost[op][0]
	c.bytes += t.cost[op][1]
	if op == model.OpSample {
		// Sampling runs between steps, on the last step's logits.
		t.tokens = append(t.tokens, end)
	} else {
		t.stepOpNs += d
	}
	if tl := t.opts.Timeline; tl != nil {
		tl.add(event{kind: kindOp, phase: t.phase, layer: int16(layer), op: op, start: start, dur: d})
		t.lastEnd = end
	}
}

// Labels returns the context whose pprof labels (phase, layer, op) the
// calling goroutine carries now, or nil without TracerOptions.Labels. A
// worker pool can apply it to the goroutines that run the op's other parts
// (pprof.SetGoroutineLabels), so their samples are labelled too.
func (t *Tracer) Labels() context.Context { return t.cur }

// EndStep implements model.Tracer.
func (t *Tracer) EndStep() {
	end := t.now()
	if n := len(t.steps); n > 0 {
		s := &t.steps[n-1]
		s.End, s.OpNs = end, t.stepOpNs
		if tl := t.opts.Timeline; tl != nil {
			t.closeLayer()
			tl.add(event{kind: kindStep, phase: s.Phase, layer: -1, start: s.Start, dur: end - s.Start, t: int32(s.T), pos: int32(s.Pos)})
		}
	}
	for i := len(t.regions) - 1; i >= 0; i-- {
		if t.regions[i] != nil {
			t.regions[i].End()
			t.regions[i] = nil
		}
	}
}

// closeLayer emits the open layer's enclosing event.
func (t *Tracer) closeLayer() {
	if t.layerOpen >= 0 {
		t.opts.Timeline.add(event{kind: kindLayer, phase: t.phase, layer: int16(t.layerOpen), start: t.layerStart, dur: t.lastEnd - t.layerStart})
		t.layerOpen = -1
	}
}

// Finish ends the traced run: it takes the last runtime/metrics snapshot
// and restores the goroutine's labels to the base context. Call it once
// after the last step (and sampling), before Profile.
func (t *Tracer) Finish() {
	if t.started {
		t.rt.finish(t.phase)
	}
	if t.opts.Labels {
		t.cur = nil
		pprof.SetGoroutineLabels(t.base)
	}
	t.rt.readPauses()
}

// Steps returns the per-step records of the run (valid until Reset).
func (t *Tracer) Steps() []StepRecord { return t.steps }

// Epoch returns the time the run's timestamps count from.
func (t *Tracer) Epoch() time.Time { return t.epoch }
