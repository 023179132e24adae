package model

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// BenchmarkDecodeRoofline measures decode steps against the memory-
// bandwidth roofline side by side, for the lockstep Session and the
// continuous-batching engine's Ragged step: every iteration times one step
// of B sequences at depth 0 and then one streaming read (tensor.Sum: the
// CPU's widest loads), on 2 goroutines, of as many bytes as the step must read (the weights once, without wpe,
// plus the new positions' keys and values) from a buffer of its own. The
// two halves of a pair run within milliseconds of each other, so they see
// the same neighbours on a shared host, whose bandwidth moves by half
// within minutes; runs of separate benchmarks seconds apart do not.
//
// share% is the median over pairs of read time / step time: the step's
// bandwidth as a share of what a plain read achieved beside it (issue 12's
// roofline share). step-GB/s and read-GB/s are the medians of each half.
//
//	go test ./model -run '^$' -bench DecodeRoofline -benchtime 40x
func BenchmarkDecodeRoofline(b *testing.B) {
	var p *Params
	ctx := context.Background()
	cfg := GPT2()
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16} {
		var m *Model
		var buf []float32 // the read's own bytes, sized for the largest step
		for _, batch := range []int{1, 8} {
			for _, kind := range []string{"lockstep", "ragged"} {
				b.Run(fmt.Sprintf("dtype=%v/B=%d/step=%s", dt, batch, kind), func(b *testing.B) {
					if m == nil {
						m = benchModelKV(b, &p, dt, tensor.F32)
					}
					step, err := rooflineStep(m, batch, kind)
					if err != nil {
						b.Fatal(err)
					}
					if err := step(ctx); err != nil { // size the scratch
						b.Fatal(err)
					}
					bytes := m.WeightBytes() - int64(4*len(m.wpe)) + int64(batch)*KVBytesPerTokenOf(cfg, tensor.F32)
					if int64(len(buf)) < bytes/4 {
						buf = make([]float32, bytes/4)
						for i := range buf {
							buf[i] = 1
						}
					}
					read := buf[:bytes/4]
					var stepT, readT, shares []float64
					for b.Loop() {
						t0 := time.Now()
						if err := step(ctx); err != nil {
							b.Fatal(err)
						}
						t1 := time.Now()
						streamRead(read, 2)
						s, r := t1.Sub(t0).Seconds(), time.Since(t1).Seconds()
						stepT, readT, shares = append(stepT, s), append(readT, r), append(shares, r/s)
					}
					b.ReportMetric(float64(batch)/median(stepT), "tok/s")
					b.ReportMetric(float64(bytes)/median(stepT)/1e9, "step-GB/s")
					b.ReportMetric(float64(bytes)/median(readT)/1e9, "read-GB/s")
					b.ReportMetric(100*median(shares), "share%")
				})
			}
		}
		if m != nil {
			m.Close()
		}
	}
}

// rooflineStep returns a function that runs one decode step of batch
// sequences at depth 0 (the cache rewound every time): a lockstep Session
// step, or a Ragged step of batch one-token sequences, each in a block of
// its own.
func rooflineStep(m *Model, batch int, kind string) (func(context.Context) error, error) {
	cfg := m.Config()
	logits := make([]float32, batch*cfg.VocabSize)
	if kind == "lockstep" {
		s, err := m.NewSession(batch, 1)
		if err != nil {
			return nil, err
		}
		toks := make([][]int32, batch)
		for i := range batch {
			toks[i] = []int32{int32(100 + i)}
		}
		return func(ctx context.Context) error {
			s.pos = 0
			return s.Forward(ctx, toks, logits)
		}, nil
	}
	kv, err := NewKVBlocksOf(cfg, tensor.F32, 16, batch)
	if err != nil {
		return nil, err
	}
	r, err := m.NewRagged(kv)
	if err != nil {
		return nil, err
	}
	seqs := make([]SeqStep, batch)
	for i := range seqs {
		seqs[i] = SeqStep{Tokens: []int32{int32(100 + i)}, Blocks: []int32{int32(i)}, Logits: LogitsLast}
	}
	return func(ctx context.Context) error { return r.Step(ctx, seqs, logits) }, nil
}

// streamRead reads buf once, split across threads goroutines: the
// reference read of BenchmarkDecodeRoofline.
func streamRead(buf []float32, threads int) float32 {
	var wg sync.WaitGroup
	sums := make([]float32, threads)
	per := (len(buf) + threads - 1) / threads
	for t := range threads {
		wg.Go(func() {
			part := buf[min(t*per, len(buf)):min((t+1)*per, len(buf))]
			sums[t] = tensor.Sum(part)
		})
	}
	wg.Wait()
	var s float32
	for _, v := range sums {
		s += v
	}
	return s
}

// median returns the middle value of x (the upper one of an even count).
func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}
