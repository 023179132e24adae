//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gpt2bench/gpt2bench/model"
)

// pcgWords returns sequence b's starting PCG states (hi, lo) for seed as
// the int32 words bufRNG holds (little-endian uint64s).
func pcgWords(seed uint64, B int) []int32 {
	w := make([]int32, 4*B)
	for b := range B {
		sb := seed + uint64(b)
		for j, v := range []uint64{sb, sb ^ model.PCGStream} {
			w[4*b+2*j], w[4*b+2*j+1] = int32(uint32(v)), int32(uint32(v>>32))
		}
	}
	return w
}

// TestKernelSample draws with the sample kernel and with model.Sampler
// from the same logits and seeds, step after step (the device's PCG
// streams advance as the host's do), and wants the same tokens: for
// temperature alone (drawn in id order), top-k, top-p, both, on peaked,
// flat and tied logits, a vocabulary the size of gpt2's, and rows picked
// by step/off as in a prefill step.
func TestKernelSample(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(21, 22))
	type logitKind int
	const (
		peaked logitKind = iota // a few tokens hold most of the mass
		flat                    // nearly uniform (random weights)
		tied                    // many exactly equal logits
	)
	gen := func(kind logitKind, n int) []float32 {
		l := make([]float32, n)
		for i := range l {
			switch kind {
			case peaked:
				l[i] = float32(rng.NormFloat64() * 3)
			case flat:
				l[i] = float32(rng.NormFloat64() * 0.05)
			case tied:
				l[i] = float32(rng.IntN(4)) // four distinct values
			}
		}
		return l
	}
	for _, tc := range []struct {
		V, B, T int
		kind    logitKind
		opts    model.SampleOptions
	}{
		{1000, 1, 1, peaked, model.SampleOptions{Temperature: 1}},
		{1000, 3, 1, peaked, model.SampleOptions{Temperature: 0.7, TopK: 40}},
		{1000, 2, 1, peaked, model.SampleOptions{Temperature: 1.3, TopP: 0.9}},
		{1000, 2, 1, peaked, model.SampleOptions{Temperature: 0.9, TopK: 50, TopP: 0.8}},
		{1000, 1, 1, flat, model.SampleOptions{Temperature: 1, TopP: 0.95}},
		{1000, 2, 1, tied, model.SampleOptions{Temperature: 1, TopK: 300}},
		{1000, 2, 1, tied, model.SampleOptions{Temperature: 1, TopP: 0.5}},
		{1000, 1, 1, peaked, model.SampleOptions{Temperature: 1, TopK: 1}},
		{1000, 1, 1, peaked, model.SampleOptions{Temperature: 1, TopK: 999}},
		{50257, 2, 1, peaked, model.SampleOptions{Temperature: 0.8, TopK: 50, TopP: 0.95}},
		{50257, 1, 1, flat, model.SampleOptions{Temperature: 1, TopP: 0.9}},
		{50257, 1, 1, flat, model.SampleOptions{Temperature: 1}},
		{777, 2, 3, peaked, model.SampleOptions{Temperature: 1, TopK: 7}}, // rows b*T + T-1
		{33, 1, 1, tied, model.SampleOptions{Temperature: 2}},
	} {
		name := fmt.Sprintf("V=%d/B=%d/T=%d/kind=%d/t=%g/k=%d/p=%g", tc.V, tc.B, tc.T, tc.kind, tc.opts.Temperature, tc.opts.TopK, tc.opts.TopP)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && tc.V > 1000 && (tc.opts.TopK > 0 || tc.opts.TopP > 0) {
				t.Skip("-short: gpt2's vocabulary with top-k/top-p takes minutes under scripts/cudaemu")
			}
			h.t = t
			const steps = 12
			seed := rng.Uint64()
			samplers := make([]*model.Sampler, tc.B)
			for b := range samplers {
				o := tc.opts
				o.Seed = seed + uint64(b)
				s, err := model.NewSampler(o, tc.V)
				if err != nil {
					t.Fatal(err)
				}
				samplers[b] = s
			}
			h.put(bufRNG, pcgWords(seed, tc.B))
			h.alloc(bufProbs, tc.B*tc.V)
			h.put(bufTok, make([]int32, tc.B))
			for step := range steps {
				l := gen(tc.kind, tc.B*tc.T*tc.V)
				h.put(bufLogits, l)
				h.run(launch{kernel: "sample", grid: [3]int{tc.B, 1, 1}, block: sampleThreads,
					args: []arg{ptr(bufTok), ptr(bufLogits), intArg(tc.V), intArg(tc.T), intArg(tc.T - 1),
						floatArg(tc.opts.Temperature), intArg(tc.opts.TopK), floatArg(tc.opts.TopP), ptr(bufRNG), ptr(bufProbs)}})
				got := h.getInts(bufTok, tc.B)
				for b := range tc.B {
					row := l[(b*tc.T+tc.T-1)*tc.V : (b*tc.T+tc.T)*tc.V]
					want := samplers[b].Sample(row)
					if got[b] != want {
						t.Errorf("step %d sequence %d: GPU drew %d (logit %g), host %d (logit %g)", step, b, got[b], row[got[b]], want, row[want])
					}
				}
			}
			// The kernel's probabilities: exp((l - max)/t), so 1 at the max.
			probs := h.get(bufProbs, tc.V)
			var top float32
			for i, p := range probs {
				if p < 0 || p > 1 || math.IsNaN(float64(p)) {
					t.Fatalf("probability %d = %g, want 0..1", i, p)
				}
				top = max(top, p)
			}
			if top != 1 {
				t.Errorf("largest probability %g, want 1 (the max logit)", top)
			}
		})
	}
}
