package verify

import (
	"context"
	"fmt"
	"math"

	"github.com/gpt2bench/gpt2bench/model"
)

// Quality measures what reduced-precision weights cost: the logits of a
// test backend against a baseline (float32) backend at every position of
// one token stream.
type Quality struct {
	Positions      int     // positions compared
	MaxAbsLogitErr float64 // max |logit_test - logit_base| over every position and token
	Top1Agreement  float64 // share of positions whose argmax token is the same, 0..1
	MeanKL         float64 // mean over positions of KL(p_base || p_test) in nats
}

// CompareBackends runs tokens through base and test (both batch 1, from an
// empty cache, in one prefill; tokens must fit the context) and compares
// their next-token distributions at every position.
func CompareBackends(ctx context.Context, base, test model.Backend, tokens []int32) (*Quality, error) {
	cfg := base.Config()
	if tc := test.Config(); tc != cfg {
		return nil, fmt.Errorf("verify: backends run different architectures")
	}
	T, V := len(tokens), cfg.VocabSize
	if T == 0 {
		return nil, fmt.Errorf("verify: no tokens to compare on")
	}
	run := func(be model.Backend) ([]float32, error) {
		be.Reset()
		logits := make([]float32, T*V)
		if err := be.Forward(ctx, [][]int32{tokens}, logits); err != nil {
			return nil, fmt.Errorf("verify: %s backend: %w", be.Name(), err)
		}
		return logits, nil
	}
	a, err := run(base)
	if err != nil {
		return nil, err
	}
	b, err := run(test)
	if err != nil {
		return nil, err
	}
	q := &Quality{Positions: T}
	agree := 0
	for t := range T {
		pa, pb := a[t*V:(t+1)*V], b[t*V:(t+1)*V]
		for i := range pa {
			q.MaxAbsLogitErr = math.Max(q.MaxAbsLogitErr, math.Abs(float64(pa[i])-float64(pb[i])))
		}
		if model.Argmax(pa) == model.Argmax(pb) {
			agree++
		}
		q.MeanKL += kl(pa, pb)
	}
	q.Top1Agreement = float64(agree) / float64(T)
	q.MeanKL /= float64(T)
	return q, nil
}

// kl returns KL(softmax(a) || softmax(b)) = Σ p_a (log p_a - log p_b).
func kl(a, b []float32) float64 {
	la, lb := logSumExp(a), logSumExp(b)
	var s float64
	for i := range a {
		lpa := float64(a[i]) - la
		lpb := float64(b[i]) - lb
		s += math.Exp(lpa) * (lpa - lpb)
	}
	return math.Max(s, 0) // rounding can give a tiny negative
}

func logSumExp(x []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

// Perplexity returns exp(mean negative log-likelihood) of tokens under be,
// and the number of tokens scored. Streams longer than the context are
// scored in consecutive windows of the context length (each window starts
// from an empty cache; its first token is context, not scored).
func Perplexity(ctx context.Context, be model.Backend, tokens []int32) (ppl float64, scored int, err error) {
	cfg := be.Config()
	V, W := cfg.VocabSize, cfg.NPositions
	if len(tokens) < 2 {
		return 0, 0, fmt.Errorf("verify: perplexity needs at least 2 tokens, have %d", len(tokens))
	}
	var nll float64
	logits := make([]float32, W*V)
	for start := 0; start < len(tokens)-1; start += W {
		win := tokens[start:min(start+W, len(tokens))]
		if len(win) < 2 {
			break
		}
		be.Reset()
		out := logits[:len(win)*V]
		if err := be.Forward(ctx, [][]int32{win}, out); err != nil {
			return 0, 0, fmt.Errorf("verify: perplexity window at token %d: %w", start, err)
		}
		for t := 0; t+1 < len(win); t++ {
			row := out[t*V : (t+1)*V]
			nll += logSumExp(row) - float64(row[win[t+1]])
			scored++
		}
	}
	return math.Exp(nll / float64(scored)), scored, nil
}
