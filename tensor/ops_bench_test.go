package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkOps measures the non-linear ops of a GPT-2 124M step (C=768,
// NH=12, HS=64, F=3072) per kernel variant: layer norm over N rows, GELU
// over an [N, F] MLP activation, softmax over a row of P+1 scores, and one
// head's attention over P cached positions (scores, then weighted sum).
// GB/s counts each operand read or written once.
//
//	go test ./tensor -run '^$' -bench Ops -count 5 | benchstat -col /impl -
func BenchmarkOps(b *testing.B) {
	const C, HS, F = 768, 64, 3072
	rng := rand.New(rand.NewPCG(2, 2))
	for _, N := range []int{1, 128} {
		x, out, w, bias := randSlice(rng, N*C), make([]float32, N*C), randSlice(rng, C), randSlice(rng, C)
		benchOp(b, fmt.Sprintf("op=layernorm/N=%d/C=%d", N, C), 8*N*C, 4*(2*N*C+2*C), func() {
			LayerNorm(out, x, w, bias, N, C, 1e-5)
		})
		src, h := randSlice(rng, N*F), make([]float32, N*F)
		benchOp(b, fmt.Sprintf("op=gelu/N=%d/F=%d", N, F), 20*N*F, 4*2*N*F, func() {
			copy(h, src) // the same input every run (timed with it: a memcpy)
			GELUTanh(h)
		})
	}
	for _, P := range []int{128, 1024} {
		s := randSlice(rng, P)
		benchOp(b, fmt.Sprintf("op=softmax/P=%d", P), 4*P, 4*2*P, func() {
			for i := range s {
				s[i] = float32(i%7) - 3
			}
			Softmax(s)
		})
		// One head of one row: K and V rows are C apart in the cache [P, C].
		k, v, q, y := randSlice(rng, P*C), randSlice(rng, P*C), randSlice(rng, HS), make([]float32, HS)
		scores := make([]float32, P)
		benchOp(b, fmt.Sprintf("op=attn_scores/P=%d/HS=%d", P, HS), 2*P*HS, 4*(P*HS+HS+P), func() {
			AttnScores(scores, q, k[:(P-1)*C+HS], C, 0.125)
		})
		benchOp(b, fmt.Sprintf("op=attn_values/P=%d/HS=%d", P, HS), 2*P*HS, 4*(P*HS+P+HS), func() {
			AttnValues(y, scores, v[:(P-1)*C+HS], C)
		})
	}
}

// benchOp runs f under every kernel variant as name/impl=..., reporting
// GFLOP/s, GB/s and allocations.
func benchOp(b *testing.B, name string, flops, bytes int, f func()) {
	forEachVariant(b, func(impl string) {
		b.Run(name+"/impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(flops)/sec/1e9, "GFLOP/s")
			b.ReportMetric(float64(bytes)/sec/1e9, "GB/s")
		})
	})
}
