package model

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestGenerate(t *testing.T) {
	m, p := newTestModel(t, small, Options{})
	ctx := context.Background()
	prompt := tokensFor(small, 5, 9)
	s, _ := m.NewSession(1, 0)

	greedy, err := Generate(ctx, s, [][]int32{prompt}, GenerateOptions{MaxNewTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Greedy decoding with the cache equals argmax of the reference pass
	// over the growing sequence.
	seq := slices.Clone(prompt)
	for i := range 10 {
		logits, _, err := Reference(small, p, seq)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := logits.Dims()
		row := logits.RawRowView(r - 1)
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		if greedy[0][i] != int32(best) {
			t.Fatalf("token %d = %d, reference argmax %d", i, greedy[0][i], best)
		}
		seq = append(seq, int32(best))
	}

	t.Run("top-k=1 is greedy", func(t *testing.T) {
		got, err := Generate(ctx, s, [][]int32{prompt}, GenerateOptions{MaxNewTokens: 10, Sampling: SampleOptions{Temperature: 1, TopK: 1}})
		if err != nil || !slices.Equal(got[0], greedy[0]) {
			t.Fatalf("got %v, %v; want %v", got, err, greedy)
		}
	})
	t.Run("seed repeats", func(t *testing.T) {
		o := GenerateOptions{MaxNewTokens: 12, Sampling: SampleOptions{Temperature: 1.5, TopP: 0.95, Seed: 42}}
		a, err1 := Generate(ctx, s, [][]int32{prompt}, o)
		b, err2 := Generate(ctx, s, [][]int32{prompt}, o)
		if err1 != nil || err2 != nil || !slices.Equal(a[0], b[0]) {
			t.Fatalf("same seed gave %v and %v (%v, %v)", a, b, err1, err2)
		}
		o.Sampling.Seed = 43
		c, _ := Generate(ctx, s, [][]int32{prompt}, o)
		if slices.Equal(a[0], c[0]) {
			t.Errorf("seeds 42 and 43 gave the same 12 tokens %v", a[0])
		}
	})
	t.Run("stop at eos", func(t *testing.T) {
		eos := greedy[0][3]
		got, err := Generate(ctx, s, [][]int32{prompt}, GenerateOptions{MaxNewTokens: 10, StopAtEOS: true, EOS: eos})
		want := greedy[0][:slices.Index(greedy[0], eos)+1]
		if err != nil || !slices.Equal(got[0], want) {
			t.Fatalf("got %v, %v; want %v", got, err, want)
		}
	})
	t.Run("context", func(t *testing.T) {
		var ce *ContextError
		_, err := Generate(ctx, s, [][]int32{prompt}, GenerateOptions{MaxNewTokens: 21})
		if !errors.As(err, &ce) || ce.Have != 25 {
			t.Fatalf("err = %v, want *ContextError{Have: 25}", err)
		}
		if _, err := Generate(ctx, s, [][]int32{prompt}, GenerateOptions{MaxNewTokens: 20}); err != nil {
			t.Fatalf("prompt 5 + 20 new tokens fills the 24-position context exactly: %v", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []GenerateOptions{
			{MaxNewTokens: 0},
			{MaxNewTokens: 1, Sampling: SampleOptions{Temperature: -1}},
			{MaxNewTokens: 1, Sampling: SampleOptions{Temperature: 1, TopP: 2}},
			{MaxNewTokens: 1, Sampling: SampleOptions{Temperature: 1, TopK: -3}},
		} {
			if _, err := Generate(ctx, s, [][]int32{prompt}, o); err == nil {
				t.Errorf("Generate(%+v) succeeded, want an error", o)
			}
		}
	})
}

func TestSamplerDistribution(t *testing.T) {
	// logits ln(1), ln(2), ln(7): probabilities 0.1, 0.2, 0.7.
	logits := []float32{0, 0.6931472, 1.9459101}
	s, err := NewSampler(SampleOptions{Temperature: 1, Seed: 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	var counts [3]int
	const n = 20000
	for range n {
		counts[s.Sample(logits)]++
	}
	for i, want := range []float64{0.1, 0.2, 0.7} {
		if got := float64(counts[i]) / n; got < want-0.02 || got > want+0.02 {
			t.Errorf("token %d drawn %.3f of the time, want %.2f", i, got, want)
		}
	}
	s, _ = NewSampler(SampleOptions{Temperature: 1, TopP: 0.7, Seed: 1}, 3)
	for range 100 {
		if id := s.Sample(logits); id != 2 {
			t.Fatalf("top-p 0.7 drew %d, want only token 2", id)
		}
	}
	s, _ = NewSampler(SampleOptions{Temperature: 1, TopK: 2, Seed: 1}, 3)
	for range 100 {
		if id := s.Sample(logits); id == 0 {
			t.Fatal("top-k 2 drew token 0")
		}
	}
}
