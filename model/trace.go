package model

import (
	"context"
	"time"
)

// Op names one step of the forward pass, for per-op timing.
type Op uint8

// The ops of one forward step, in the order they run. Layer ops run once
// per block; the others run once per step (layer -1).
const (
	OpEmbed       Op = iota // x = wte[tok] + wpe[pos]
	OpLN1                   // ln_1
	OpQKV                   // qkv = ln_1(x)·W_attnᵀ + b, and K, V appended to the cache
	OpAttnScores            // s = q·Kᵀ/√HS over the cached and new positions (causal)
	OpAttnSoftmax           // a = softmax(s)
	OpAttnValues            // y = a·V
	OpAttnProj              // y·W_projᵀ + b
	OpResidual1             // x += attention output
	OpLN2                   // ln_2
	OpMLPUp                 // h = ln_2(x)·W_fcᵀ + b
	OpGELU                  // h = gelu(h)
	OpMLPDown               // h·W_fcprojᵀ + b
	OpResidual2             // x += MLP output
	OpLNF                   // ln_f
	OpLogits                // logits = ln_f(x)·wteᵀ
	OpSample                // next token from the logits (Generate)
	NumOps                  // number of ops
)

var opNames = [NumOps]string{
	"embed", "ln_1", "qkv", "attn_scores", "attn_softmax", "attn_values", "attn_proj", "residual_1",
	"ln_2", "mlp_up", "gelu", "mlp_down", "residual_2", "ln_f", "logits", "sample",
}

// String returns the op's name as it appears in reports ("qkv", "mlp_up").
func (o Op) String() string {
	if o < NumOps {
		return opNames[o]
	}
	return "op?"
}

// PerLayer reports whether the op runs once per block.
func (o Op) PerLayer() bool { return o >= OpLN1 && o <= OpResidual2 }

// Step describes one forward call, for a Tracer.
type Step struct {
	B   int // sequences
	T   int // new positions per sequence
	Pos int // positions already cached per sequence (P)
	// AllLogits is true when logits were computed for all T positions,
	// false when only for the last one.
	AllLogits bool

	// Ragged is true for a step of Ragged.Step, whose sequences differ in
	// new tokens and positions (T and Pos are then meaningless: T is set
	// only when every sequence has the same count). The fields below
	// describe such a step; RaggedStepShape fills them.
	Ragged    bool
	Rows      int   // N: new tokens across all sequences
	Pairs     int64 // (query, key) pairs per head, Σ over rows of positions attended
	Cached    int   // positions held after the step, Σ over sequences (cache rows read)
	LogitRows int   // rows through ln_f and the LM head
	Decodes   int   // sequences advancing by exactly one token
}

// Tracer receives the boundaries of every op of a forward pass. A Session
// with no Tracer pays one nil check per op. Implementations take their own
// timestamps; calls come from the goroutine running Forward.
type Tracer interface {
	BeginStep(s Step)
	BeginOp(layer int, op Op) // layer is -1 for ops outside the blocks
	EndOp(layer int, op Op)
	EndStep()
}

// DeviceTracer is a Tracer for backends whose ops run asynchronously on a
// device (model/cuda): timing each op with host clocks would need a
// synchronization after every op, which changes what is measured. Such a
// backend calls BeginStep when it issues the step, then, once the step has
// run, DeviceOp for every op in order with the times the device measured
// (CUDA events), then EndStep. BeginOp and EndOp are not called for those
// ops.
type DeviceTracer interface {
	Tracer
	// DeviceOp records that op (of layer; -1 outside the blocks) ran for
	// dur on the device, starting start after the step's first op began
	// there.
	DeviceOp(layer int, op Op, start, dur time.Duration)
}

// LabelTracer is a Tracer that also sets pprof labels for each op on the
// goroutine running Forward. A Session hands its current labels to the
// worker pool too, so that the pool's share of each op carries the same
// labels in a CPU profile.
type LabelTracer interface {
	Tracer
	// Labels returns the labels of the op begun last (nil for none).
	Labels() context.Context
}
