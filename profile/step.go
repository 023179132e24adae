package profile

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/gpt2bench/gpt2bench/model"
)

// StepOptions describe the ragged engine step RunStep profiles: Decodes
// sequences that each hold Depth cached positions and decode one token,
// beside one prompt chunk of Chunk tokens from position 0 (the mix the
// continuous-batching scheduler forms when a request arrives while
// others decode).
type StepOptions struct {
	Decodes, Depth, Chunk int
	// Repeats is the traced steps (the same step run again: each rewrites
	// the same positions); their times are summed. Default 3.
	Repeats int
	// Warmup is the untimed steps before them; default 1.
	Warmup int
	Seed   uint64
	Labels bool
	// Timeline, if set, records the traced steps.
	Timeline *Timeline
	// Info describes the run; InputLen and OutputLen are set to the
	// step's rows and sampled tokens.
	Info                Info
	WeightBytesPerValue float64
}

// StepBlockSize is the KV block size RunStep lays its sequences out in.
const StepBlockSize = 32

// StepBlocks returns the KV blocks RunStep needs for opts.
func StepBlocks(opts StepOptions) int {
	per := func(n int) int { return (n + StepBlockSize - 1) / StepBlockSize }
	return opts.Decodes*per(opts.Depth+1) + per(opts.Chunk)
}

// RunStep profiles one ragged step of r (its KV pool must hold
// StepBlocks(opts) blocks of StepBlockSize): the decoding sequences' caches
// are filled first, untraced; then Warmup untimed and Repeats traced runs
// of the mixed step. The profile's phase is "step" (or "decode" or
// "prefill" when the step has only one kind of row).
func RunStep(ctx context.Context, r *model.Ragged, opts StepOptions) (*Profile, error) {
	cfg := r.Config()
	switch {
	case opts.Decodes < 0 || opts.Chunk < 0 || opts.Decodes+opts.Chunk == 0:
		return nil, fmt.Errorf("profile: step of %d decodes and a %d-token chunk; want at least one row", opts.Decodes, opts.Chunk)
	case opts.Decodes > 0 && (opts.Depth < 1 || opts.Depth+1 > cfg.NPositions):
		return nil, fmt.Errorf("profile: decode depth %d, want 1..%d", opts.Depth, cfg.NPositions-1)
	case opts.Chunk > cfg.NPositions:
		return nil, fmt.Errorf("profile: chunk of %d tokens, context is %d", opts.Chunk, cfg.NPositions)
	case r.KV().BlockSize() != StepBlockSize || r.KV().NumBlocks() < StepBlocks(opts):
		return nil, fmt.Errorf("profile: the KV pool has %d blocks of %d, the step needs %d of %d", r.KV().NumBlocks(), r.KV().BlockSize(), StepBlocks(opts), StepBlockSize)
	}
	if opts.Repeats <= 0 {
		opts.Repeats = 3
	}
	if opts.Warmup == 0 {
		opts.Warmup = 1
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 2))
	toks := func(n int) []int32 {
		ids := make([]int32, n)
		for i := range ids {
			ids[i] = int32(rng.IntN(cfg.VocabSize))
		}
		return ids
	}
	next := int32(0)
	table := func(n int) []int32 {
		t := make([]int32, (n+StepBlockSize-1)/StepBlockSize)
		for i := range t {
			t[i] = next
			next++
		}
		return t
	}
	var fill, step []model.SeqStep
	for range opts.Decodes {
		prompt := toks(opts.Depth + 1)
		blocks := table(opts.Depth + 1)
		fill = append(fill, model.SeqStep{Tokens: prompt[:opts.Depth], Blocks: blocks})
		step = append(step, model.SeqStep{Tokens: prompt[opts.Depth:], Pos: opts.Depth, Blocks: blocks, Logits: model.LogitsLast})
	}
	if opts.Chunk > 0 {
		step = append(step, model.SeqStep{Tokens: toks(opts.Chunk), Blocks: table(opts.Chunk), Logits: model.LogitsLast})
	}
	if len(fill) > 0 {
		if err := r.Step(ctx, fill, nil); err != nil {
			return nil, fmt.Errorf("profile: filling the caches: %w", err)
		}
	}
	logits := make([]float32, model.LogitRowsOf(step)*cfg.VocabSize)
	for range max(opts.Warmup, 0) {
		if err := r.Step(ctx, step, logits); err != nil {
			return nil, fmt.Errorf("profile: warm-up step: %w", err)
		}
	}
	tr := NewTracer(cfg, TracerOptions{WeightBytesPerValue: opts.WeightBytesPerValue, Timeline: opts.Timeline, Labels: opts.Labels, Context: ctx, Steps: opts.Repeats})
	tr.Reset()
	r.SetTracer(tr)
	defer r.SetTracer(nil)
	for range opts.Repeats {
		if err := r.Step(ctx, step, logits); err != nil {
			return nil, fmt.Errorf("profile: traced step: %w", err)
		}
	}
	tr.Finish()
	info := opts.Info
	info.InputLen, info.OutputLen = model.RaggedStepShape(step).Rows, len(step)
	return tr.Profile(info), nil
}
