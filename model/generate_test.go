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

// deviceSampler is a DeviceSampler over a CPU Session: greedy only, with
// the argmax done "on the device" (here, after Forward into its own
// logits), counting the calls Generate makes.
type deviceSampler struct {
	*Session
	logits   []float32
	forwards int // Forward calls (must stay 0 on the device path)
	samples  int // ForwardSample calls
}

func (d *deviceSampler) SamplesOnDevice(o SampleOptions) bool { return o.Temperature == 0 }

func (d *deviceSampler) Forward(ctx context.Context, tokens [][]int32, logits []float32) error {
	d.forwards++
	return d.Session.Forward(ctx, tokens, logits)
}

func (d *deviceSampler) ForwardSample(ctx context.Context, tokens [][]int32, _ SampleOptions, ids []int32) error {
	d.samples++
	V := d.Config().VocabSize
	if err := d.Session.Forward(ctx, tokens, d.logits); err != nil {
		return err
	}
	for b := range ids {
		ids[b] = Argmax(d.logits[b*V : (b+1)*V])
	}
	return nil
}

// TestGenerateOnDevice checks that Generate hands a DeviceSampler the
// whole loop when it supports the options (same tokens as the host path,
// no logits copied), and keeps sampling on the host when it does not.
func TestGenerateOnDevice(t *testing.T) {
	m, _ := newTestModel(t, small, Options{})
	ctx := context.Background()
	const B = 2
	prompts := [][]int32{tokensFor(small, 5, 9), tokensFor(small, 5, 3)}
	host, _ := m.NewSession(B, 0)
	dev, _ := m.NewSession(B, 0)
	d := &deviceSampler{Session: dev, logits: make([]float32, B*small.VocabSize)}
	var _ DeviceSampler = d

	want, err := Generate(ctx, host, prompts, GenerateOptions{MaxNewTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	got, err := Generate(ctx, d, prompts, GenerateOptions{MaxNewTokens: 8, OnToken: func(step int, ids []int32) error {
		steps = append(steps, step)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for b := range B {
		if !slices.Equal(got[b], want[b]) {
			t.Errorf("sequence %d: device path %v, host path %v", b, got[b], want[b])
		}
	}
	if d.forwards != 0 || d.samples != 8 || len(steps) != 8 || dev.Pos() != 5+7 {
		t.Errorf("%d Forward, %d ForwardSample, %d OnToken calls, %d positions; want 0, 8, 8, 12", d.forwards, d.samples, len(steps), dev.Pos())
	}

	t.Run("stop at eos", func(t *testing.T) {
		d.samples = 0
		eos := want[0][2]
		got, err := Generate(ctx, d, prompts[:B], GenerateOptions{MaxNewTokens: 8, StopAtEOS: true, EOS: eos})
		if err != nil || !slices.Equal(got[0], want[0][:slices.Index(want[0], eos)+1]) {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("unsupported options sample on the host", func(t *testing.T) {
		d.forwards, d.samples = 0, 0
		o := GenerateOptions{MaxNewTokens: 4, Sampling: SampleOptions{Temperature: 1, Seed: 7}}
		a, err := Generate(ctx, d, prompts, o)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(ctx, host, prompts, o)
		if d.samples != 0 || d.forwards != 4 || !slices.Equal(a[0], b[0]) {
			t.Errorf("%d ForwardSample, %d Forward calls, tokens %v vs %v; want 0, 4, equal", d.samples, d.forwards, a[0], b[0])
		}
	})
}
