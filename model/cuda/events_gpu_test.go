//go:build cuda

package cuda

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// TestDeviceTimer runs the fixture prompt then decode steps with a
// model.DeviceTracer, with and without graphs, and checks that timing
// changes no logit (bit for bit against an untimed session), that every
// op of every step is reported once with a positive time, in order, and
// that the ops are consecutive on the GPU (each starts where the last
// ended).
func TestDeviceTimer(t *testing.T) {
	ctx := context.Background()
	cfg, p, ref := loadFixture(t, filepath.Join("..", "..", "testdata", "tiny-gpt2"))
	g := openGPU(t, cfg, p, tensor.F32)
	V := cfg.VocabSize
	for _, graphs := range []bool{true, false} {
		t.Run(fmt.Sprintf("graphs=%v", graphs), func(t *testing.T) {
			plain, err := g.NewSession(1, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			timed, err := g.NewSession(1, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer timed.Close()
			timed.SetGraphs(graphs)
			var rec spanRecorder
			timed.SetTracer(&rec)
			want, got := make([]float32, V), make([]float32, V)
			steps := [][]int32{ref.InputIDs, {3}, {5}, {7}}
			for i, tok := range steps {
				rec.ops = rec.ops[:0]
				if err := plain.Forward(ctx, [][]int32{tok}, want); err != nil {
					t.Fatal(err)
				}
				if err := timed.Forward(ctx, [][]int32{tok}, got); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("step %d: timed logits differ from untimed", i)
				}
				ls, err := plan(cfg, tensor.F32, shape{B: 1, T: len(tok), Cap: cfg.NPositions, NoSample: true})
				if err != nil {
					t.Fatal(err)
				}
				tm := planTiming(ls)
				if len(rec.ops) != len(tm.spans) {
					t.Fatalf("step %d: %d ops reported, want %d", i, len(rec.ops), len(tm.spans))
				}
				var end time.Duration
				for j, o := range rec.ops {
					sp := tm.spans[j]
					if o.layer != sp.layer || o.op != sp.op || o.dur <= 0 {
						t.Errorf("step %d op %d: layer %d %s %v, want layer %d %s > 0", i, j, o.layer, o.op, o.dur, sp.layer, sp.op)
					}
					if d := o.start - end; d < -time.Microsecond || d > time.Microsecond {
						t.Errorf("step %d op %d (%s) starts %v after the previous op ended", i, j, o.op, d)
					}
					end = o.start + o.dur
				}
				t.Logf("step %d (T=%d): %d ops, %v on the GPU", i, len(tok), len(rec.ops), end)
			}
		})
	}
}

// TestSpeedOps prints gpt2's per-op GPU time from CUDA events for a
// 128-token prefill and the decode steps after it (graphs on), with
// kernel sets V1 and V2, and each decode step's GPU time as a share of the
// nominal memory bandwidth, when GPT2BENCH_CUDA_BENCH is set: the
// breakdown the profiler reports.
func TestSpeedOps(t *testing.T) {
	cfg := speedModel(t)
	ctx := context.Background()
	p, err := model.RandomParams(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	prompt := make([]int32, 128)
	for i := range prompt {
		prompt[i] = int32(i * 37 % cfg.VocabSize)
	}
	for _, dt := range []tensor.DType{tensor.F16, tensor.F32} {
		g := openGPU(t, cfg, p, dt)
		s, err := g.NewSession(1, 1024)
		if err != nil {
			t.Fatal(err)
		}
		var rec spanRecorder
		run := func() (prefill, decode map[string]time.Duration, steps int) {
			s.Reset()
			prefill, decode = map[string]time.Duration{}, map[string]time.Duration{}
			rec.ops = rec.ops[:0]
			if err := s.Forward(ctx, [][]int32{prompt}, nil); err != nil {
				t.Fatal(err)
			}
			for _, o := range rec.ops {
				prefill[o.op.String()] += o.dur
			}
			for i := range scaled(64) {
				rec.ops = rec.ops[:0]
				if err := s.Forward(ctx, [][]int32{{int32(i)}}, nil); err != nil {
					t.Fatal(err)
				}
				for _, o := range rec.ops {
					decode[o.op.String()] += o.dur
				}
			}
			return prefill, decode, scaled(64)
		}
		s.SetTracer(&rec)
		run() // capture the timed graphs
		prefill, decode, n := run()
		t.Logf("ops %s prefill128 (CUDA events, graph): %s", dt, formatOps(prefill, 1))
		t.Logf("ops %s decode at 128..191 (CUDA events, graph, per step): %s", dt, formatOps(decode, n))
		// Kernel set V2 (decode steps only: the prefill runs V1's plan).
		s.SetKernels(KernelsV2)
		run()
		_, decode2, n2 := run()
		s.SetKernels(KernelsV1)
		s.SetTracer(nil)
		t.Logf("ops %s v2 decode at 128..191 (CUDA events, graph, per step): %s", dt, formatOps(decode2, n2))
		var sum1, sum2 time.Duration
		for _, d := range decode {
			sum1 += d
		}
		for _, d := range decode2 {
			sum2 += d
		}
		ms1, ms2 := float64(sum1)/1e6/float64(n), float64(sum2)/1e6/float64(n2)
		t.Logf("ops %s decode GPU time per step: v1 %.3f ms (%.1f%% of nominal bandwidth for the weights), v2 %.3f ms (%.1f%%)",
			dt, ms1, 100*bandwidthShare(g, ms1), ms2, 100*bandwidthShare(g, ms2))
		// model.Generate end to end, greedy and sampled on the device:
		// what `gpt2bench bench --backend cuda` measures.
		for _, so := range []model.SampleOptions{{}, {Temperature: 1, TopK: 50, TopP: 0.95, Seed: 1}, {Temperature: 1, TopP: 0.9, Seed: 1}} {
			o := model.GenerateOptions{MaxNewTokens: scaled(128), Sampling: so}
			if _, err := model.Generate(ctx, s, [][]int32{prompt}, o); err != nil { // warm-up, graph capture
				t.Fatal(err)
			}
			t0 := time.Now()
			if _, err := model.Generate(ctx, s, [][]int32{prompt}, o); err != nil {
				t.Fatal(err)
			}
			el := time.Since(t0)
			rec.ops = rec.ops[:0]
			s.SetTracer(&rec)
			if _, err := model.Generate(ctx, s, [][]int32{prompt}, o); err != nil {
				t.Fatal(err)
			}
			s.SetTracer(nil)
			var sample time.Duration
			for _, op := range rec.ops {
				if op.op == model.OpSample {
					sample += op.dur
				}
			}
			n := o.MaxNewTokens
			t.Logf("generate %s t=%g k=%d p=%g: 128+%d tokens in %v (%.0f tok/s incl. prefill); sample op %.1fus/token",
				dt, so.Temperature, so.TopK, so.TopP, n, el, float64(n)/el.Seconds(), float64(sample)/1e3/float64(n))
		}
		s.Close()
	}
}

// formatOps lists op times divided by n, largest first, with the total.
func formatOps(m map[string]time.Duration, n int) string {
	type kv struct {
		op string
		d  time.Duration
	}
	var all []kv
	var total time.Duration
	for op, d := range m {
		all = append(all, kv{op, d / time.Duration(n)})
		total += d / time.Duration(n)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].d > all[j].d })
	var b strings.Builder
	for _, e := range all {
		fmt.Fprintf(&b, "%s=%.1fus ", e.op, float64(e.d)/1e3)
	}
	fmt.Fprintf(&b, "total=%.1fus", float64(total)/1e3)
	return b.String()
}

// TestGenerateOnDevice checks model.Generate on a CUDA session: greedy
// decoding runs through ForwardSample (argmax on the GPU, ids fed back
// without an upload) and gives transformers' continuation on the fixture,
// for both kernel sets; a batch of two matches the CPU's Generate; the
// device profile sees the sampling op once per token; ForwardSample
// rejects bad options. TestForwardSample checks sampling with both kernel
// sets.
func TestGenerateOnDevice(t *testing.T) {
	ctx := context.Background()
	cfg, p, ref := loadFixture(t, filepath.Join("..", "..", "testdata", "tiny-gpt2"))
	g := openGPU(t, cfg, p, tensor.F32)
	n := len(ref.GreedyContinuation)
	for _, k := range []Kernels{KernelsV1, KernelsV2} {
		t.Run(k.String(), func(t *testing.T) {
			s, err := g.NewSession(1, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.SetKernels(k)
			var rec spanRecorder
			s.SetTracer(&rec)
			out, err := model.Generate(ctx, s, [][]int32{ref.InputIDs}, model.GenerateOptions{MaxNewTokens: n})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out[0], ref.GreedyContinuation) {
				t.Errorf("continuation\n got %v\nwant %v", out[0], ref.GreedyContinuation)
			}
			samples := 0
			for _, o := range rec.ops {
				if o.op == model.OpSample {
					samples++
				}
			}
			if samples != n {
				t.Errorf("%d sampling ops timed for %d tokens", samples, n)
			}
		})
	}
	t.Run("batch", func(t *testing.T) {
		const B = 2
		prompts := rotate(ref.InputIDs, B)
		s, err := g.NewSession(B, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		cs, err := cpuModel(t, cfg, p, tensor.F32).NewSession(B, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := model.Generate(ctx, s, prompts, model.GenerateOptions{MaxNewTokens: 8})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := model.Generate(ctx, cs, prompts, model.GenerateOptions{MaxNewTokens: 8})
		for b := range B {
			if !slices.Equal(got[b], want[b]) {
				t.Errorf("sequence %d: GPU %v, CPU %v", b, got[b], want[b])
			}
		}
		ids := make([]int32, B)
		if err := s.ForwardSample(ctx, prompts, model.SampleOptions{Temperature: -1}, ids); err == nil {
			t.Error("ForwardSample at temperature -1 succeeded, want an error")
		}
		if err := s.ForwardSample(ctx, prompts, model.SampleOptions{}, ids[:1]); err == nil {
			t.Error("ForwardSample with 1 id for 2 sequences succeeded, want an error")
		}
	})
}
