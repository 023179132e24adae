// Package verify checks a backend against a gpt2-reference/v1 file: the
// logits at every prompt position, the hidden-state norms and the greedy
// continuation that Hugging Face transformers computed.
package verify

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/gpt2bench/gpt2bench/internal/reference"
	"github.com/gpt2bench/gpt2bench/model"
)

// Tolerances a float32 engine meets against transformers' float32 logits
// (typically ~1e-5); never loosened to make a test pass.
const (
	LogitTol = 1e-3 // max |logit - reference|
	NormTol  = 1e-3 // max |norm - reference| / reference, per hidden state
)

// Result is the comparison of one backend with one reference file.
type Result struct {
	MaxLogitErr  float64 // max |logit - reference| over every position and token
	WorstPos     int     // position of MaxLogitErr
	WorstToken   int     // token id of MaxLogitErr
	Got, Want    float32 // logits at the worst point
	MaxNormErr   float64 // max relative error of the hidden-state norms; NaN when not measured
	Continuation []int32 // greedy tokens the backend produced
	Expected     []int32 // greedy tokens of the reference
	LogitTol     float64 // the tolerance applied to MaxLogitErr
	// MaxRelLogitErr is max |logit - reference| / max(1, |reference|): the
	// error against the logit's own scale (transformers' float32 logits are
	// themselves only that close to the exact ones: ~1e-6 of their size).
	MaxRelLogitErr float64
}

// ContinuationMatches reports whether the greedy continuations are identical.
func (r *Result) ContinuationMatches() bool { return slices.Equal(r.Continuation, r.Expected) }

// FirstMismatch returns the index of the first differing continuation token, or -1.
func (r *Result) FirstMismatch() int {
	for i := range r.Expected {
		if i >= len(r.Continuation) || r.Continuation[i] != r.Expected[i] {
			return i
		}
	}
	return -1
}

// OK reports whether every check passed.
func (r *Result) OK() bool {
	normOK := math.IsNaN(r.MaxNormErr) || r.MaxNormErr < NormTol
	return r.MaxLogitErr < r.LogitTol && normOK && r.ContinuationMatches()
}

// hiddenSetter is implemented by backends that expose the residual stream
// (the CPU Session); others are verified without hidden-state norms.
type hiddenSetter interface {
	SetHidden(model.HiddenFunc)
}

// Check runs ref's prompt through be, compares the logits and hidden-state
// norms, then decodes greedily as many tokens as ref's continuation has.
// logitTol is the bound on MaxLogitErr that OK applies (LogitTol for float32
// weights; reduced-precision weights need a wider one).
func Check(ctx context.Context, be model.Backend, ref *reference.Reference, logitTol float64) (*Result, error) {
	cfg := be.Config()
	if err := compatible(cfg, ref); err != nil {
		return nil, err
	}
	if be.Batch() != 1 {
		return nil, fmt.Errorf("verify: backend has batch %d, want 1", be.Batch())
	}
	T, V := len(ref.InputIDs), cfg.VocabSize
	if need := T + len(ref.GreedyContinuation) - 1; need > cfg.NPositions {
		return nil, &model.ContextError{Have: need, Max: cfg.NPositions}
	}
	res := &Result{MaxNormErr: math.NaN(), Expected: ref.GreedyContinuation, LogitTol: logitTol}

	var norms [][]float64 // [L+1, T]
	if hs, ok := be.(hiddenSetter); ok && len(ref.HiddenStateNorms) > 0 {
		hs.SetHidden(func(i int, x []float32) {
			norms = append(norms, rowNorms(x, cfg.NEmbd))
		})
		defer hs.SetHidden(nil)
	}
	be.Reset()
	logits := make([]float32, T*V)
	if err := be.Forward(ctx, [][]int32{ref.InputIDs}, logits); err != nil {
		return nil, fmt.Errorf("verify: prefill: %w", err)
	}
	if hs, ok := be.(hiddenSetter); ok {
		hs.SetHidden(nil)
	}
	for t, row := range ref.Logits {
		for v, want := range row {
			got := logits[t*V+v]
			d := math.Abs(float64(got) - float64(want))
			if rel := d / math.Max(1, math.Abs(float64(want))); rel > res.MaxRelLogitErr || math.IsNaN(rel) {
				res.MaxRelLogitErr = rel
			}
			if d > res.MaxLogitErr || math.IsNaN(d) {
				res.MaxLogitErr, res.WorstPos, res.WorstToken, res.Got, res.Want = d, t, v, got, want
				if math.IsNaN(d) {
					res.MaxLogitErr = math.Inf(1)
				}
			}
		}
	}
	if norms != nil {
		res.MaxNormErr = maxRelErr(norms, ref.HiddenStateNorms)
	}

	// Greedy continuation with the cache, as transformers' generate does.
	next := model.Argmax(logits[(T-1)*V:])
	one := make([]float32, V)
	for i := range ref.GreedyContinuation {
		res.Continuation = append(res.Continuation, next)
		if i == len(ref.GreedyContinuation)-1 {
			break
		}
		if err := be.Forward(ctx, [][]int32{{next}}, one); err != nil {
			return nil, fmt.Errorf("verify: decode step %d: %w", i, err)
		}
		next = model.Argmax(one)
	}
	return res, nil
}

// compatible checks that the reference was made for this architecture.
func compatible(cfg model.Config, ref *reference.Reference) error {
	rc := ref.Config
	if rc.VocabSize != cfg.VocabSize || rc.NEmbd != cfg.NEmbd || rc.NLayer != cfg.NLayer || rc.NHead != cfg.NHead || rc.NPositions != cfg.NPositions {
		return fmt.Errorf("verify: reference is for vocab %d, n_embd %d, n_layer %d, n_head %d, n_positions %d; the model has %d, %d, %d, %d, %d: pass the reference made for this model",
			rc.VocabSize, rc.NEmbd, rc.NLayer, rc.NHead, rc.NPositions, cfg.VocabSize, cfg.NEmbd, cfg.NLayer, cfg.NHead, cfg.NPositions)
	}
	return nil
}

func rowNorms(x []float32, C int) []float64 {
	n := make([]float64, len(x)/C)
	for t := range n {
		var s float64
		for _, v := range x[t*C : (t+1)*C] {
			s += float64(v) * float64(v)
		}
		n[t] = math.Sqrt(s)
	}
	return n
}

func maxRelErr(got, want [][]float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range want {
		if len(got[i]) != len(want[i]) {
			return math.Inf(1)
		}
		for t, w := range want[i] {
			d := math.Abs(got[i][t]-w) / math.Max(math.Abs(w), 1e-12)
			if d > worst || math.IsNaN(d) {
				worst = d
			}
		}
	}
	return worst
}
