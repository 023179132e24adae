package verify

import (
	"context"
	"fmt"
	"math"

	"github.com/gpt2bench/gpt2bench/model"
)

// RefTol bounds |float32 backend - float64 reference| on the logits for
// float32 weights: both compute the same math, only float32 rounding
// separates them (~1e-5 on the fixtures).
const RefTol = 1e-4

// OpError is how far one op's output of a backend is from the reference's,
// over every step compared.
type OpError struct {
	Layer  int      // block index, -1 for embed, ln_f and logits
	Op     model.Op // the op
	MaxAbs float64  // max |backend - reference| over every element and step
	MaxRef float64  // max |reference| over the same elements: the scale MaxAbs is read against
	Steps  int      // steps compared
}

// Rel returns MaxAbs over max(1, MaxRef).
func (e OpError) Rel() float64 { return e.MaxAbs / math.Max(1, e.MaxRef) }

// AgainstResult is a backend compared with the float64 reference op by op.
type AgainstResult struct {
	Prompt      []int32   // the prompt
	Tokens      []int32   // the decode tokens fed to both (the reference's greedy choices)
	Ops         []OpError // per (layer, op), in forward order; ops the backend does not show are absent
	MaxLogitErr float64   // max |logit - reference| over the prompt's positions and every decode step
	WorstStep   int       // step of MaxLogitErr (0 = prefill)
	WorstToken  int       // token id of MaxLogitErr
	Got, Want   float64   // logits at the worst point
	Agree       int       // steps (prefill included) whose next-token argmax matches the reference's
	LogitTol    float64   // the tolerance applied to MaxLogitErr
}

// OK reports whether the logits are within LogitTol.
func (r *AgainstResult) OK() bool { return r.MaxLogitErr < r.LogitTol }

// Against runs prompt through be and ref (both batch 1, emptied first),
// then decode more steps feeding both the reference's greedy token, and
// compares every op's output and the logits of every step. logitTol is
// the bound OK applies (RefTol for float32 weights).
func Against(ctx context.Context, be, ref model.Inspectable, prompt []int32, decode int, logitTol float64) (*AgainstResult, error) {
	cfg := be.Config()
	if be.Batch() != 1 || ref.Batch() != 1 {
		return nil, fmt.Errorf("verify: backends have batch %d and %d, want 1", be.Batch(), ref.Batch())
	}
	if decode < 0 {
		return nil, fmt.Errorf("verify: %d decode steps, want >= 0", decode)
	}
	if need := len(prompt) + decode; need > cfg.NPositions {
		return nil, &model.ContextError{Have: need, Max: cfg.NPositions}
	}
	type key struct {
		layer int
		op    model.Op
	}
	res := &AgainstResult{Prompt: prompt, LogitTol: logitTol}
	index := map[key]int{}
	var want map[key]model.Activation // the reference's outputs of the step running
	step := 0
	ref.SetTracer(model.NewProbe(ref, func(_ model.Step, layer int, op model.Op, a model.Activation) {
		want[key{layer, op}] = a
	}))
	defer ref.SetTracer(nil)
	be.SetTracer(model.NewProbe(be, func(_ model.Step, layer int, op model.Op, got model.Activation) {
		w, ok := want[key{layer, op}]
		if !ok || len(w.Data) != len(got.Data) {
			return
		}
		i, seen := index[key{layer, op}]
		if !seen {
			i = len(res.Ops)
			index[key{layer, op}] = i
			res.Ops = append(res.Ops, OpError{Layer: layer, Op: op})
		}
		e := &res.Ops[i]
		e.Steps++
		for j, wv := range w.Data {
			d := math.Abs(got.Data[j] - wv)
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			e.MaxAbs = math.Max(e.MaxAbs, d)
			e.MaxRef = math.Max(e.MaxRef, math.Abs(wv))
		}
	}))
	defer be.SetTracer(nil)

	V := cfg.VocabSize
	be.Reset()
	ref.Reset()
	tokens := prompt
	for step = 0; step <= decode; step++ {
		want = map[key]model.Activation{}
		n := len(tokens) * V
		wl, gl := make([]float32, n), make([]float32, n)
		if err := ref.Forward(ctx, [][]int32{tokens}, wl); err != nil {
			return nil, fmt.Errorf("verify: reference step %d: %w", step, err)
		}
		if err := be.Forward(ctx, [][]int32{tokens}, gl); err != nil {
			return nil, fmt.Errorf("verify: %s step %d: %w", be.Name(), step, err)
		}
		for i, w := range wl {
			if d := math.Abs(float64(gl[i]) - float64(w)); d > res.MaxLogitErr || math.IsNaN(d) {
				res.MaxLogitErr, res.WorstStep, res.WorstToken, res.Got, res.Want = d, step, i%V, float64(gl[i]), float64(w)
				if math.IsNaN(d) {
					res.MaxLogitErr = math.Inf(1)
				}
			}
		}
		next := model.Argmax(wl[n-V:])
		if model.Argmax(gl[n-V:]) == next {
			res.Agree++
		}
		if step == decode {
			break
		}
		res.Tokens = append(res.Tokens, next)
		tokens = []int32{next}
	}
	return res, nil
}
