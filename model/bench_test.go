package model

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// benchModels builds GPT-2 124M with random weights once per dtype, on 2
// threads (the target machine's cores).
func benchModel(b *testing.B, p **Params, dt tensor.DType) *Model {
	b.Helper()
	cfg := GPT2()
	if *p == nil {
		var err error
		if *p, err = RandomParams(cfg, 1234); err != nil {
			b.Fatal(err)
		}
	}
	return benchModelKV(b, p, dt, tensor.F32)
}

// benchModelKV is benchModel with a KV cache of kvdt.
func benchModelKV(b *testing.B, p **Params, dt, kvdt tensor.DType) *Model {
	b.Helper()
	cfg := GPT2()
	if *p == nil {
		var err error
		if *p, err = RandomParams(cfg, 1234); err != nil {
			b.Fatal(err)
		}
	}
	m, err := New(cfg, *p, Options{DType: dt, KVDType: kvdt, Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkDecodeDepth times one decode step of B sequences at a fixed
// depth P (positions cached before the step: the cache is rewound to P
// before every step), for every weight dtype with a float32 and a half KV
// cache. GB/s counts what a step must read: the weights once plus every
// sequence's keys and values of P+1 positions (the roofline's bytes).
// cpu-ms/op is the process's CPU time per step (both threads): on a shared
// host it leaves out the waits for a core that wall time counts.
//
//	go test ./model -run '^$' -bench 'DecodeDepth/.*/B=1/' -count 5 | benchstat -col /kv -
func BenchmarkDecodeDepth(b *testing.B) {
	var p *Params
	ctx := context.Background()
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.Q8, tensor.Q4} {
		for _, kvdt := range []tensor.DType{tensor.F32, tensor.F16} {
			var m *Model // built on the first sub-benchmark that runs
			cfg := GPT2()
			for _, batch := range []int{1, 8} {
				for _, depth := range []int{0, 512, 896} {
					b.Run(fmt.Sprintf("dtype=%v/kv=%v/B=%d/P=%d", dt, kvdt, batch, depth), func(b *testing.B) {
						if m == nil {
							m = benchModelKV(b, &p, dt, kvdt)
						}
						s, err := m.NewSession(batch, depth+1)
						if err != nil {
							b.Fatal(err)
						}
						logits := make([]float32, batch*cfg.VocabSize)
						step := make([][]int32, batch)
						for i := range batch {
							step[i] = []int32{int32(100 + i)}
						}
						if depth > 0 {
							prompt := make([][]int32, batch)
							for i := range batch {
								prompt[i] = tokensFor(cfg, depth, i)
							}
							if err := s.Forward(ctx, prompt, logits); err != nil {
								b.Fatal(err)
							}
						}
						if err := s.Forward(ctx, step, logits); err != nil { // size the decode scratch
							b.Fatal(err)
						}
						bytes := m.WeightBytes() - int64(4*len(m.wpe)) + int64(batch)*int64(depth+1)*KVBytesPerTokenOf(cfg, kvdt)
						b.ReportAllocs()
						b.ResetTimer()
						cpu0 := cpuTime()
						for b.Loop() {
							s.pos = depth // rewind: every step at depth P
							if err := s.Forward(ctx, step, logits); err != nil {
								b.Fatal(err)
							}
						}
						sec := b.Elapsed().Seconds() / float64(b.N)
						b.ReportMetric(float64(batch)/sec, "tok/s")
						b.ReportMetric(float64(bytes)/sec/1e9, "GB/s")
						b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
					})
				}
			}
			if m != nil {
				m.Close()
			}
		}
	}
}

// BenchmarkDecode times one decode step (T=1) of B sequences after a
// 16-token prompt; tok/s counts all B new tokens. The cache wraps (Reset
// and a new prompt, untimed) before it fills.
//
//	go test ./model -run '^$' -bench Decode -count 5 | benchstat -col /dtype -
func BenchmarkDecode(b *testing.B) {
	var p *Params
	ctx := context.Background()
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.Q8, tensor.Q4} {
		m := benchModel(b, &p, dt)
		for _, batch := range []int{1, 8} {
			b.Run(fmt.Sprintf("dtype=%v/B=%d", dt, batch), func(b *testing.B) {
				const prompt, capacity = 16, 256
				s, err := m.NewSession(batch, capacity)
				if err != nil {
					b.Fatal(err)
				}
				V := m.Config().VocabSize
				logits := make([]float32, batch*V)
				promptToks, step := make([][]int32, batch), make([][]int32, batch)
				for i := range batch {
					promptToks[i] = tokensFor(m.Config(), prompt, i)
					step[i] = []int32{int32(100 + i)}
				}
				restart := func() {
					s.Reset()
					if err := s.Forward(ctx, promptToks, logits); err != nil {
						b.Fatal(err)
					}
				}
				restart()
				if err := s.Forward(ctx, step, logits); err != nil { // size the decode scratch
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if s.Pos() == capacity {
						b.StopTimer()
						restart()
						b.StartTimer()
					}
					if err := s.Forward(ctx, step, logits); err != nil {
						b.Fatal(err)
					}
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(float64(batch)/sec, "tok/s")
				b.ReportMetric(sec*1e3, "ms/step")
			})
		}
		m.Close()
	}
}

// BenchmarkPrefill times a prompt of T tokens of one sequence from an
// empty cache, logits for the last position only, with a float32 KV cache
// and (suffix /kv=f16) the half cache --kv-dtype auto picks for reduced
// weights. To compare the kernel variants, run it under
// GPT2BENCH_NOAVX512=1 and without, alternating.
func BenchmarkPrefill(b *testing.B) {
	var p *Params
	ctx := context.Background()
	for _, c := range []struct{ dt, kv tensor.DType }{
		{tensor.F32, tensor.F32}, {tensor.F16, tensor.F32}, {tensor.Q8, tensor.F32}, {tensor.Q4, tensor.F32},
		{tensor.F16, tensor.F16}, {tensor.Q8, tensor.F16}, {tensor.Q4, tensor.F16}, // --kv-dtype auto's choice
	} {
		dt := c.dt
		var m *Model // built on the first sub-benchmark that runs
		suffix := ""
		if c.kv != tensor.F32 {
			suffix = "/kv=" + c.kv.String()
		}
		for _, T := range []int{128, 512, 896} {
			b.Run(fmt.Sprintf("dtype=%v/T=%d%s", dt, T, suffix), func(b *testing.B) {
				if m == nil {
					m = benchModelKV(b, &p, dt, c.kv)
				}
				s, err := m.NewSession(1, T)
				if err != nil {
					b.Fatal(err)
				}
				logits := make([]float32, m.Config().VocabSize)
				toks := [][]int32{tokensFor(m.Config(), T, 1)}
				if err := s.Forward(ctx, toks, logits); err != nil { // size the scratch
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					s.Reset()
					if err := s.Forward(ctx, toks, logits); err != nil {
						b.Fatal(err)
					}
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(sec*1e3, "ms/prefill")
				b.ReportMetric(float64(T)/sec, "tok/s")
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			})
		}
		if m != nil {
			m.Close()
		}
	}
}

// opTimer is a Tracer that sums wall time per op.
type opTimer struct {
	start [NumOps]time.Time
	total [NumOps]time.Duration
}

func (o *opTimer) BeginStep(Step)       {}
func (o *opTimer) EndStep()             {}
func (o *opTimer) BeginOp(_ int, op Op) { o.start[op] = time.Now() }
func (o *opTimer) EndOp(_ int, op Op)   { o.total[op] += time.Since(o.start[op]) }

// BenchmarkOps reports where a step spends its time: ms per step for each
// op, summed over layers, for decode (T=1) in every dtype at batch 1, and
// in float32 for batch 8 and a 128-token prefill.
func BenchmarkOps(b *testing.B) {
	var p *Params
	ctx := context.Background()
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.Q8, tensor.Q4} {
		m := benchModel(b, &p, dt)
		for _, c := range []struct{ B, T int }{{1, 1}, {8, 1}, {1, 128}} {
			if c.B*c.T > 1 && dt != tensor.F32 {
				continue
			}
			b.Run(fmt.Sprintf("dtype=%v/B=%d/T=%d", dt, c.B, c.T), func(b *testing.B) {
				const capacity = 256
				s, err := m.NewSession(c.B, capacity)
				if err != nil {
					b.Fatal(err)
				}
				logits := make([]float32, c.B*m.Config().VocabSize)
				toks := make([][]int32, c.B)
				for i := range toks {
					toks[i] = tokensFor(m.Config(), c.T, i)
				}
				if err := s.Forward(ctx, toks, logits); err != nil {
					b.Fatal(err)
				}
				var ot opTimer
				s.SetTracer(&ot)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if s.Pos()+c.T > capacity || c.T > 1 {
						s.Reset()
					}
					if err := s.Forward(ctx, toks, logits); err != nil {
						b.Fatal(err)
					}
				}
				for op := Op(0); op < NumOps; op++ {
					if ot.total[op] > 0 {
						b.ReportMetric(ot.total[op].Seconds()*1e3/float64(b.N), "ms/"+op.String())
					}
				}
			})
		}
		m.Close()
	}
}

// BenchmarkQuality measures what storing the weights as float16, int8 or
// q4, and the KV cache as float16 (kv=f16), costs in output quality,
// against float32 weights and cache, on GPT-2 124M with random
// weights (seed 1234) and a 64-token prompt, logits at every position:
// kl is the mean KL(p_f32 || p_dtype) in nats, top1 the fraction of
// positions whose qualityArgmax agrees, maxdiff the largest |Δlogit|, and
// reldiff the RMS of Δlogit over the RMS of the float32 logits. Each
// iteration times one 64-token forward pass in that dtype.
func BenchmarkQuality(b *testing.B) {
	const T = 64
	var p *Params
	ctx := context.Background()
	cfg := GPT2()
	V := cfg.VocabSize
	forward := func(b *testing.B, m *Model, logits []float32) {
		s, err := m.NewSession(1, T)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Forward(ctx, [][]int32{tokensFor(cfg, T, 3)}, logits); err != nil {
			b.Fatal(err)
		}
	}
	ref := make([]float32, T*V)
	m := benchModel(b, &p, tensor.F32)
	forward(b, m, ref)
	m.Close()
	for _, c := range []struct{ dt, kv tensor.DType }{
		{tensor.F16, tensor.F32}, {tensor.Q8, tensor.F32}, {tensor.Q4, tensor.F32},
		{tensor.F32, tensor.F16}, {tensor.F16, tensor.F16}, {tensor.Q8, tensor.F16}, {tensor.Q4, tensor.F16},
	} {
		dt := c.dt
		m := benchModelKV(b, &p, dt, c.kv)
		b.Run(fmt.Sprintf("dtype=%v/kv=%v", dt, c.kv), func(b *testing.B) {
			got := make([]float32, T*V)
			for b.Loop() {
				forward(b, m, got)
			}
			var kl, maxDiff, sq, sqRef float64
			agree := 0
			for t := range T {
				r, g := ref[t*V:(t+1)*V], got[t*V:(t+1)*V]
				kl += qualityKL(r, g)
				if qualityArgmax(r) == qualityArgmax(g) {
					agree++
				}
				for i := range r {
					d := float64(g[i] - r[i])
					maxDiff = max(maxDiff, math.Abs(d))
					sq += d * d
					sqRef += float64(r[i]) * float64(r[i])
				}
			}
			b.ReportMetric(kl/T, "kl")
			b.ReportMetric(float64(agree)/T, "top1")
			b.ReportMetric(maxDiff, "maxdiff")
			b.ReportMetric(math.Sqrt(sq/sqRef), "reldiff")
		})
		m.Close()
	}
}

// qualityKL returns KL(softmax(p) || softmax(q)) in nats.
func qualityKL(p, q []float32) float64 {
	lp, lq := qualityLogSoftmax(p), qualityLogSoftmax(q)
	var kl float64
	for i := range lp {
		kl += math.Exp(lp[i]) * (lp[i] - lq[i])
	}
	return kl
}

func qualityLogSoftmax(x []float32) []float64 {
	mx := float64(x[qualityArgmax(x)])
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - mx - math.Log(sum)
	}
	return out
}

func qualityArgmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// BenchmarkAttnShare reports attention's share of a step as the context
// grows: decode (T=1) at depth P = 0, 512, 896 and prefill of T = 128,
// 512, 896 tokens, float32 weights with a float32 and a half KV cache.
// attn% is attn_scores + attn_softmax + attn_values (the fused prefill
// pass is timed as attn_scores) over the sum of every op.
//
//	go test ./model -run '^$' -bench AttnShare -benchtime 10x -count 3
func BenchmarkAttnShare(b *testing.B) {
	var p *Params
	ctx := context.Background()
	for _, kvdt := range []tensor.DType{tensor.F32, tensor.F16} {
		m := benchModelKV(b, &p, tensor.F32, kvdt)
		cfg := m.Config()
		for _, c := range []struct{ P, T int }{{0, 1}, {512, 1}, {896, 1}, {0, 128}, {0, 512}, {0, 896}} {
			b.Run(fmt.Sprintf("kv=%v/P=%d/T=%d", kvdt, c.P, c.T), func(b *testing.B) {
				s, err := m.NewSession(1, c.P+c.T)
				if err != nil {
					b.Fatal(err)
				}
				logits := make([]float32, cfg.VocabSize)
				if c.P > 0 {
					if err := s.Forward(ctx, [][]int32{tokensFor(cfg, c.P, 1)}, logits); err != nil {
						b.Fatal(err)
					}
				}
				toks := [][]int32{tokensFor(cfg, c.T, 2)}
				var ot opTimer
				s.SetTracer(&ot)
				b.ResetTimer()
				for b.Loop() {
					s.pos = c.P
					if err := s.Forward(ctx, toks, logits); err != nil {
						b.Fatal(err)
					}
				}
				var all, attn time.Duration
				for op := Op(0); op < NumOps; op++ {
					all += ot.total[op]
				}
				attn = ot.total[OpAttnScores] + ot.total[OpAttnSoftmax] + ot.total[OpAttnValues]
				b.ReportMetric(100*attn.Seconds()/all.Seconds(), "attn%")
				b.ReportMetric(attn.Seconds()*1e3/float64(b.N), "attn-ms/op")
			})
		}
		m.Close()
	}
}
