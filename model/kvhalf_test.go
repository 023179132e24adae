package model

import (
	"context"
	"fmt"
	"testing"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// head64 is a small architecture with GPT-2's head size (64), so that
// prompts of >= 8 rows take the fused attention (with AVX-512).
var head64 = Config{VocabSize: 77, NPositions: 64, NEmbd: 128, NLayer: 2, NHead: 2, NInner: 128, LayerNormEps: 1e-5, Activation: "gelu_new"}

// kvF16Tol bounds |logits with a half KV cache - with a float32 one|: each
// cached key and value is rounded once to 11 significant bits (relative
// 2⁻¹¹), as half weights round every parameter, so the bound is the
// f16-weight tolerance of verify.
const kvF16Tol = 2e-2

// TestKVF16MatchesF32 runs the same prompt (fused attention where the
// head size allows) and decode steps with a float32 and a half KV cache
// and compares every logit; the half cache takes half the bytes.
func TestKVF16MatchesF32(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"small", small}, {"head64", head64}, {"gpt2", GPT2()}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.NEmbd > 128 && testing.Short() {
				t.Skip("gpt2-sized comparison skipped in -short mode")
			}
			cfg := tc.cfg
			ctx := context.Background()
			T, steps := min(20, cfg.NPositions-4), 3
			prompt := tokensFor(cfg, T, 5)
			var logits [2][]float32
			var bytes [2]int64
			for i, kvdt := range []tensor.DType{tensor.F32, tensor.F16} {
				m, _ := newTestModel(t, cfg, Options{Threads: 2, KVDType: kvdt})
				s, err := m.NewSession(1, T+steps)
				if err != nil {
					t.Fatal(err)
				}
				out := make([]float32, T*cfg.VocabSize)
				if err := s.Forward(ctx, [][]int32{prompt}, out); err != nil {
					t.Fatal(err)
				}
				logits[i] = append(logits[i], out...)
				for j := range steps {
					out := make([]float32, cfg.VocabSize)
					if err := s.Forward(ctx, [][]int32{{int32(j + 1)}}, out); err != nil {
						t.Fatal(err)
					}
					logits[i] = append(logits[i], out...)
				}
				bytes[i] = s.KVBytes()
			}
			assertClose(t, logits[1], logits[0], kvF16Tol)
			if bytes[1]*2 != bytes[0] {
				t.Errorf("half KV cache takes %d bytes, float32 %d; want half", bytes[1], bytes[0])
			}
		})
	}
}

// TestStepAllocsEveryPath checks that a steady-state forward pass
// allocates nothing for every weight dtype, KV dtype and N: one row
// (decode), 8 and 40 rows from position 0 (fused attention, tiled and
// outer-product linear paths), and a batch of 8 decodes.
func TestStepAllocsEveryPath(t *testing.T) {
	cfg := head64
	ctx := context.Background()
	for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.Q8, tensor.Q4} {
		for _, kvdt := range []tensor.DType{tensor.F32, tensor.F16} {
			m, _ := newTestModel(t, cfg, Options{DType: dt, KVDType: kvdt, Threads: 2})
			for _, c := range []struct{ B, T int }{{1, 1}, {1, 8}, {1, 40}, {8, 1}} {
				t.Run(fmt.Sprintf("%s/kv=%s/B=%d/T=%d", dt, kvdt, c.B, c.T), func(t *testing.T) {
					s, err := m.NewSession(c.B, 0)
					if err != nil {
						t.Fatal(err)
					}
					toks := make([][]int32, c.B)
					for b := range toks {
						toks[b] = tokensFor(cfg, c.T, b+1)
					}
					logits := make([]float32, c.B*cfg.VocabSize)
					step := func() {
						if c.T > 1 || s.Pos() >= cfg.NPositions-1 {
							s.Reset() // a prompt from position 0 every time
						}
						if err := s.Forward(ctx, toks, logits); err != nil {
							t.Fatal(err)
						}
					}
					if c.T == 1 { // grow the scratch to the longest context first
						long := make([][]int32, c.B)
						for b := range long {
							long[b] = tokensFor(cfg, cfg.NPositions-1, b+1)
						}
						if err := s.Forward(ctx, long, logits); err != nil {
							t.Fatal(err)
						}
					}
					step()
					if a := testing.AllocsPerRun(5, step); a != 0 {
						t.Fatalf("step allocates %v times, want 0", a)
					}
				})
			}
		}
	}
}
