package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// fullSortSample is the sampler as first written: every token sorted,
// then the filters. The partial selection must keep the same tokens in
// the same order, so it draws the same token from the same stream.
func fullSortSample(o SampleOptions, rng *rand.Rand, logits []float32) int32 {
	if o.Temperature == 0 {
		return Argmax(logits)
	}
	p := make([]float32, len(logits))
	mx := logits[Argmax(logits)]
	var sum float64
	for i, l := range logits {
		p[i] = float32(math.Exp(float64((l - mx) * (1 / o.Temperature))))
		sum += float64(p[i])
	}
	idx := make([]int32, len(p))
	for i := range idx {
		idx[i] = int32(i)
	}
	if (o.TopK == 0 || o.TopK >= len(p)) && (o.TopP == 0 || o.TopP >= 1) { // no filter: ids in order
		r := rng.Float64() * sum
		for i, v := range p {
			if r -= float64(v); r < 0 {
				return int32(i)
			}
		}
		return int32(len(p) - 1)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return int(a - b)
	})
	k := len(p)
	if o.TopK > 0 {
		k = min(k, o.TopK)
	}
	kept := 0.0
	for i := range k {
		kept += float64(p[idx[i]])
		if o.TopP > 0 && o.TopP < 1 && kept >= float64(o.TopP)*sum {
			k = i + 1
			break
		}
	}
	var ksum float64
	for _, id := range idx[:k] {
		ksum += float64(p[id])
	}
	r := rng.Float64() * ksum
	for _, id := range idx[:k] {
		r -= float64(p[id])
		if r < 0 {
			return id
		}
	}
	return idx[k-1]
}

// TestSamplerMatchesFullSort checks top-k and top-p by partial selection
// against the full sort: the same tokens for the same seed, on peaked and
// flat logits, with ties, for vocabularies small and GPT-2-sized.
func TestSamplerMatchesFullSort(t *testing.T) {
	opts := []SampleOptions{
		{Temperature: 1, TopK: 1}, {Temperature: 0.8, TopK: 40}, {Temperature: 1.3, TopK: 1000},
		{Temperature: 0.7, TopP: 0.9}, {Temperature: 1, TopP: 0.5}, {Temperature: 2, TopP: 0.999},
		{Temperature: 0.9, TopK: 50, TopP: 0.8}, {Temperature: 1, TopK: 5, TopP: 0.99},
	}
	for _, V := range []int{7, 77, 1024, 50257} {
		for _, spread := range []float64{0.1, 3, 12} {
			rng := rand.New(rand.NewPCG(uint64(V), uint64(spread*10)))
			logits := make([]float32, V)
			for i := range logits {
				logits[i] = float32(rng.NormFloat64() * spread)
				if i%5 == 0 && i > 0 {
					logits[i] = logits[i-1] // ties
				}
			}
			for _, o := range opts {
				o.Seed = 11
				t.Run(fmt.Sprintf("V=%d/spread=%g/%+v", V, spread, o), func(t *testing.T) {
					s, err := NewSampler(o, V)
					if err != nil {
						t.Fatal(err)
					}
					ref := rand.New(rand.NewPCG(o.Seed, o.Seed^PCGStream))
					for draw := range 8 {
						if got, want := s.Sample(logits), fullSortSample(s.opts, ref, logits); got != want {
							t.Fatalf("draw %d: token %d, full sort draws %d", draw, got, want)
						}
					}
				})
			}
		}
	}
}

func BenchmarkSample(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 50257)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	for _, o := range []SampleOptions{{}, {Temperature: 0.8}, {Temperature: 0.8, TopK: 40}, {Temperature: 0.8, TopP: 0.9}, {Temperature: 0.8, TopK: 40, TopP: 0.9}} {
		s, _ := NewSampler(o, len(logits))
		b.Run(fmt.Sprintf("temperature=%g/top-k=%d/top-p=%g", o.Temperature, o.TopK, o.TopP), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Sample(logits)
			}
		})
	}
}
