package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/gpt2bench/gpt2bench/bench"
	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/profile"
	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/tokenizer"
	"github.com/gpt2bench/gpt2bench/verify"
)

// qualityText is the English text on which reduced-precision weights are
// compared with float32 (about 250 GPT-2 tokens). With real weights its
// perplexity means something; with the random default it is near V.
const qualityText = `The river had been rising for three days when the ferryman decided that the
crossing was no longer safe. He tied the boat to the old oak on the north bank,
walked up to the village and told the baker, who told everyone else. By evening
the square was full of people who had never agreed on anything: farmers who
needed to sell their grain in the town across the water, children who wanted to
see the flood, and the schoolteacher, who explained to anyone who would listen
how rain that fell in the mountains a week ago could arrive here today. Nobody
knew how long the water would stay high. Some said a week, some said a month.
The miller, who kept careful records, went home and came back with a notebook
in which his grandfather had written the date and height of every flood for
sixty years. The numbers did not promise anything, but they were better than
guessing, and for the first time that day the crowd grew quiet while he read
them aloud, one line at a time, until the lamps were lit.`

// profileSection profiles one generation of the first input length that
// fits (batch 1, opts.OutputLen tokens) for the report's profile section,
// against this machine's limits (calibrated once and cached).
func profileSection(ctx context.Context, a *app, e *engine, opts bench.Options, logf func(string, ...any)) (*report.Profile, error) {
	cfg := e.Config()
	plan, err := opts.PlanFor(cfg.NPositions)
	if err != nil || len(plan.InputLens) == 0 {
		return nil, err
	}
	in := plan.InputLens[0]
	tgt, err := e.profileTarget(ctx, a, true)
	if err != nil {
		return nil, err
	}
	s, err := e.NewSession(1, min(in+opts.OutputLen, cfg.NPositions))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	be, ok := s.(profile.Traceable)
	if !ok {
		logf("profile: the %s backend cannot be traced; skipped\n", e.flags.backend)
		return nil, nil
	}
	logf("profile: per-op timing of one generation of %d+%d tokens\n", in, opts.OutputLen)
	p, err := profile.Run(ctx, be, profile.RunOptions{
		InputLen: in, OutputLen: opts.OutputLen, Seed: uint64(opts.Seed), OverheadPairs: 1,
		Info:                profile.Info{Model: e.W.Name, DType: e.DType.String(), Threads: tgt.threads, Device: tgt.device, Limits: tgt.limits},
		WeightBytesPerValue: model.WeightBytesPerValue(e.DType),
	})
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := tgt.recheck(ctx, a, p); err != nil {
		return nil, err
	}
	return p.Report(), nil
}

// qualitySection measures what --dtype f16 or int8 costs: the same token
// stream through float32 and through the reduced weights, compared at
// every position.
func qualitySection(ctx context.Context, e *engine, seed int64) (*report.Quality, error) {
	if e.DType == tensor.F32 || e.cpu == nil {
		return nil, nil
	}
	cfg := e.Config()
	tok, err := tokenizer.New()
	if err != nil {
		return nil, err
	}
	stream, err := tok.Encode(qualityText)
	if err != nil {
		return nil, err
	}
	for i, id := range stream {
		if int(id) >= cfg.VocabSize { // not a GPT-2 vocabulary: ids from a fixed seed instead
			stream[i] = int32(rand.New(rand.NewPCG(uint64(seed), uint64(i))).IntN(cfg.VocabSize))
		}
	}
	stream = stream[:min(len(stream), cfg.NPositions)]
	base, err := e.float32Model(ctx)
	if err != nil {
		return nil, err
	}
	defer base.Close()
	n := len(stream)
	bs, err := base.NewSession(1, n)
	if err != nil {
		return nil, err
	}
	ts, err := e.cpu.NewSession(1, n)
	if err != nil {
		return nil, err
	}
	q, err := verify.CompareBackends(ctx, bs, ts, stream)
	if err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	ppl, _, err := verify.Perplexity(ctx, ts, stream)
	if err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	refPPL, _, err := verify.Perplexity(ctx, bs, stream)
	if err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	return &report.Quality{
		DType: bench.DTypeName(e.DType), Reference: "float32", Tokens: q.Positions,
		MaxAbsLogitError: q.MaxAbsLogitErr, Top1Agreement: q.Top1Agreement, MeanKL: q.MeanKL,
		Perplexity: ppl, ReferencePerplexity: refPPL,
	}, nil
}
