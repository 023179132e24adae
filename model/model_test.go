package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// refTol bounds |float32 fast path - float64 reference| on logits: float32
// accumulation over C and F terms, far below what changes a greedy choice.
const refTol = 1e-3

// small is a shape that exercises every code path quickly: several heads,
// an MLP width that is not 4C, a vocabulary that is not a multiple of 16.
var small = Config{VocabSize: 77, NPositions: 24, NEmbd: 32, NLayer: 3, NHead: 4, NInner: 48, LayerNormEps: 1e-5, Activation: "gelu_new"}

func newTestModel(t testing.TB, cfg Config, opts Options) (*Model, *Params) {
	t.Helper()
	p, err := RandomParams(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Random init has zero biases and unit gains; perturb them so every
	// parameter matters to the comparison.
	for i, s := range p.Shapes(cfg) {
		if len(s.Shape) == 1 {
			for j := range *s.Ptr {
				(*s.Ptr)[j] += float32(0.1 * math.Sin(float64(i*131+j)))
			}
		}
	}
	m, err := New(cfg, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, p
}

func tokensFor(cfg Config, T, seed int) []int32 {
	ids := make([]int32, T)
	for i := range ids {
		ids[i] = int32((i*37 + seed*11 + 5) % cfg.VocabSize)
	}
	return ids
}

// maxDiff returns max |a[i]-b[i]| and its index.
func maxDiff(a []float32, b []float64) (float64, int) {
	worst, at := 0.0, -1
	for i := range a {
		if d := math.Abs(float64(a[i]) - b[i]); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	return worst, at
}

func TestForwardMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		T    int
	}{
		{"small/T=1", small, 1},
		{"small/T=24", small, 24},
		{"gelu-erf", func() Config { c := small; c.Activation = "gelu"; return c }(), 9},
		{"gpt2/T=8", GPT2(), 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.NEmbd > 64 && testing.Short() {
				t.Skip("gpt2-sized reference comparison skipped in -short mode")
			}
			m, p := newTestModel(t, tc.cfg, Options{})
			ids := tokensFor(tc.cfg, tc.T, 1)
			want, _, err := Reference(tc.cfg, p, ids)
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.NewSession(1, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, tc.T*tc.cfg.VocabSize)
			if err := s.Forward(context.Background(), [][]int32{ids}, got); err != nil {
				t.Fatal(err)
			}
			if d, at := maxDiff(got, want.RawMatrix().Data); d > refTol {
				t.Fatalf("max |logit diff| = %g at %d (got %g, want %g)", d, at, got[at], want.RawMatrix().Data[at])
			}
		})
	}
}

// TestKVCache checks that prefill-then-decode, one token at a time and
// batched sequences all give the logits of one full forward pass.
func TestKVCache(t *testing.T) {
	m, _ := newTestModel(t, small, Options{Threads: 3})
	ctx := context.Background()
	V, T := small.VocabSize, small.NPositions
	ids := tokensFor(small, T, 2)

	full, _ := m.NewSession(1, 0)
	want := make([]float32, T*V)
	if err := full.Forward(ctx, [][]int32{ids}, want); err != nil {
		t.Fatal(err)
	}
	for _, split := range []int{1, 5, T - 1} {
		t.Run(fmt.Sprintf("prefill=%d", split), func(t *testing.T) {
			s, _ := m.NewSession(1, 0)
			got := make([]float32, split*V)
			if err := s.Forward(ctx, [][]int32{ids[:split]}, got); err != nil {
				t.Fatal(err)
			}
			one := make([]float32, V)
			for p := split; p < T; p++ {
				if err := s.Forward(ctx, [][]int32{ids[p : p+1]}, one); err != nil {
					t.Fatal(err)
				}
				got = append(got, one...)
			}
			assertClose(t, got, want, 1e-5)
		})
	}
	t.Run("batch=3", func(t *testing.T) {
		seqs := [][]int32{tokensFor(small, 6, 3), tokensFor(small, 6, 4), ids[:6]}
		s, _ := m.NewSession(3, 12)
		got := make([]float32, 3*6*V)
		if err := s.Forward(ctx, seqs, got); err != nil {
			t.Fatal(err)
		}
		last := make([]float32, 3*V)
		if err := s.Forward(ctx, [][]int32{{1}, {2}, {3}}, last); err != nil {
			t.Fatal(err)
		}
		for b, seq := range seqs {
			one, _ := m.NewSession(1, 0)
			w := make([]float32, 6*V)
			if err := one.Forward(ctx, [][]int32{seq}, w); err != nil {
				t.Fatal(err)
			}
			assertClose(t, got[b*6*V:(b+1)*6*V], w, 1e-5)
			w1 := make([]float32, V)
			if err := one.Forward(ctx, [][]int32{{int32(b + 1)}}, w1); err != nil {
				t.Fatal(err)
			}
			assertClose(t, last[b*V:(b+1)*V], w1, 1e-5)
		}
	})
}

func assertClose(t *testing.T, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("len %d, want %d", len(got), len(want))
	}
	w := make([]float64, len(want))
	for i, v := range want {
		w[i] = float64(v)
	}
	if d, at := maxDiff(got, w); d > tol {
		t.Fatalf("max |diff| = %g at %d (got %g, want %g)", d, at, got[at], want[at])
	}
}

func TestForwardErrors(t *testing.T) {
	m, _ := newTestModel(t, small, Options{})
	V := small.VocabSize
	tests := []struct {
		name   string
		pre    int // tokens fed first
		tokens [][]int32
		logits int
		want   string
	}{
		{"wrong batch", 0, [][]int32{{1}, {2}}, 2 * V, "2 sequences"},
		{"empty", 0, [][]int32{{}}, V, "no tokens"},
		{"token out of range", 0, [][]int32{{int32(V)}}, V, "outside the vocabulary"},
		{"negative token", 0, [][]int32{{-1}}, V, "outside the vocabulary"},
		{"logits size", 0, [][]int32{{1, 2}}, V + 1, "logits buffer"},
		{"past context", 20, [][]int32{make([]int32, 5)}, V, "context is 24"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := m.NewSession(1, 0)
			if tc.pre > 0 {
				if err := s.Forward(context.Background(), [][]int32{make([]int32, tc.pre)}, make([]float32, V)); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Forward(context.Background(), tc.tokens, make([]float32, tc.logits))
			if err == nil || !contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	var ce *ContextError
	s, _ := m.NewSession(1, 0)
	if err := s.Forward(context.Background(), [][]int32{make([]int32, 25)}, make([]float32, V)); !errors.As(err, &ce) || ce.Have != 25 || ce.Max != 24 {
		t.Fatalf("err = %v, want *ContextError{25, 24}", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Forward(ctx, [][]int32{{1}}, make([]float32, V)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestDecodeAllocs checks that a steady-state decode step allocates nothing.
func TestDecodeAllocs(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.Q8, tensor.Q4} {
		t.Run(dt.String(), func(t *testing.T) {
			cfg := small
			cfg.NInner = 64 // int8 needs rows that are a multiple of 32
			m, _ := newTestModel(t, cfg, Options{DType: dt, Threads: 2})
			s, _ := m.NewSession(1, 0)
			ctx := context.Background()
			logits := make([]float32, cfg.VocabSize)
			tok := [][]int32{{3}}
			if err := s.Forward(ctx, [][]int32{tokensFor(cfg, 4, 1)}, logits); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(10, func() {
				if s.Pos() >= cfg.NPositions-1 {
					s.Reset()
				}
				if err := s.Forward(ctx, tok, logits); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("decode step allocates %v times, want 0", allocs)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"heads", func(c *Config) { c.NHead = 5 }, "not a multiple"},
		{"zero layers", func(c *Config) { c.NLayer = 0 }, "n_layer is 0"},
		{"activation", func(c *Config) { c.Activation = "relu" }, "not supported"},
		{"eps", func(c *Config) { c.LayerNormEps = 0 }, "layer_norm_epsilon"},
		{"eps-inf", func(c *Config) { c.LayerNormEps = float32(math.Inf(1)) }, "layer_norm_epsilon is +Inf, want > 0 and <= 1"},
		{"eps-nan", func(c *Config) { c.LayerNormEps = float32(math.NaN()) }, "layer_norm_epsilon is NaN"},
		{"positions-huge", func(c *Config) { c.NPositions = MaxPositions + 1 }, "n_positions is 4194305, want 1..4194304"},
		{"vocab-huge", func(c *Config) { c.VocabSize = 1 << 40 }, "vocab_size is 1099511627776, want 1..4194304"},
		{"layers-huge", func(c *Config) { c.NLayer = MaxLayers + 1 }, "n_layer is 1025, want 1..1024"},
		{"inner-huge", func(c *Config) { c.NInner = MaxInner + 1 }, "n_inner is 262145, want 0..262144"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := small
			tc.mod(&c)
			err := c.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	if n := GPT2().NumParams(); n != 124439808 {
		t.Errorf("gpt2 NumParams = %d, want 124439808 (transformers' count)", n)
	}
}

func TestParamsValidateNamesEveryProblem(t *testing.T) {
	p, _ := RandomParams(small, 1)
	p.Layers[1].FcW = p.Layers[1].FcW[:10]
	p.LnFB = nil
	err := p.Validate(small)
	for _, want := range []string{"h.1.mlp.c_fc.weight has 10 values", "missing ln_f.bias"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}
