package model

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkBackends times a 64-token prefill and a decode step (batch 1,
// after the prefill) of GPT-2 124M with random weights on the three CPU
// backends: what gpt2bench's kernels buy over gonum's BLAS and over the
// float64 reference.
//
//	go test ./model -run '^$' -bench Backends -count 5 | benchstat -col /impl -
func BenchmarkBackends(b *testing.B) {
	cfg := GPT2()
	p, err := RandomParams(cfg, 1234)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(cfg, p, Options{Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	const T = 64
	impls := []struct {
		name string
		open func() (Backend, error)
	}{
		{"cpu", func() (Backend, error) { return m.NewSession(1, 2*T) }},
		{"gonum", func() (Backend, error) {
			g, err := NewGonum(cfg, p)
			if err != nil {
				return nil, err
			}
			return g.NewSession(1, 2*T)
		}},
		{"reference", func() (Backend, error) {
			r, err := NewRef(cfg, p)
			if err != nil {
				return nil, err
			}
			return r.NewSession(1, 2*T)
		}},
	}
	ctx := context.Background()
	prompt := [][]int32{tokensFor(cfg, T, 1)}
	logits := make([]float32, cfg.VocabSize)
	for _, im := range impls {
		be, err := im.open()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("step=prefill/T=%d/impl=%s", T, im.name), func(b *testing.B) {
			for b.Loop() {
				be.Reset()
				if err := be.Forward(ctx, prompt, logits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/prefill")
		})
		b.Run(fmt.Sprintf("step=decode/P=%d/impl=%s", T, im.name), func(b *testing.B) {
			next := [][]int32{{42}}
			be.Reset()
			if err := be.Forward(ctx, prompt, logits); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if be.Pos() == 2*T {
					b.StopTimer()
					be.Reset()
					if err := be.Forward(ctx, prompt, logits); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if err := be.Forward(ctx, next, logits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
