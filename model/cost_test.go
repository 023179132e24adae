package model

import (
	"fmt"
	"math"
	"testing"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// costTol is the relative tolerance for hand-derived counts: they are exact
// integers, so only float64 rounding separates them.
const costTol = 1e-12

func relDiff(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// TestOpCostGPT2 checks single ops against numbers worked out by hand for
// gpt2 (C=768, NH=12, HS=64, F=3072, V=50257), float32 weights.
func TestOpCostGPT2(t *testing.T) {
	cfg := GPT2()
	decode0 := Step{B: 1, T: 1, Pos: 0}
	decode127 := Step{B: 1, T: 1, Pos: 127}
	prefill128 := Step{B: 1, T: 128, Pos: 0}
	tests := []struct {
		name         string
		op           Op
		st           Step
		wb           float64
		flops, bytes float64
	}{
		// 2·768·2304 + 2304 bias; W 2304·768·4 + b 2304·4 + x 768·4 + out 2304·4 + KV copy 2·2·768·4.
		{"qkv/decode", OpQKV, decode0, 4, 3541248, 7077888 + 9216 + 3072 + 9216 + 12288},
		// 2·768·50257, no bias; wte 50257·768·4 + x 768·4 + logits 50257·4.
		{"logits/decode", OpLogits, decode0, 4, 77194752, 154389504 + 3072 + 201028},
		// Same with int8: 1.125 bytes per weight.
		{"logits/decode/int8", OpLogits, decode0, 1.125, 77194752, 50257*768*1.125 + 3072 + 201028},
		// 128 keys (P=127, T=1), 12 heads, 64 multiply-adds + 1 scale each;
		// q 768·4 + K 128·768·4 + scores 12·128·4.
		{"attn_scores/decode/P=127", OpAttnScores, decode127, 4, 12 * 128 * 129, 3072 + 393216 + 6144},
		{"attn_softmax/decode/P=127", OpAttnSoftmax, decode127, 4, 5 * 12 * 128, 2 * 4 * 12 * 128},
		{"attn_values/decode/P=127", OpAttnValues, decode127, 4, 12 * 128 * 128, 6144 + 393216 + 3072},
		// Causal prefill of 128: 128·129/2 = 8256 pairs per head.
		{"attn_scores/prefill/T=128", OpAttnScores, prefill128, 4, 12 * 8256 * 129, 4*128*768 + 4*128*768 + 4*12*8256},
		// 2·128·768·3072 + 128·3072 bias + 9·128·3072 fused GELU; W 3072·768·4 + b + x + out.
		{"mlp_up/prefill/T=128", OpMLPUp, prefill128, 4, 2*128*768*3072 + 128*3072 + 9*128*3072, 3072*768*4 + 3072*4 + 128*768*4 + 128*3072*4},
		// Fused into mlp_up: nothing left.
		{"gelu/prefill/T=128", OpGELU, prefill128, 4, 0, 0},
		{"ln_1/decode", OpLN1, decode0, 4, 8 * 768, 2*4*768 + 2*4*768},
		{"residual_2/prefill/T=128", OpResidual2, prefill128, 4, 128 * 768, 3 * 4 * 128 * 768},
		// Last-position logits only: ln_f over one row even in prefill.
		{"ln_f/prefill/last", OpLNF, prefill128, 4, 8 * 768, 2*4*768 + 2*4*768},
		{"ln_f/prefill/all", OpLNF, Step{B: 1, T: 128, AllLogits: true}, 4, 8 * 128 * 768, 2*4*128*768 + 2*4*768},
		{"embed/decode/f16", OpEmbed, decode0, 2, 768, 768 * (2 + 4 + 4)},
		{"sample/B=2", OpSample, Step{B: 2, T: 1, Pos: 5}, 4, 2 * 50257, 4 * 2 * 50257},
		{"unknown", NumOps, decode0, 4, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, b := OpCost(cfg, tc.op, tc.st, tc.wb)
			if relDiff(f, tc.flops) > costTol || relDiff(b, tc.bytes) > costTol {
				t.Errorf("OpCost(%v) = %.0f FLOPs, %.0f bytes; want %.0f, %.0f", tc.op, f, b, tc.flops, tc.bytes)
			}
		})
	}
}

// TestStepCostGPT2 checks whole steps: about 2 FLOPs per parameter per
// decoded token, plus attention, and about one read of every weight.
func TestStepCostGPT2(t *testing.T) {
	cfg := GPT2()
	// Hand sum for a decode step at P=0, per layer:
	//   ln_1 6144 + qkv 3541248 + scores 12·129 + softmax 60 + values 1536
	//   + proj 1180416 + res 768 + ln_2 6144 + mlp_up 4721664 + gelu 27648
	//   (fused into mlp_up) + mlp_down 4719360 + res 768 = 14207304;
	// step = embed 768 + 12·14207304 + ln_f 6144 + logits 77194752.
	const wantDecode0 = 768 + 12*14207304 + 6144 + 77194752
	f, _ := StepCost(cfg, Step{B: 1, T: 1}, 4)
	if relDiff(f, wantDecode0) > costTol {
		t.Errorf("StepCost(decode, P=0) = %.0f FLOPs, want %d", f, wantDecode0)
	}

	params := float64(cfg.NumParams())
	wpe := float64(cfg.NPositions * cfg.NEmbd) // only one row of wpe is read
	tests := []struct {
		name              string
		st                Step
		wb                float64
		flopsPerParam     [2]float64 // FLOPs / NumParams within [lo, hi]
		bytesPerWeightVal [2]float64 // bytes / ((NumParams - wpe)·wb) within [lo, hi]
	}{
		// 2 FLOPs per parameter: biases, layer norms and wpe are about 1% of the count.
		{"decode/P=0", Step{B: 1, T: 1}, 4, [2]float64{1.98, 2.0}, [2]float64{1.0, 1.005}},
		// At P=1023 attention adds 2·2·L·C·1024 ≈ 37.7M FLOPs (≈ 0.3 per parameter)
		// and 2·L·1024·C·4 bytes of cache ≈ 75 MB (≈ 15% of the weights).
		{"decode/P=1023", Step{B: 1, T: 1, Pos: 1023}, 4, [2]float64{2.28, 2.32}, [2]float64{1.14, 1.17}},
		{"decode/P=0/f16", Step{B: 1, T: 1}, 2, [2]float64{1.98, 2.0}, [2]float64{1.0, 1.01}},
		// int8: biases, gains and activations stay float32, a larger share of the bytes.
		{"decode/P=0/int8", Step{B: 1, T: 1}, WeightBytesPerValue(tensor.Q8), [2]float64{1.98, 2.0}, [2]float64{1.0, 1.02}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, b := StepCost(cfg, tc.st, tc.wb)
			fp := f / params
			bp := b / ((params - wpe) * tc.wb)
			if fp < tc.flopsPerParam[0] || fp > tc.flopsPerParam[1] {
				t.Errorf("FLOPs/param = %.4f (%.0f FLOPs), want in %v", fp, f, tc.flopsPerParam)
			}
			if bp < tc.bytesPerWeightVal[0] || bp > tc.bytesPerWeightVal[1] {
				t.Errorf("bytes/weight bytes = %.4f (%.0f bytes), want in %v", bp, b, tc.bytesPerWeightVal)
			}
		})
	}

	// A prefill of T tokens does T decode steps' worth of linear FLOPs.
	// (A fused GELU is counted in mlp_up.)
	for _, T := range []int{1, 16, 128} {
		t.Run(fmt.Sprintf("prefill/T=%d/linear", T), func(t *testing.T) {
			var got float64
			for _, op := range []Op{OpQKV, OpAttnProj, OpMLPUp, OpMLPDown} {
				f, _ := OpCost(cfg, op, Step{B: 1, T: T}, 4)
				got += f
			}
			C, F := 768.0, 3072.0
			want := float64(T) * (2*(3*C*C+C*C+C*F+F*C) + 3*C + C + F + C)
			if GELUFused {
				want += float64(T) * GELUFLOPsPerValue * F // counted in mlp_up
			}
			if relDiff(got, want) > costTol {
				t.Errorf("linear FLOPs = %.0f, want %.0f", got, want)
			}
		})
	}
}

func TestWeightBytesPerValue(t *testing.T) {
	for _, tc := range []struct {
		dt   tensor.DType
		want float64
	}{{tensor.F32, 4}, {tensor.F16, 2}, {tensor.Q8, 1.125}} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			if got := WeightBytesPerValue(tc.dt); got != tc.want {
				t.Errorf("WeightBytesPerValue(%v) = %g, want %g", tc.dt, got, tc.want)
			}
		})
	}
}
