package model

import (
	"context"
	"fmt"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	MaxNewTokens int           // tokens to append to each prompt
	Sampling     SampleOptions // greedy when Temperature is below MinTemperature
	// StopAtEOS ends a sequence at EOS (it is included in the output);
	// the batch stops when every sequence has.
	StopAtEOS bool
	EOS       int32 // 50256 for GPT-2
	// OnToken, if set, is called after each step with the new token of
	// every sequence (step 0 is the token chosen from the prompt's logits).
	// Returning an error stops generation with that error.
	OnToken func(step int, ids []int32) error
	// Tracer, if set, receives the sampling op (OpSample, layer -1) when
	// Generate samples on the host; a DeviceSampler reports it to the
	// Tracer installed on it instead.
	Tracer Tracer
}

// Generate runs the prompts (one per sequence of be, all the same length)
// through be from an empty cache, then appends up to MaxNewTokens tokens to
// each, and returns the new tokens per sequence. The cache must hold
// len(prompt)+MaxNewTokens-1 positions; a longer request is refused with a
// *ContextError before any work. When be is a DeviceSampler that supports
// opts.Sampling, tokens are chosen on the device and no logits are copied.
func Generate(ctx context.Context, be Backend, prompts [][]int32, opts GenerateOptions) ([][]int32, error) {
	cfg := be.Config()
	B := be.Batch()
	if len(prompts) != B {
		return nil, fmt.Errorf("model: %d prompts for a batch of %d", len(prompts), B)
	}
	if opts.MaxNewTokens < 1 {
		return nil, fmt.Errorf("model: max new tokens %d, want >= 1", opts.MaxNewTokens)
	}
	T := len(prompts[0])
	if T == 0 {
		return nil, fmt.Errorf("model: empty prompt; give at least one token")
	}
	// The last new token is sampled but never fed back, so it needs no position.
	if need := T + opts.MaxNewTokens - 1; need > cfg.NPositions {
		return nil, &ContextError{Have: need, Max: cfg.NPositions}
	}
	if err := opts.Sampling.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	opts.Sampling = opts.Sampling.Normalized()
	if ds, ok := be.(DeviceSampler); ok && ds.SamplesOnDevice(opts.Sampling) {
		return generateOnDevice(ctx, ds, prompts, opts)
	}
	samplers := make([]*Sampler, B)
	for b := range samplers {
		o := opts.Sampling
		o.Seed += uint64(b) // distinct but reproducible streams per sequence
		s, err := NewSampler(o, cfg.VocabSize)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		samplers[b] = s
	}
	V := cfg.VocabSize
	logits := make([]float32, B*V)
	out := make([][]int32, B)
	for b := range out {
		out[b] = make([]int32, 0, opts.MaxNewTokens)
	}
	next := make([][]int32, B) // [B][1] the tokens fed back
	ids := make([]int32, B)
	buf := make([]int32, B)
	for b := range next {
		next[b] = buf[b : b+1]
	}
	done := make([]bool, B)

	be.Reset()
	if err := be.Forward(ctx, prompts, logits); err != nil {
		return nil, err
	}
	for step := range opts.MaxNewTokens {
		if opts.Tracer != nil {
			opts.Tracer.BeginOp(-1, OpSample)
		}
		finished := true
		for b := range B {
			ids[b] = samplers[b].Sample(logits[b*V : (b+1)*V])
			if !done[b] {
				out[b] = append(out[b], ids[b])
				done[b] = opts.StopAtEOS && ids[b] == opts.EOS
			}
			finished = finished && done[b]
			next[b][0] = ids[b]
		}
		if opts.Tracer != nil {
			opts.Tracer.EndOp(-1, OpSample)
		}
		if opts.OnToken != nil {
			if err := opts.OnToken(step, ids); err != nil {
				return out, err
			}
		}
		if finished || step == opts.MaxNewTokens-1 {
			break
		}
		if err := be.Forward(ctx, next, logits); err != nil {
			return out, err
		}
	}
	return out, nil
}

// generateOnDevice is Generate's loop for a DeviceSampler: each step
// returns the next ids, which the next step feeds back.
func generateOnDevice(ctx context.Context, ds DeviceSampler, prompts [][]int32, opts GenerateOptions) ([][]int32, error) {
	B := ds.Batch()
	out := make([][]int32, B)
	for b := range out {
		out[b] = make([]int32, 0, opts.MaxNewTokens)
	}
	ids := make([]int32, B)
	buf := make([]int32, B)
	next := make([][]int32, B) // [B][1] the tokens fed back
	for b := range next {
		next[b] = buf[b : b+1]
	}
	done := make([]bool, B)
	ds.Reset()
	tokens := prompts
	for step := range opts.MaxNewTokens {
		if err := ds.ForwardSample(ctx, tokens, opts.Sampling, ids); err != nil {
			return out, err
		}
		finished := true
		for b := range B {
			if !done[b] {
				out[b] = append(out[b], ids[b])
				done[b] = opts.StopAtEOS && ids[b] == opts.EOS
			}
			finished = finished && done[b]
			next[b][0] = ids[b]
		}
		if opts.OnToken != nil {
			if err := opts.OnToken(step, ids); err != nil {
				return out, err
			}
		}
		if finished {
			break
		}
		tokens = next
	}
	return out, nil
}
