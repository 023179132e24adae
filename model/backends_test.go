package model

import (
	"context"
	"fmt"
	"math"
	"testing"
)

// backendTol bounds |float32 backend - float64 reference| on logits and on
// every op's output (relative to max(1, |reference|)): float32 rounding of
// C- and F-term sums on the test shapes stays near 1e-6.
const backendTol = 1e-4

// testBackends returns a cpu Session, a GonumSession and a RefSession of
// the same weights, each for batch sequences.
func testBackends(t *testing.T, cfg Config, batch int) (cpu *Session, gn *GonumSession, ref *RefSession) {
	t.Helper()
	m, p := newTestModel(t, cfg, Options{Threads: 2})
	var err error
	if cpu, err = m.NewSession(batch, 0); err != nil {
		t.Fatal(err)
	}
	g, err := NewGonum(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	if gn, err = g.NewSession(batch, 0); err != nil {
		t.Fatal(err)
	}
	r, err := NewRef(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	if ref, err = r.NewSession(batch, 0); err != nil {
		t.Fatal(err)
	}
	return cpu, gn, ref
}

// TestBackendsAgree runs prompts of several lengths and batch sizes, then
// decode steps through the KV cache, on the three backends: the float32
// ones stay within backendTol of the float64 reference at every step.
func TestBackendsAgree(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		cfg        Config
		B, T, more int
	}{
		{"small/B=1/T=1", small, 1, 1, 3},
		{"small/B=1/T=9", small, 1, 9, 4},
		{"small/B=3/T=5", small, 3, 5, 4},
		{"gelu-erf/B=2/T=4", func() Config { c := small; c.Activation = "gelu"; return c }(), 2, 4, 2},
		{"heads64/B=2/T=40", heads64, 2, 40, 2}, // prefill through tensor's fused attention (AVX-512)
	} {
		t.Run(tc.name, func(t *testing.T) {
			cpu, gn, ref := testBackends(t, tc.cfg, tc.B)
			V := tc.cfg.VocabSize
			tokens := make([][]int32, tc.B)
			for b := range tokens {
				tokens[b] = tokensFor(tc.cfg, tc.T, b)
			}
			want := make([]float32, tc.B*tc.T*V)
			for step := range tc.more + 1 {
				if step > 0 { // one more token per sequence, from the reference's argmax
					want = want[:tc.B*V]
					for b := range tokens {
						tokens[b] = []int32{Argmax(want[b*V : (b+1)*V])}
					}
				}
				if err := ref.Forward(ctx, tokens, want); err != nil {
					t.Fatal(err)
				}
				for _, be := range []Backend{cpu, gn} {
					got := make([]float32, len(want))
					if err := be.Forward(ctx, tokens, got); err != nil {
						t.Fatal(err)
					}
					if d, at := maxDiff(got, widen(want)); d > backendTol {
						t.Fatalf("%s step %d: max |logit - reference| = %.3g at %d (got %g, want %g)", be.Name(), step, d, at, got[at], want[at])
					}
				}
			}
		})
	}
}

// heads64 has GPT-2's head size (64), so prefill takes tensor's fused
// attention where the machine has AVX-512 (tensor.AttnFused).
var heads64 = Config{VocabSize: 77, NPositions: 96, NEmbd: 128, NLayer: 2, NHead: 2, NInner: 96, LayerNormEps: 1e-5, Activation: "gelu_new"}

// TestPromptChunks feeds a prompt in chunks of several sizes (the fused
// attention with cached positions before the chunk, and the row-by-row
// one below 8 rows) and checks every chunk's logits against the
// reference's, and that a Probe (which keeps the attention passes) sees
// attention rows that sum to one.
func TestPromptChunks(t *testing.T) {
	ctx := context.Background()
	cpu, _, ref := testBackends(t, heads64, 1)
	all := tokensFor(heads64, 70, 1)
	V := heads64.VocabSize
	pos := 0
	for _, n := range []int{20, 12, 9, 3, 1, 25} {
		tok := [][]int32{all[pos : pos+n]}
		want, got := make([]float32, n*V), make([]float32, n*V)
		if err := ref.Forward(ctx, tok, want); err != nil {
			t.Fatal(err)
		}
		if err := cpu.Forward(ctx, tok, got); err != nil {
			t.Fatal(err)
		}
		if d, at := maxDiff(got, widen(want)); d > backendTol {
			t.Fatalf("chunk of %d at %d: max |logit - reference| = %.3g at %d", n, pos, d, at)
		}
		pos += n
	}
	outs, _ := probeAll(t, cpu, tokensFor(heads64, 20, 2))
	for k, a := range outs {
		if k.op != OpAttnSoftmax {
			continue
		}
		span := a.Shape[3]
		for r := range len(a.Data) / span {
			var sum float64
			for _, v := range a.Data[r*span : (r+1)*span] {
				sum += v
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Fatalf("probe: step %d layer %d row %d of the attention sums to %g", k.step, k.layer, r, sum)
			}
		}
	}
}

// opKey names one op output of one step.
type opKey struct {
	step, layer int
	op          Op
}

// probeAll runs a prefill of T tokens and one decode step on be with a
// Probe and returns every op output and the logits of each step.
func probeAll(t *testing.T, be Inspectable, tokens []int32) (map[opKey]Activation, [][]float32) {
	t.Helper()
	ctx := context.Background()
	outs := map[opKey]Activation{}
	step := 0
	be.SetTracer(NewProbe(be, func(_ Step, layer int, op Op, a Activation) {
		outs[opKey{step, layer, op}] = a
	}))
	defer be.SetTracer(nil)
	V := be.Config().VocabSize
	prefill := make([]float32, len(tokens)*V)
	if err := be.Forward(ctx, [][]int32{tokens}, prefill); err != nil {
		t.Fatal(err)
	}
	step++
	decode := make([]float32, V)
	if err := be.Forward(ctx, [][]int32{{tokens[0]}}, decode); err != nil {
		t.Fatal(err)
	}
	return outs, [][]float32{prefill, decode}
}

// TestProbeMatchesReference compares every op's output of the float32
// backends with the reference's, in prefill and in a decode step.
func TestProbeMatchesReference(t *testing.T) {
	cpu, gn, ref := testBackends(t, small, 1)
	tokens := tokensFor(small, 7, 3)
	want, _ := probeAll(t, ref, tokens)
	// Every op of every layer, both steps: embed, ln_f and logits once per
	// step, 12 layer ops per layer per step.
	if n := 2 * (3 + 12*small.NLayer); len(want) != n {
		t.Fatalf("reference probe saw %d op outputs, want %d", len(want), n)
	}
	for _, be := range []Inspectable{cpu, gn} {
		got, _ := probeAll(t, be, tokens)
		for k, w := range want {
			g, ok := got[k]
			if !ok {
				if k.op == OpLogits && be.Name() == "cpu" {
					continue // a Session does not keep its logits
				}
				t.Errorf("%s: no output for step %d layer %d %s", be.Name(), k.step, k.layer, k.op)
				continue
			}
			if fmt.Sprint(g.Shape) != fmt.Sprint(w.Shape) {
				t.Fatalf("%s: step %d layer %d %s shape %v, want %v", be.Name(), k.step, k.layer, k.op, g.Shape, w.Shape)
			}
			for i := range w.Data {
				if d := math.Abs(g.Data[i]-w.Data[i]) / math.Max(1, math.Abs(w.Data[i])); d > backendTol || math.IsNaN(d) {
					t.Fatalf("%s: step %d layer %d %s: |got - reference| = %.3g at %d (got %g, want %g)", be.Name(), k.step, k.layer, k.op, d, i, g.Data[i], w.Data[i])
				}
			}
		}
	}
}

// TestHeadIsLogits checks that the LM head applied to the residual stream
// after the last block gives each backend's own logits.
func TestHeadIsLogits(t *testing.T) {
	cpu, gn, ref := testBackends(t, small, 1)
	tokens := tokensFor(small, 6, 1)
	for _, be := range []Inspectable{cpu, gn, ref} {
		outs, logits := probeAll(t, be, tokens)
		x := outs[opKey{0, small.NLayer - 1, OpResidual2}]
		got := widen(narrow(be.Head(x).Data)) // the backends' logits are float32
		if d, at := maxDiff(logits[0], got); d != 0 {
			t.Errorf("%s: Head(residual after last block) differs from the logits by %g at %d", be.Name(), d, at)
		}
	}
}

// TestAttentionRowsSumToOne checks the softmax output every backend shows.
func TestAttentionRowsSumToOne(t *testing.T) {
	cpu, gn, ref := testBackends(t, small, 1)
	for _, be := range []Inspectable{cpu, gn, ref} {
		outs, _ := probeAll(t, be, tokensFor(small, 5, 2))
		for k, a := range outs {
			if k.op != OpAttnSoftmax {
				continue
			}
			span := a.Shape[3]
			for r := range len(a.Data) / span {
				var sum float64
				for _, v := range a.Data[r*span : (r+1)*span] {
					sum += v
				}
				if math.Abs(sum-1) > 1e-5 {
					t.Fatalf("%s: step %d layer %d row %d of the attention sums to %g", be.Name(), k.step, k.layer, r, sum)
				}
			}
		}
	}
}

// TestSessionsRefuseBadInput checks the new backends run Session's checks.
func TestSessionsRefuseBadInput(t *testing.T) {
	_, gn, ref := testBackends(t, small, 1)
	V := small.VocabSize
	for _, be := range []Backend{gn, ref} {
		if err := be.Forward(context.Background(), [][]int32{{int32(V)}}, make([]float32, V)); err == nil {
			t.Errorf("%s: token outside the vocabulary accepted", be.Name())
		}
		if err := be.Forward(context.Background(), [][]int32{make([]int32, small.NPositions+1)}, make([]float32, V)); err == nil {
			t.Errorf("%s: prompt longer than the context accepted", be.Name())
		}
		if err := be.Forward(context.Background(), [][]int32{{1}}, make([]float32, V+1)); err == nil {
			t.Errorf("%s: logits buffer of the wrong size accepted", be.Name())
		}
	}
}
