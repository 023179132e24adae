package profile

import (
	"math"
	"slices"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/model"
)

// Profile is the result of a traced run: per-(phase, layer, op) time,
// FLOPs and bytes, placed against the machine's limits, with per-phase
// totals, runtime effects and the tracer's own overhead.
type Profile struct {
	// Model names the model profiled, e.g. "gpt2".
	Model string `json:"model"`
	// DType is the weight storage, e.g. "f32".
	DType string `json:"dtype"`
	// Threads is the goroutines each parallel op is split across (1 on a GPU).
	Threads int `json:"threads"`
	// Device is the GPU the ops ran on (timed with CUDA events); empty
	// for the CPU.
	Device string `json:"device,omitempty"`
	// InputLen and OutputLen are the prompt and generated tokens of the traced run.
	InputLen  int `json:"input_len"`
	OutputLen int `json:"output_len"`
	// Limits are the machine's calibrated limits; nil when not calibrated
	// (then the roofline columns are empty).
	Limits *Limits `json:"limits,omitempty"`
	// WallMs is the measured wall time of the traced run (first step to last token), in ms.
	WallMs float64 `json:"wall_ms"`
	// OpMs is the time inside traced ops, sampling included, in ms.
	OpMs float64 `json:"op_ms"`
	// Phases holds prefill, decode and (for an engine step) step totals.
	Phases []PhaseSummary `json:"phases"`
	// Ops holds one row per (phase, layer, op) that ran; layer -1 for ops outside the blocks.
	Ops []OpRow `json:"ops"`
	// Tokens are the token-level latencies of the traced run.
	Tokens TokenLatency `json:"tokens"`
	// Tail lines up the slowest inter-token gaps with GC pauses.
	Tail []TailToken `json:"tail"`
	// Overhead is the tracer's own cost.
	Overhead Overhead `json:"overhead"`
}

// PhaseSummary totals one phase.
type PhaseSummary struct {
	// Phase is "prefill", "decode" or "step" (a ragged engine step of
	// decodes and prompt chunks together).
	Phase string `json:"phase"`
	// Steps is the number of forward steps.
	Steps int `json:"steps"`
	// StepMs is the measured wall time of the forward steps (BeginStep to EndStep), in ms.
	StepMs float64 `json:"step_ms"`
	// OpInStepMs is the sum of op times inside those steps; Coverage = OpInStepMs / StepMs.
	OpInStepMs float64 `json:"op_in_step_ms"`
	Coverage   float64 `json:"coverage"`
	// SampleMs is the time sampling tokens in this phase, in ms.
	SampleMs float64 `json:"sample_ms"`
	// FLOPs and Bytes are the analytic totals of the phase's forward ops.
	FLOPs float64 `json:"flops"`
	Bytes float64 `json:"bytes"`
	// GFLOPPerS and GBPerS are FLOPs and Bytes over OpInStepMs.
	GFLOPPerS float64 `json:"gflop_per_s"`
	GBPerS    float64 `json:"gb_per_s"`
	// Bound is the phase's roofline bound at its overall intensity.
	Bound string `json:"bound,omitempty"`
	// BandwidthShare and PeakShare are GBPerS and GFLOPPerS as fractions
	// of the all-threads limits (0..1); 0 without limits.
	BandwidthShare float64 `json:"bandwidth_share"`
	PeakShare      float64 `json:"peak_share"`
	// Runtime is the Go runtime's activity during the phase.
	Runtime RuntimeStats `json:"runtime"`
}

// OpRow is one op of one layer in one phase.
type OpRow struct {
	// Phase is "prefill", "decode" or "step" (a ragged engine step of
	// decodes and prompt chunks together).
	Phase string `json:"phase"`
	// Layer is the block, or -1 for ops outside the blocks.
	Layer int `json:"layer"`
	// Op is the op's name (model.Op.String), e.g. "qkv".
	Op string `json:"op"`
	// Calls is the number of times the op ran.
	Calls int64 `json:"calls"`
	// TotalMs is the time over all calls, in ms.
	TotalMs float64 `json:"total_ms"`
	// Share is TotalMs over the phase's total op time (0..1).
	Share float64 `json:"share"`
	// FLOPs and Bytes are the analytic totals over all calls (model.OpCost).
	FLOPs float64 `json:"flops"`
	Bytes float64 `json:"bytes"`
	// GFLOPPerS and GBPerS are the achieved rates.
	GFLOPPerS float64 `json:"gflop_per_s"`
	GBPerS    float64 `json:"gb_per_s"`
	// Intensity is FLOPs / Bytes.
	Intensity float64 `json:"intensity"`
	// Threads is the goroutines the op runs on (1 for the serial elementwise ops).
	Threads int `json:"threads"`
	// Bound is "memory" when Intensity is below the machine balance at
	// Threads, else "compute"; empty without limits.
	Bound string `json:"bound,omitempty"`
	// OfLimit is the achieved fraction of the roofline at the op's
	// intensity: GB/s over bandwidth when memory-bound, GFLOP/s over peak
	// when compute-bound (0..1).
	OfLimit float64 `json:"of_limit"`
}

// TokenLatency is the token timing of the traced run, in ms.
type TokenLatency struct {
	// TTFTMs is the first step's start to the first token.
	TTFTMs float64 `json:"ttft_ms"`
	// ITLMs are the gaps between consecutive tokens (decode step + sampling).
	ITLMs []float64 `json:"itl_ms"`
	// ITLP50Ms and ITLP99Ms are percentiles of ITLMs (linear
	// interpolation), ITLMaxMs its maximum.
	ITLP50Ms float64 `json:"itl_p50_ms"`
	ITLP99Ms float64 `json:"itl_p99_ms"`
	ITLMaxMs float64 `json:"itl_max_ms"`
}

// TailToken is one slow inter-token gap and the GC activity inside it.
type TailToken struct {
	// Token is the index of the token (1 = the first decode token).
	Token int `json:"token"`
	// ITLMs is the gap before it.
	ITLMs float64 `json:"itl_ms"`
	// ExcessMs is ITLMs minus the median gap.
	ExcessMs float64 `json:"excess_ms"`
	// GCPauses and GCPauseMs are the stop-the-world pauses that overlapped it.
	GCPauses  int     `json:"gc_pauses"`
	GCPauseMs float64 `json:"gc_pause_ms"`
}

// Overhead is what tracing cost.
type Overhead struct {
	// PerOpNs is the measured cost of one BeginOp/EndOp pair with the
	// options used, in ns (microbenchmark on this machine).
	PerOpNs float64 `json:"per_op_ns"`
	// OpCalls is the number of traced op calls in the run.
	OpCalls int64 `json:"op_calls"`
	// EstimatedMs is PerOpNs·OpCalls, and EstimatedShare its fraction of WallMs.
	EstimatedMs    float64 `json:"estimated_ms"`
	EstimatedShare float64 `json:"estimated_share"`
	// UntracedMs and TracedMs are the median wall times of the same
	// generation without and with the tracer; MeasuredShare is
	// TracedMs/UntracedMs - 1 (noise included; can be negative). 0 when not measured.
	UntracedMs    float64 `json:"untraced_ms"`
	TracedMs      float64 `json:"traced_ms"`
	MeasuredShare float64 `json:"measured_share"`
	// Pairs is the number of (untraced, traced) generations behind the medians.
	Pairs int `json:"pairs"`
}

// parallelOps are the ops model.Session splits across its pool (tensor
// Runner.Linear and the attention passes); the others run on the calling
// goroutine alone, so their limit is the one-core limit.
var parallelOps = [model.NumOps]bool{
	model.OpQKV: true, model.OpAttnScores: true, model.OpAttnSoftmax: true, model.OpAttnValues: true,
	model.OpAttnProj: true, model.OpMLPUp: true, model.OpMLPDown: true, model.OpLogits: true,
}

// Info describes the traced run for the Profile.
type Info struct {
	Model               string  // e.g. "gpt2"
	DType               string  // weight storage, e.g. "f32"
	Threads             int     // goroutines each parallel op is split across
	Device              string  // the GPU the ops ran on; empty for the CPU
	InputLen, OutputLen int     // prompt and generated tokens
	Limits              *Limits // calibrated limits; nil when not calibrated
}

// Profile builds the result of the run traced since the last Reset. Call
// Finish first.
func (t *Tracer) Profile(info Info) *Profile {
	p := &Profile{
		Model: info.Model, DType: info.DType, Threads: max(info.Threads, 1), Device: info.Device,
		InputLen: info.InputLen, OutputLen: info.OutputLen, Limits: info.Limits,
	}
	const ms = 1e-6 // ns to ms
	var phaseOpNs [numPhases]int64
	for i, c := range t.acc {
		if c.calls > 0 {
			phaseOpNs[i/((t.L+1)*int(model.NumOps))] += c.ns
		}
	}
	for ph := range numPhases {
		for l := -1; l < t.L; l++ {
			for op := range model.NumOps {
				c := t.acc[t.index(ph, l, op)]
				if c.calls == 0 {
					continue
				}
				r := OpRow{
					Phase: ph.String(), Layer: l, Op: op.String(), Calls: c.calls,
					TotalMs: float64(c.ns) * ms, FLOPs: c.flops, Bytes: c.bytes, Threads: 1,
				}
				if parallelOps[op] {
					r.Threads = p.Threads
				}
				if phaseOpNs[ph] > 0 {
					r.Share = float64(c.ns) / float64(phaseOpNs[ph])
				}
				r.GFLOPPerS, r.GBPerS, r.Intensity = rates(c.flops, c.bytes, c.ns)
				if c.flops > 0 || c.bytes > 0 { // an op with no work (gelu, fused into mlp_up) has no bound
					r.Bound, r.OfLimit = roofline(info.Limits, r.Threads, r.GFLOPPerS, r.GBPerS, r.Intensity)
				}
				p.Ops = append(p.Ops, r)
				p.OpMs += r.TotalMs
				p.Overhead.OpCalls += c.calls
			}
		}
	}
	// Phases.
	var sum [numPhases]PhaseSummary
	for _, s := range t.steps {
		ps := &sum[s.Phase]
		ps.Steps++
		ps.StepMs += float64(s.End-s.Start) * ms
		ps.OpInStepMs += float64(s.OpNs) * ms
	}
	for _, r := range p.Ops {
		ph := Prefill
		for q := range numPhases {
			if r.Phase == q.String() {
				ph = q
			}
		}
		ps := &sum[ph]
		if r.Op == model.OpSample.String() {
			ps.SampleMs += r.TotalMs
			continue
		}
		ps.FLOPs += r.FLOPs
		ps.Bytes += r.Bytes
	}
	for ph := range numPhases {
		ps := sum[ph]
		if ps.Steps == 0 {
			continue
		}
		ps.Phase = ph.String()
		if ps.StepMs > 0 {
			ps.Coverage = ps.OpInStepMs / ps.StepMs
		}
		ps.GFLOPPerS, ps.GBPerS, _ = rates(ps.FLOPs, ps.Bytes, int64(ps.OpInStepMs/ms))
		if l := info.Limits; l != nil {
			ai := 0.0
			if ps.Bytes > 0 {
				ai = ps.FLOPs / ps.Bytes
			}
			ps.Bound, _ = roofline(l, p.Threads, ps.GFLOPPerS, ps.GBPerS, ai)
			if bw := l.Bandwidth(p.Threads); bw > 0 {
				ps.BandwidthShare = ps.GBPerS / bw
			}
			if pk := l.Peak(p.Threads); pk > 0 {
				ps.PeakShare = ps.GFLOPPerS / pk
			}
		}
		ps.Runtime = t.rt.stats(ph)
		p.Phases = append(p.Phases, ps)
	}
	// Tokens and the tail.
	if len(t.steps) > 0 {
		first := t.steps[0].Start
		last := t.steps[len(t.steps)-1].End
		if n := len(t.tokens); n > 0 {
			p.Tokens.TTFTMs = float64(t.tokens[0]-first) * ms
			last = max(last, t.tokens[n-1])
		}
		p.WallMs = float64(last-first) * ms
	}
	p.Tokens.ITLMs, p.Tail = t.tail()
	if n := len(p.Tokens.ITLMs); n > 0 {
		s := slices.Clone(p.Tokens.ITLMs)
		slices.Sort(s)
		p.Tokens.ITLP50Ms, p.Tokens.ITLP99Ms, p.Tokens.ITLMaxMs = percentile(s, 50), percentile(s, 99), s[n-1]
	}
	return p
}

// SetLimits places p on other limits (a fresh calibration): every op's
// and phase's bound and share of the roofline are computed again.
func (p *Profile) SetLimits(l *Limits) {
	p.Limits = l
	for i := range p.Ops {
		r := &p.Ops[i]
		if r.FLOPs > 0 || r.Bytes > 0 {
			r.Bound, r.OfLimit = roofline(l, r.Threads, r.GFLOPPerS, r.GBPerS, r.Intensity)
		}
	}
	for i := range p.Phases {
		ps := &p.Phases[i]
		ps.Bound, ps.BandwidthShare, ps.PeakShare = "", 0, 0
		if l == nil {
			continue
		}
		ai := 0.0
		if ps.Bytes > 0 {
			ai = ps.FLOPs / ps.Bytes
		}
		ps.Bound, _ = roofline(l, p.Threads, ps.GFLOPPerS, ps.GBPerS, ai)
		if bw := l.Bandwidth(p.Threads); bw > 0 {
			ps.BandwidthShare = ps.GBPerS / bw
		}
		if pk := l.Peak(p.Threads); pk > 0 {
			ps.PeakShare = ps.GFLOPPerS / pk
		}
	}
}

// AboveLimits returns the phase with the largest share of a limit (memory
// bandwidth or FMA peak) when that share exceeds limit (e.g. 1.05), and
// the share; "" when none does. A phase well above 100% means the limits
// were measured low (a busy machine) and should be measured again.
func (p *Profile) AboveLimits(limit float64) (phase, what string, share float64) {
	for _, ps := range p.Phases {
		if ps.BandwidthShare > limit && ps.BandwidthShare > share {
			phase, what, share = ps.Phase, "memory bandwidth", ps.BandwidthShare
		}
		if ps.PeakShare > limit && ps.PeakShare > share {
			phase, what, share = ps.Phase, "FMA peak", ps.PeakShare
		}
	}
	return phase, what, share
}

// rates returns GFLOP/s, GB/s and FLOPs per byte.
func rates(flops, bytes float64, ns int64) (gflops, gbs, ai float64) {
	if ns > 0 {
		gflops, gbs = flops/float64(ns), bytes/float64(ns) // per ns = G per s
	}
	if bytes > 0 {
		ai = flops / bytes
	}
	return gflops, gbs, ai
}

// roofline places an op: bound by intensity against the machine balance,
// and the achieved share of the roof min(peak, intensity·bandwidth).
func roofline(l *Limits, threads int, gflops, gbs, ai float64) (bound string, ofLimit float64) {
	if l == nil {
		return "", 0
	}
	bw, pk := l.Bandwidth(threads), l.Peak(threads)
	if bw <= 0 || pk <= 0 {
		return "", 0
	}
	if ai < pk/bw {
		return report.BoundMemory, gbs / bw
	}
	return report.BoundCompute, gflops / pk
}

// percentile returns the p-th percentile of sorted s, linear interpolation
// between closest ranks (numpy's default).
func percentile(s []float64, p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	r := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(r))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(r-float64(lo))
}

// tailTokens is how many of the slowest gaps the tail lists, at most.
const tailTokens = 5

// tail returns the inter-token gaps and the slowest ones (at or above the
// p99, at most tailTokens) with the GC pauses that overlapped each.
func (t *Tracer) tail() (itl []float64, out []TailToken) {
	if len(t.tokens) < 2 {
		return nil, nil
	}
	itl = make([]float64, len(t.tokens)-1)
	for i := 1; i < len(t.tokens); i++ {
		itl[i-1] = float64(t.tokens[i]-t.tokens[i-1]) * 1e-6
	}
	s := slices.Clone(itl)
	slices.Sort(s)
	p50, p99 := percentile(s, 50), percentile(s, 99)
	idx := make([]int, len(itl))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case itl[a] > itl[b]:
			return -1
		case itl[a] < itl[b]:
			return 1
		}
		return 0
	})
	for k, i := range idx {
		if k >= tailTokens || (k > 0 && itl[i] < p99) {
			break
		}
		lo, hi := t.tokens[i], t.tokens[i+1]
		tt := TailToken{Token: i + 1, ITLMs: itl[i], ExcessMs: itl[i] - p50}
		for _, gp := range t.rt.pauses {
			if ov := min(hi, gp.end) - max(lo, gp.start); ov > 0 {
				tt.GCPauses++
				tt.GCPauseMs += float64(ov) * 1e-6
			}
		}
		out = append(out, tt)
	}
	return itl, out
}
