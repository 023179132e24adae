package model

import (
	"context"
	"fmt"
)

// MaxBatch bounds the sequences of one Session.
const MaxBatch = 1 << 16

// Backend is what generation and the benchmark drive: something that
// advances B sequences through GPT-2 and keeps their KV cache. Session is
// the CPU implementation; model/cuda provides a GPU one.
type Backend interface {
	// Name identifies the backend in reports ("cpu", "cuda").
	Name() string
	// Forward appends tokens[b] (the same length T for every b) to sequence
	// b and writes next-token logits: len(logits) == B*V for the last
	// position of each sequence, or B*T*V for every position.
	Forward(ctx context.Context, tokens [][]int32, logits []float32) error
	// Reset empties the KV cache; the next Forward starts at position 0.
	Reset()
	// Pos returns the positions held per sequence.
	Pos() int
	// Batch returns B, the number of sequences.
	Batch() int
	// Config returns the architecture.
	Config() Config
	// Close releases the backend's memory.
	Close() error
}

// DeviceSampler is a Backend that can choose the next tokens on its own
// device, so that per step only the ids cross to the host instead of B*V
// logits (model/cuda chooses greedy and sampled tokens so). Generate uses it when
// SamplesOnDevice accepts the options.
type DeviceSampler interface {
	Backend
	// SamplesOnDevice reports whether ForwardSample supports opts.
	SamplesOnDevice(opts SampleOptions) bool
	// ForwardSample appends tokens to every sequence, as Forward does,
	// and writes the next token of each sequence, chosen with opts, to ids
	// [B]. A Tracer installed on the backend receives the sampling as op
	// OpSample of the step.
	ForwardSample(ctx context.Context, tokens [][]int32, opts SampleOptions, ids []int32) error
}

// Session is one batch of sequences running through a Model on the CPU in
// lockstep: every sequence advances by the same number of tokens per call.
// It is a Ragged step over a KV cache of one block per sequence, as long as
// its capacity (llama2.c's RunState: the cache and the scratch buffers of
// the forward pass, allocated once). A Session is used by one goroutine at
// a time; many Sessions can share a Model.
type Session struct {
	m    *Model
	r    *Ragged
	B    int // sequences
	maxT int // positions the cache holds per sequence
	pos  int // positions cached per sequence

	seqs   []SeqStep // [B] the step being run: sequence b uses block b
	blocks []int32   // [B] block ids 0..B-1, one table entry per sequence
}

// HiddenFunc receives the residual stream x [N, C] (N = B*T rows) after the
// embeddings (i = 0), after each block (i = 1..L-1), and after the last
// block and ln_f (i = L), as transformers' output_hidden_states does.
// The slice is only valid during the call.
type HiddenFunc func(i int, x []float32)

// SessionBytes returns the memory of the KV cache NewSession allocates for
// batch sequences of capacity positions: 2·L·B·capacity·C float32s.
func SessionBytes(cfg Config, batch, capacity int) int64 {
	return 8 * int64(cfg.NLayer) * int64(batch) * int64(capacity) * int64(cfg.NEmbd)
}

// NewSession returns a Session for batch sequences holding up to capacity
// positions each (0 means n_positions): size it to what the run needs
// (prompt + new tokens). A cache larger than the memory available is
// refused with both sizes (a *sysmem.Error) before it is allocated. Its KV
// cache takes 2·L·B·capacity·C values of the Model's KVDType.
func (m *Model) NewSession(batch, capacity int) (*Session, error) {
	cfg := m.cfg
	if capacity == 0 {
		capacity = cfg.NPositions
	}
	switch {
	case batch < 1:
		return nil, fmt.Errorf("model: batch size %d, want >= 1", batch)
	case batch > MaxBatch:
		return nil, fmt.Errorf("model: batch size %d, want 1..%d", batch, MaxBatch)
	case capacity < 1 || capacity > cfg.NPositions:
		return nil, fmt.Errorf("model: session capacity %d, want 1..%d (n_positions)", capacity, cfg.NPositions)
	}
	kv, err := NewKVBlocksOf(cfg, m.opts.KVDType, capacity, batch)
	if err != nil {
		return nil, err
	}
	r, _ := m.NewRagged(kv)
	s := &Session{m: m, r: r, B: batch, maxT: capacity, seqs: make([]SeqStep, batch), blocks: make([]int32, batch)}
	for b := range s.blocks {
		s.blocks[b] = int32(b)
		s.seqs[b].Blocks = s.blocks[b : b+1]
	}
	return s, nil
}

// Name returns "cpu".
func (s *Session) Name() string { return "cpu" }

// Batch returns B.
func (s *Session) Batch() int { return s.B }

// Pos returns the positions cached per sequence.
func (s *Session) Pos() int { return s.pos }

// Capacity returns the positions the cache holds per sequence.
func (s *Session) Capacity() int { return s.maxT }

// Config returns the model's architecture.
func (s *Session) Config() Config { return s.m.cfg }

// Reset empties the KV cache.
func (s *Session) Reset() { s.pos = 0 }

// Close releases nothing; the Model owns the pool. It exists to satisfy Backend.
func (s *Session) Close() error { return nil }

// SetTracer installs t (nil to remove) to receive every op's boundaries.
// A LabelTracer's pprof labels also go to the worker pool.
func (s *Session) SetTracer(t Tracer) { s.r.SetTracer(t) }

// SetHidden installs f (nil to remove) to receive the residual stream.
func (s *Session) SetHidden(f HiddenFunc) { s.r.SetHidden(f) }

// KVBytes returns the memory the KV cache occupies.
func (s *Session) KVBytes() int64 { return s.r.kv.Bytes() }

// checkStep validates a Forward call and returns T and whether logits are
// wanted at every position.
func (s *Session) checkStep(tokens [][]int32, logits []float32) (T int, all bool, err error) {
	if T, err = CheckTokens(s.m.cfg, s.B, s.pos, s.maxT, tokens); err != nil {
		return 0, false, err
	}
	all, err = LogitRows(s.m.cfg, s.B, T, len(logits))
	return T, all, err
}

// CheckTokens validates the tokens of a Backend.Forward call on a batch of
// B sequences that hold pos of capacity positions each, and returns T, the
// new positions per sequence. Every backend runs the same checks.
func CheckTokens(cfg Config, B, pos, capacity int, tokens [][]int32) (T int, err error) {
	if len(tokens) != B {
		return 0, fmt.Errorf("model: forward got %d sequences, session has batch %d", len(tokens), B)
	}
	T = len(tokens[0])
	if T == 0 {
		return 0, fmt.Errorf("model: forward got no tokens")
	}
	for b, seq := range tokens {
		if len(seq) != T {
			return 0, fmt.Errorf("model: sequence %d has %d tokens, sequence 0 has %d; a batch advances every sequence by the same count", b, len(seq), T)
		}
		for t, id := range seq {
			if id < 0 || int(id) >= cfg.VocabSize {
				return 0, fmt.Errorf("model: token %d at sequence %d position %d is outside the vocabulary [0, %d)", id, b, t, cfg.VocabSize)
			}
		}
	}
	if pos+T > capacity {
		return 0, &ContextError{Have: pos + T, Max: capacity}
	}
	return T, nil
}

// LogitRows checks the length n of a Forward call's logits buffer for B
// sequences advancing T positions: B*V means the last position of each
// sequence, B*T*V every position (all).
func LogitRows(cfg Config, B, T, n int) (all bool, err error) {
	V := cfg.VocabSize
	switch n {
	case B * T * V: // first: with T = 1 both readings agree, and "every position" also reports ln_f's output to a HiddenFunc
		return true, nil
	case B * V:
		return false, nil
	}
	return false, fmt.Errorf("model: logits buffer has %d values, want B*V = %d (last position) or B*T*V = %d (every position)", n, B*V, B*T*V)
}

// Forward implements Backend: it runs the new tokens through every block,
// appending their keys and values to the cache, and writes logits.
func (s *Session) Forward(ctx context.Context, tokens [][]int32, logits []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	T, all, err := s.checkStep(tokens, logits)
	if err != nil {
		return err
	}
	mode := LogitsLast
	if all {
		mode = LogitsAll
	}
	for b := range s.seqs {
		s.seqs[b].Tokens, s.seqs[b].Pos, s.seqs[b].Logits = tokens[b], s.pos, mode
	}
	r := s.r
	if r.tracer != nil {
		r.tracer.BeginStep(Step{B: s.B, T: T, Pos: s.pos, AllLogits: all})
	}
	r.forward(s.seqs, logits)
	s.pos += T
	if r.tracer != nil {
		r.tracer.EndStep()
	}
	for b := range s.seqs {
		s.seqs[b].Tokens = nil // keep no reference to the caller's tokens
	}
	return nil
}
