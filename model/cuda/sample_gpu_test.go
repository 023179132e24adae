//go:build cuda

package cuda

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
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
		{1000, 2, 1, flat, model.SampleOptions{Temperature: 1, TopK: 5, TopP: 0.9}}, // top-p never reached inside top-k
		{1000, 1, 1, flat, model.SampleOptions{Temperature: 0.5, TopK: 1, TopP: 0.5}},
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
					if tc.kind == flat && tc.opts.TopK > 0 && tc.opts.TopP > 0 && topKMass(row, tc.opts) >= float64(tc.opts.TopP) {
						t.Fatalf("step %d sequence %d: the top %d tokens hold %.3g of the mass, the case wants top-p %g never reached", step, b, tc.opts.TopK, topKMass(row, tc.opts), tc.opts.TopP)
					}
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

// topKMass returns the share of the probability mass (at o's
// temperature) that the o.TopK most likely tokens of logits hold.
func topKMass(logits []float32, o model.SampleOptions) float64 {
	p := make([]float64, len(logits))
	mx := logits[model.Argmax(logits)]
	var sum float64
	for i, l := range logits {
		p[i] = math.Exp(float64((l - mx) / o.Temperature))
		sum += p[i]
	}
	slices.SortFunc(p, func(a, b float64) int { return cmp.Compare(b, a) })
	var top float64
	for _, v := range p[:o.TopK] {
		top += v
	}
	return top / sum
}

// cpuNext runs tokens through the CPU session cs and returns each
// sequence's argmax: what a greedy ForwardSample must choose.
func cpuNext(t *testing.T, cs *model.Session, tokens [][]int32) []int32 {
	t.Helper()
	V := cs.Config().VocabSize
	logits := make([]float32, len(tokens)*V)
	if err := cs.Forward(context.Background(), tokens, logits); err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, len(tokens))
	for b := range ids {
		ids[b] = model.Argmax(logits[b*V : (b+1)*V])
	}
	return ids
}

// TestForwardSample checks the host side of sampling on the device, for
// both kernel sets: tokens that differ from the ids the last step chose
// (all of them, or one sequence of two) are uploaded, the ids themselves
// are not and still give the CPU's choice; a step that fails after its
// argmax overwrote the device's ids leaves nothing marked as fed back, so
// the next step uploads its tokens; the same seed twice in a session (and
// again after another seed) draws the same tokens as the CPU's Generate;
// temperature, top-k and top-p (including a top-p that the top-k tokens
// never reach) draw the CPU's tokens from the same seeds.
func TestForwardSample(t *testing.T) {
	ctx := context.Background()
	cfg, p, ref := loadFixture(t, filepath.Join("..", "..", "testdata", "tiny-gpt2"))
	g := openGPU(t, cfg, p, tensor.F32)
	cm := cpuModel(t, cfg, p, tensor.F32)
	V := int32(cfg.VocabSize)
	const B = 2
	prompts := rotate(ref.InputIDs, B)
	greedy := model.SampleOptions{}
	for _, k := range []Kernels{KernelsV1, KernelsV2} {
		t.Run(k.String(), func(t *testing.T) {
			s, err := g.NewSession(B, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.SetKernels(k)
			cs, err := cm.NewSession(B, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("tokens", func(t *testing.T) {
				s.Reset()
				cs.Reset()
				ids := make([]int32, B)
				tokens := prompts
				for step, kind := range []string{"prompt", "other ids", "fed back", "one differs", "fed back"} {
					if step > 0 {
						tokens = [][]int32{{ids[0]}, {ids[1]}}
						switch kind {
						case "other ids":
							tokens = [][]int32{{(ids[0] + 1) % V}, {(ids[1] + 7) % V}}
						case "one differs":
							tokens[1][0] = (ids[1] + 3) % V
						}
					}
					if err := s.ForwardSample(ctx, tokens, greedy, ids); err != nil {
						t.Fatal(err)
					}
					if want := cpuNext(t, cs, tokens); !slices.Equal(ids, want) {
						t.Errorf("step %d (%s, tokens %v): GPU chose %v, CPU %v", step, kind, tokens, ids, want)
					}
				}
			})
			t.Run("seed twice", func(t *testing.T) {
				for i, so := range []model.SampleOptions{{Temperature: 1, TopK: 20, Seed: 7}, {Temperature: 1, TopK: 20, Seed: 7},
					{Temperature: 0.9, Seed: 8}, {Temperature: 1, TopK: 20, Seed: 7}} {
					o := model.GenerateOptions{MaxNewTokens: 4, Sampling: so}
					got, err := model.Generate(ctx, s, prompts, o)
					if err != nil {
						t.Fatal(err)
					}
					want, err := model.Generate(ctx, cs, prompts, o)
					if err != nil {
						t.Fatal(err)
					}
					for b := range B {
						if !slices.Equal(got[b], want[b]) {
							t.Errorf("generation %d %+v sequence %d: GPU %v, CPU %v", i, so, b, got[b], want[b])
						}
					}
				}
			})
			// Temperature, top-k, top-p, drawn by the sample kernel from
			// the same streams as the host's Samplers. The logits differ
			// from the CPU's by ~1e-5, so a draw could in principle land
			// on the other side of a boundary; at these sizes that is a
			// 1e-4 chance. The random fixture's logits are nearly flat, so
			// the 3 most likely of 1024 tokens hold far less than 0.95 of
			// the mass: top-p is never reached inside top-k and keeps all 3.
			t.Run("sampling", func(t *testing.T) {
				for _, so := range []model.SampleOptions{{Temperature: 0.8, TopK: 20, Seed: 3}, {Temperature: 1.2, TopP: 0.9, Seed: 4},
					{Temperature: 1, Seed: 5}, {Temperature: 1, TopK: 3, TopP: 0.95, Seed: 6}} {
					o := model.GenerateOptions{MaxNewTokens: 6, Sampling: so}
					got, err := model.Generate(ctx, s, prompts, o)
					if err != nil {
						t.Fatal(err)
					}
					want, err := model.Generate(ctx, cs, prompts, o)
					if err != nil {
						t.Fatal(err)
					}
					for b := range B {
						if !slices.Equal(got[b], want[b]) {
							t.Errorf("%+v sequence %d: GPU %v, CPU %v", so, b, got[b], want[b])
						}
					}
				}
			})
		})
	}
	// A decode step whose argmax ran (the device's ids are the new ones)
	// and whose last launch failed: the host still holds the previous ids,
	// which must not count as fed back. V1 launch by launch, so argmax
	// runs before the broken advance.
	t.Run("failed step", func(t *testing.T) {
		s, err := g.NewSession(1, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.SetGraphs(false)
		cs, err := cm.NewSession(1, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int32, 1)
		if err := s.ForwardSample(ctx, prompts[:1], greedy, ids); err != nil {
			t.Fatal(err)
		}
		a := ids[0]
		if want := cpuNext(t, cs, prompts[:1]); ids[0] != want[0] {
			t.Fatalf("prompt: GPU chose %d, CPU %d", ids[0], want[0])
		}
		c, err := s.compile(shape{B: 1, T: 1, Cap: s.cap, Kernels: KernelsV1})
		if err != nil {
			t.Fatal(err)
		}
		last := &c.ls[len(c.ls)-1]
		if last.kernel != "advance" || c.ls[len(c.ls)-2].kernel != "argmax" {
			t.Fatalf("decode plan ends with %s, %s; want argmax, advance", c.ls[len(c.ls)-2].kernel, last.kernel)
		}
		last.block = 2048 // over the driver's 1024: the launch fails
		if err := s.ForwardSample(ctx, [][]int32{{a}}, greedy, ids); err == nil {
			t.Fatal("a step with a 2048-thread launch succeeded")
		} else {
			t.Logf("broken step: %v", err)
		}
		if s.fedBack {
			t.Error("a failed step left fedBack set")
		}
		last.block = 1
		ids[0] = a // as the caller still has it
		if err := s.ForwardSample(ctx, [][]int32{{a}}, greedy, ids); err != nil {
			t.Fatal(err)
		}
		if want := cpuNext(t, cs, [][]int32{{a}}); ids[0] != want[0] {
			t.Errorf("after the failed step: GPU chose %d, CPU %d (the failed step's ids were reused)", ids[0], want[0])
		}
	})
}
