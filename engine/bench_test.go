package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
)

// TestStepAllocs checks that steady-state engine steps (decodes, block
// registration, sampling, sending tokens) allocate nothing.
func TestStepAllocs(t *testing.T) {
	m := loadModel(t, fixtures[0], 2)
	V := m.Config().VocabSize
	for _, cfg := range []Config{{BlockSize: 4}, {BlockSize: 4, NoPrefixCache: true}} {
		t.Run(fmt.Sprintf("prefix-cache=%v", !cfg.NoPrefixCache), func(t *testing.T) {
			e, err := build(m, cfg, testHooks{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				if _, err := e.Submit(context.Background(), Request{Prompt: promptFor(V, 3+i, i), MaxTokens: 50, IgnoreEOS: true,
					Sampling: model.SampleOptions{Temperature: 0.8, TopK: 10, Seed: uint64(i)}}); err != nil {
					t.Fatal(err)
				}
			}
			e.admit()
			for range 3 {
				e.runStep()
			}
			if a := testing.AllocsPerRun(20, e.runStep); a != 0 {
				t.Fatalf("a steady-state step allocates %v times, want 0", a)
			}
		})
	}
}

var (
	gpt2Once  sync.Once
	gpt2Model *model.Model
)

// defaultModel is the gpt2 (124M) architecture with random weights.
func defaultModel(b *testing.B) *model.Model {
	gpt2Once.Do(func() {
		p, err := model.RandomParams(model.GPT2(), 1234)
		if err != nil {
			b.Fatal(err)
		}
		if gpt2Model, err = model.New(model.GPT2(), p, model.Options{}); err != nil {
			b.Fatal(err)
		}
	})
	return gpt2Model
}

// BenchmarkStep times steady-state engine steps of D sequences decoding
// on the default model at positions 16..256 (as model's BenchmarkDecode,
// which runs the same steps in lockstep): ms per step, output tok/s, the weights' read
// bandwidth (GB/s, one read of the weights per step), allocations per
// step (0), and the share of the step spent in scheduling bookkeeping.
func BenchmarkStep(b *testing.B) {
	m := defaultModel(b)
	cfg := m.Config()
	for _, D := range []int{1, 8} {
		b.Run(fmt.Sprintf("decodes=%d", D), func(b *testing.B) {
			e, err := build(m, Config{}, testHooks{})
			if err != nil {
				b.Fatal(err)
			}
			submit := func(i int) {
				// Positions 16..256, as model's BenchmarkDecode, so that the two compare.
				if _, err := e.Submit(context.Background(), Request{Prompt: promptFor(cfg.VocabSize, 16, i), MaxTokens: 241, IgnoreEOS: true}); err != nil {
					b.Fatal(err)
				}
			}
			for i := range D {
				submit(i)
			}
			e.admit()
			for len(e.running) < D || slices.ContainsFunc(e.running, func(s *seq) bool { return s.computed < s.nPrompt }) {
				e.runStep()
			}
			e.runStep()
			var sched, total time.Duration
			e.cfg.OnStep = func(st StepStats) { sched += st.Schedule; total += st.Schedule + st.Forward + st.Sample }
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.runStep()
				if len(e.running) < D { // a sequence reached its end: replace it, untimed
					b.StopTimer()
					submit(D + i)
					e.admit()
					for slices.ContainsFunc(e.running, func(s *seq) bool { return s.computed < s.nPrompt }) {
						e.runStep()
					}
					b.StartTimer()
				}
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds() / float64(b.N)
			_, bytes := model.StepCost(cfg, model.Step{B: D, T: 1, Pos: 136}, 4) // the mean position
			b.ReportMetric(sec*1e3, "ms/step")
			b.ReportMetric(float64(D)/sec, "tok/s")
			b.ReportMetric(float64(m.WeightBytes())/sec/1e9, "weightGB/s")
			b.ReportMetric(bytes/sec/1e9, "GB/s")
			if total > 0 {
				b.ReportMetric(100*sched.Seconds()/total.Seconds(), "%sched")
			}
			e.shutdown()
		})
	}
}

// BenchmarkTTFT measures the time to first token of a 128-token prompt
// on the default model, alone and arriving while 7 other requests decode
// (ms, median over b.N requests).
func BenchmarkTTFT(b *testing.B) {
	m := defaultModel(b)
	V := m.Config().VocabSize
	for _, busy := range []int{0, 7} {
		b.Run(fmt.Sprintf("decoding=%d", busy), func(b *testing.B) {
			e, err := New(m, Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for w := range busy { // closed loop of long decoders
				wg.Go(func() {
					for i := 0; ctx.Err() == nil; i++ {
						s, err := e.Submit(ctx, Request{Prompt: promptFor(V, 16, 1000*w+i), MaxTokens: 512, IgnoreEOS: true})
						if err != nil {
							return
						}
						collect(s)
					}
				})
			}
			for e.Stats().Running < busy {
				time.Sleep(time.Millisecond)
			}
			var ttft []float64
			b.ResetTimer()
			for i := range b.N {
				s, err := e.Submit(context.Background(), Request{Prompt: promptFor(V, 128, 7777+i), MaxTokens: 1})
				if err != nil {
					b.Fatal(err)
				}
				_, res := collect(s)
				ttft = append(ttft, float64(res.Timings.TTFT().Microseconds())/1e3)
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			slices.Sort(ttft)
			b.ReportMetric(ttft[len(ttft)/2], "ttft-ms-p50")
		})
	}
}

// BenchmarkPrefixTTFT measures the time to first token of requests that
// share a 512-token prefix: the first (cold) and the second (its prefix
// from the cache), each with a distinct 16-token suffix (ms, medians).
func BenchmarkPrefixTTFT(b *testing.B) {
	m := defaultModel(b)
	V := m.Config().VocabSize
	e, err := New(m, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var cold, warm []float64
	for i := 0; i < b.N; i++ {
		prefix := promptFor(V, 512, 100+i)
		for j, out := range []*[]float64{&cold, &warm} {
			p := append(append([]int32{}, prefix...), promptFor(V, 16, 1000*i+j)...)
			s, err := e.Submit(context.Background(), Request{Prompt: p, MaxTokens: 1})
			if err != nil {
				b.Fatal(err)
			}
			_, res := collect(s)
			*out = append(*out, float64(res.Timings.TTFT().Microseconds())/1e3)
		}
	}
	slices.Sort(cold)
	slices.Sort(warm)
	b.ReportMetric(cold[len(cold)/2], "cold-ttft-ms")
	b.ReportMetric(warm[len(warm)/2], "warm-ttft-ms")
	b.ReportMetric(100*warm[len(warm)/2]/cold[len(cold)/2], "%warm/cold")
}
