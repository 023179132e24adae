package profile

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
)

// smallConfig is a GPT-2 shaped model small enough for fast tests.
func smallConfig() model.Config {
	return model.Config{VocabSize: 128, NPositions: 64, NEmbd: 32, NLayer: 2, NHead: 4, LayerNormEps: 1e-5, Activation: "gelu_new"}
}

func newSmallModel(t testing.TB, cfg model.Config, threads int) *model.Model {
	t.Helper()
	p, err := model.RandomParams(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, p, model.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func prompt(n, vocab int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32((i*7 + 3) % vocab)
	}
	return p
}

// traceGenerate runs one traced greedy generation and returns the tracer.
func traceGenerate(t *testing.T, m *model.Model, opts TracerOptions, in, out int) *Tracer {
	t.Helper()
	s, err := m.NewSession(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracer(m.Config(), opts)
	s.SetTracer(tr)
	if _, err := model.Generate(context.Background(), s, [][]int32{prompt(in, m.Config().VocabSize)}, model.GenerateOptions{MaxNewTokens: out, Tracer: tr}); err != nil {
		t.Fatal(err)
	}
	tr.Finish()
	return tr
}

// TestTracerCounts checks calls, FLOPs and bytes of a traced generation
// against the steps it must have run.
func TestTracerCounts(t *testing.T) {
	cfg := smallConfig()
	for _, tc := range []struct{ in, out, threads int }{{5, 1, 1}, {5, 4, 2}, {1, 3, 1}} {
		t.Run(fmt.Sprintf("in=%d/out=%d/threads=%d", tc.in, tc.out, tc.threads), func(t *testing.T) {
			m := newSmallModel(t, cfg, tc.threads)
			tr := traceGenerate(t, m, TracerOptions{Labels: true, Timeline: NewTimeline("t")}, tc.in, tc.out)
			p := tr.Profile(Info{Model: "small", Threads: tc.threads, InputLen: tc.in, OutputLen: tc.out})

			wantSteps := map[string]int{"prefill": 1, "decode": tc.out - 1}
			var wantFLOPs, wantBytes [2]float64
			f, b := model.StepCost(cfg, model.Step{B: 1, T: tc.in}, 4)
			wantFLOPs[0], wantBytes[0] = f, b
			for i := range tc.out - 1 {
				f, b := model.StepCost(cfg, model.Step{B: 1, T: 1, Pos: tc.in + i}, 4)
				wantFLOPs[1] += f
				wantBytes[1] += b
			}
			if len(p.Phases) != 1+min(1, tc.out-1) {
				t.Fatalf("got %d phases, want %d", len(p.Phases), 1+min(1, tc.out-1))
			}
			for i, ph := range p.Phases {
				if ph.Steps != wantSteps[ph.Phase] {
					t.Errorf("%s: %d steps, want %d", ph.Phase, ph.Steps, wantSteps[ph.Phase])
				}
				if relDiff(ph.FLOPs, wantFLOPs[i]) > 1e-9 || relDiff(ph.Bytes, wantBytes[i]) > 1e-9 {
					t.Errorf("%s: %g FLOPs, %g bytes; want StepCost sums %g, %g", ph.Phase, ph.FLOPs, ph.Bytes, wantFLOPs[i], wantBytes[i])
				}
				if ph.OpInStepMs > ph.StepMs || ph.OpInStepMs <= 0 {
					t.Errorf("%s: op time %g ms outside the step time %g ms", ph.Phase, ph.OpInStepMs, ph.StepMs)
				}
			}
			calls := map[string]int64{}
			for _, r := range p.Ops {
				calls[r.Phase+"/"+r.Op] += r.Calls
			}
			L := int64(cfg.NLayer)
			dec := int64(tc.out - 1)
			want := map[string]int64{
				"prefill/embed": 1, "prefill/qkv": L, "prefill/attn_softmax": L, "prefill/logits": 1, "prefill/sample": 1,
			}
			if dec > 0 {
				want["decode/embed"], want["decode/mlp_down"], want["decode/sample"] = dec, L*dec, dec
			}
			for k, v := range want {
				if calls[k] != v {
					t.Errorf("calls[%s] = %d, want %d", k, calls[k], v)
				}
			}
			if got := len(p.Tokens.ITLMs); got != tc.out-1 {
				t.Errorf("%d inter-token gaps, want %d", got, tc.out-1)
			}
			var share float64
			for _, r := range p.Ops {
				if r.Phase == "prefill" {
					share += r.Share
				}
			}
			if math.Abs(share-1) > 1e-9 {
				t.Errorf("prefill shares sum to %g, want 1", share)
			}
		})
	}
}

func relDiff(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// TestTracerAllocs checks that tracing allocates nothing per op or step,
// with labels and a timeline on, phase switches included.
func TestTracerAllocs(t *testing.T) {
	cfg := smallConfig()
	for _, tc := range []struct {
		name string
		opts TracerOptions
	}{
		{"plain", TracerOptions{}},
		{"labels+timeline", TracerOptions{Labels: true, Timeline: NewTimeline("t"), Steps: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracer(cfg, tc.opts)
			pos := 1
			step := func() {
				st := model.Step{B: 1, T: 1, Pos: pos}
				if pos%5 == 0 {
					st = model.Step{B: 1, T: 4} // a prefill: phase switch
				}
				pos++
				tr.BeginStep(st)
				tr.BeginOp(-1, model.OpEmbed)
				tr.EndOp(-1, model.OpEmbed)
				for l := range cfg.NLayer {
					for op := model.OpLN1; op <= model.OpResidual2; op++ {
						tr.BeginOp(l, op)
						tr.EndOp(l, op)
					}
				}
				tr.EndStep()
				tr.BeginOp(-1, model.OpSample)
				tr.EndOp(-1, model.OpSample)
			}
			step()
			if n := testing.AllocsPerRun(50, step); n != 0 {
				t.Errorf("%v allocations per traced step, want 0", n)
			}
		})
	}
}

// TestSessionStepAllocs checks a whole traced decode step of the engine.
func TestSessionStepAllocs(t *testing.T) {
	cfg := smallConfig()
	m := newSmallModel(t, cfg, 2)
	s, err := m.NewSession(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracer(cfg, TracerOptions{Labels: true, Timeline: NewTimeline("t"), Steps: 64})
	s.SetTracer(tr)
	logits := make([]float32, cfg.VocabSize)
	tok := [][]int32{{1}}
	ctx := context.Background()
	// A prefill of half the context sizes the attention scratch for every
	// later decode step (the engine grows it with the span otherwise).
	if err := s.Forward(ctx, [][]int32{prompt(cfg.NPositions/2, cfg.VocabSize)}, logits); err != nil {
		t.Fatal(err)
	}
	step := func() {
		if s.Pos() >= cfg.NPositions-1 {
			s.Reset()
		}
		if err := s.Forward(ctx, tok, logits); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("%v allocations per traced decode step, want 0", n)
	}
}

func TestPhaseOf(t *testing.T) {
	for _, tc := range []struct {
		st   model.Step
		want Phase
	}{
		{model.Step{B: 1, T: 8}, Prefill},
		{model.Step{B: 1, T: 1}, Prefill}, // a one-token prompt
		{model.Step{B: 1, T: 1, Pos: 8}, Decode},
		{model.Step{B: 1, T: 4, Pos: 8}, Prefill}, // a chunk of prompt
	} {
		t.Run(fmt.Sprintf("T=%d/Pos=%d", tc.st.T, tc.st.Pos), func(t *testing.T) {
			if got := phaseOf(tc.st); got != tc.want {
				t.Errorf("phaseOf = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkDecodeStep shows what the hooks cost: tracer=off is the engine
// as it runs without profiling (one nil check per op); tracer=on times
// every op; +labels+timeline adds pprof labels and the timeline.
func BenchmarkDecodeStep(b *testing.B) {
	cfg := model.Config{VocabSize: 4096, NPositions: 256, NEmbd: 256, NLayer: 4, NHead: 4, LayerNormEps: 1e-5, Activation: "gelu_new"}
	m := newSmallModel(b, cfg, 0)
	for _, tc := range []struct {
		name string
		opts *TracerOptions
	}{
		{"tracer=off", nil},
		{"tracer=on", &TracerOptions{Steps: 256}},
		{"tracer=on+labels+timeline", &TracerOptions{Labels: true, Timeline: NewTimeline("b"), Steps: 256}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := m.NewSession(1, 0)
			if err != nil {
				b.Fatal(err)
			}
			if tc.opts != nil {
				s.SetTracer(NewTracer(cfg, *tc.opts))
			}
			logits := make([]float32, cfg.VocabSize)
			tok := [][]int32{{1}}
			ctx := context.Background()
			// Size the scratch for every span, then decode from position 0.
			if err := s.Forward(ctx, [][]int32{prompt(cfg.NPositions/2, cfg.VocabSize)}, logits); err != nil {
				b.Fatal(err)
			}
			s.Reset()
			b.ReportAllocs()
			for b.Loop() {
				if s.Pos() >= cfg.NPositions-1 {
					s.Reset()
					if tc.opts != nil && tc.opts.Timeline != nil {
						tc.opts.Timeline.Reset()
					}
				}
				if err := s.Forward(ctx, tok, logits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpPair is the cost of one BeginOp/EndOp pair.
func BenchmarkOpPair(b *testing.B) {
	cfg := model.GPT2()
	for _, tc := range []struct {
		name string
		opts TracerOptions
	}{
		{"plain", TracerOptions{}},
		{"labels", TracerOptions{Labels: true}},
		{"labels+timeline", TracerOptions{Labels: true, Timeline: NewTimeline("b")}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tr := NewTracer(cfg, tc.opts)
			tr.BeginStep(model.Step{B: 1, T: 1, Pos: 1})
			b.ReportAllocs()
			for b.Loop() {
				tr.BeginOp(3, model.OpGELU)
				tr.EndOp(3, model.OpGELU)
				if tc.opts.Timeline != nil && tc.opts.Timeline.Len() > 1<<20 {
					tc.opts.Timeline.Reset()
				}
			}
		})
	}
}

// TestDeviceOps feeds a Tracer the way model/cuda does: BeginStep, then the
// device-measured ops with their offsets and durations, then EndStep, and
// checks the sums, the phase, the coverage and the timeline's placement.
func TestDeviceOps(t *testing.T) {
	cfg := smallConfig()
	tl := NewTimeline("device")
	tr := NewTracer(cfg, TracerOptions{Timeline: tl, Steps: 2})
	var _ model.DeviceTracer = tr
	us := time.Microsecond
	steps := []model.Step{{B: 1, T: 4}, {B: 1, T: 1, Pos: 4}}
	for _, st := range steps {
		tr.BeginStep(st)
		tr.DeviceOp(-1, model.OpEmbed, 0, 2*us)
		for l := range cfg.NLayer {
			base := 2*us + time.Duration(l)*10*us
			tr.DeviceOp(l, model.OpQKV, base, 4*us)
			tr.DeviceOp(l, model.OpAttnScores, base+4*us, 6*us)
		}
		tr.DeviceOp(-1, model.OpLogits, 22*us, 3*us)
		tr.EndStep()
		tr.BeginOp(-1, model.OpSample) // host sampling, timed on the host
		tr.EndOp(-1, model.OpSample)
	}
	tr.Finish()
	p := tr.Profile(Info{Model: "small", DType: "f32", Threads: 1})
	got := map[string]OpRow{}
	for _, r := range p.Ops {
		got[fmt.Sprintf("%s/%d/%s", r.Phase, r.Layer, r.Op)] = r
	}
	for _, tc := range []struct {
		key   string
		calls int64
		ms    float64
	}{
		{"prefill/-1/embed", 1, 0.002}, {"prefill/0/qkv", 1, 0.004}, {"prefill/1/attn_scores", 1, 0.006},
		{"decode/-1/logits", 1, 0.003}, {"decode/1/qkv", 1, 0.004},
	} {
		r, ok := got[tc.key]
		if !ok {
			t.Errorf("%s: no row", tc.key)
			continue
		}
		if r.Calls != tc.calls || math.Abs(r.TotalMs-tc.ms) > 1e-9 {
			t.Errorf("%s: %d calls, %g ms; want %d, %g", tc.key, r.Calls, r.TotalMs, tc.calls, tc.ms)
		}
	}
	for _, ph := range p.Phases {
		if want := 0.025; math.Abs(ph.OpInStepMs-want) > 1e-9 {
			t.Errorf("%s: %g ms in ops, want %g", ph.Phase, ph.OpInStepMs, want)
		}
	}
	// The timeline puts each op at the step's start plus its offset.
	recs := tr.Steps()
	if len(recs) != 2 {
		t.Fatalf("%d steps, want 2", len(recs))
	}
	var qkv1 *event
	for i := range tl.events {
		e := &tl.events[i]
		if e.kind == kindOp && e.op == model.OpQKV && e.layer == 1 && e.phase == Decode {
			qkv1 = e
		}
	}
	if qkv1 == nil {
		t.Fatal("no decode layer-1 qkv event in the timeline")
	}
	if want := recs[1].Start + int64(12*us); qkv1.start != want || qkv1.dur != int64(4*us) {
		t.Errorf("decode layer 1 qkv at %d for %d ns, want %d for %d", qkv1.start, qkv1.dur, want, int64(4*us))
	}
}

// TestDeviceSample checks sampling reported by the device inside the
// step: it counts in the step's op time, and its end marks the token.
func TestDeviceSample(t *testing.T) {
	tr := NewTracer(smallConfig(), TracerOptions{Steps: 2})
	us := time.Microsecond
	for _, st := range []model.Step{{B: 1, T: 4}, {B: 1, T: 1, Pos: 4}} {
		tr.BeginStep(st)
		tr.DeviceOp(-1, model.OpEmbed, 0, 2*us)
		tr.DeviceOp(-1, model.OpLogits, 2*us, 5*us)
		tr.DeviceOp(-1, model.OpSample, 7*us, 3*us)
		tr.EndStep()
	}
	tr.Finish()
	p := tr.Profile(Info{Model: "small", DType: "f32", Threads: 1})
	for _, ph := range p.Phases {
		if math.Abs(ph.OpInStepMs-0.010) > 1e-9 || math.Abs(ph.SampleMs-0.003) > 1e-9 {
			t.Errorf("%s: %g ms in ops, %g ms sampling; want 0.010 and 0.003", ph.Phase, ph.OpInStepMs, ph.SampleMs)
		}
	}
	if len(tr.tokens) != 2 {
		t.Fatalf("%d tokens, want 2", len(tr.tokens))
	}
	if want := tr.Steps()[1].Start + int64(10*us); tr.tokens[1] != want {
		t.Errorf("second token at %d, want %d (step start + 10µs)", tr.tokens[1], want)
	}
}
