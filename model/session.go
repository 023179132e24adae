package model

import (
	"context"
	"fmt"
	"math"

	"github.com/gpt2bench/gpt2bench/tensor"
)

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

// Session is one batch of sequences running through a Model on the CPU: the
// KV cache and the scratch buffers of the forward pass, allocated once
// (llama2.c's RunState). A Session is used by one goroutine at a time;
// many Sessions can share a Model.
type Session struct {
	m       *Model
	run     *tensor.Runner
	B       int // sequences
	maxT    int // positions the cache holds per sequence
	pos     int // positions cached per sequence
	tracer  Tracer
	labeler LabelTracer // tracer, when it sets pprof labels
	hidden  HiddenFunc

	k, v []float32 // [L, B, maxT, C] keys and values of every cached position

	// Scratch, sized for N = B*T rows on first use and only grown.
	rows   int
	x      []float32 // [N, C] residual stream
	xn     []float32 // [N, C] layer-norm output
	qkv    []float32 // [N, 3C]
	y      []float32 // [N, C] attention output before projection
	proj   []float32 // [N, C] projection output
	h      []float32 // [N, F] MLP hidden
	att    []float32 // [B, NH, T, P+T] attention scores, then probabilities
	last   []float32 // [B, C] final-norm rows for last-position logits
	attJob attentionTask
}

// HiddenFunc receives the residual stream x [N, C] (N = B*T rows) after the
// embeddings (i = 0), after each block (i = 1..L-1), and after the last
// block and ln_f (i = L), as transformers' output_hidden_states does.
// The slice is only valid during the call.
type HiddenFunc func(i int, x []float32)

// NewSession returns a Session for batch sequences holding up to capacity
// positions each (0 means n_positions). Its KV cache takes
// 2·L·B·capacity·C float32s.
func (m *Model) NewSession(batch, capacity int) (*Session, error) {
	cfg := m.cfg
	if capacity == 0 {
		capacity = cfg.NPositions
	}
	switch {
	case batch < 1:
		return nil, fmt.Errorf("model: batch size %d, want >= 1", batch)
	case capacity < 1 || capacity > cfg.NPositions:
		return nil, fmt.Errorf("model: session capacity %d, want 1..%d (n_positions)", capacity, cfg.NPositions)
	}
	n := cfg.NLayer * batch * capacity * cfg.NEmbd
	return &Session{
		m: m, run: m.pool.NewRunner(), B: batch, maxT: capacity,
		k: make([]float32, n), v: make([]float32, n),
		last: make([]float32, batch*cfg.NEmbd),
		// Decode (T = 1) never attends past capacity: sized once, it never grows.
		att: make([]float32, batch*cfg.NHead*capacity),
	}, nil
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
func (s *Session) SetTracer(t Tracer) {
	s.tracer = t
	s.labeler, _ = t.(LabelTracer)
	s.run.SetLabels(nil)
}

// SetHidden installs f (nil to remove) to receive the residual stream.
func (s *Session) SetHidden(f HiddenFunc) { s.hidden = f }

// KVBytes returns the memory the KV cache occupies.
func (s *Session) KVBytes() int64 { return int64(4 * (len(s.k) + len(s.v))) }

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

// grow sizes the scratch buffers for N rows and P+T attended positions.
// It allocates only when a step is larger than every step before it.
func (s *Session) grow(N, T, span int) {
	cfg := s.m.cfg
	C, F := cfg.NEmbd, cfg.Inner()
	if N > s.rows {
		s.rows = N
		s.x = make([]float32, N*C)
		s.xn = make([]float32, N*C)
		s.qkv = make([]float32, N*3*C)
		s.y = make([]float32, N*C)
		s.proj = make([]float32, N*C)
		s.h = make([]float32, N*F)
	}
	if need := s.B * cfg.NHead * T * span; need > len(s.att) {
		s.att = make([]float32, need)
	}
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
	N := s.B * T
	s.grow(N, T, s.pos+T)
	if s.tracer != nil {
		s.tracer.BeginStep(Step{B: s.B, T: T, Pos: s.pos, AllLogits: all})
	}
	s.embed(tokens, T)
	s.observe(0, N)
	for l := range s.m.layers {
		s.block(l, T)
		if l < len(s.m.layers)-1 {
			s.observe(l+1, N)
		}
	}
	s.logits(logits, T, all)
	s.pos += T
	if s.tracer != nil {
		s.tracer.EndStep()
	}
	return nil
}

func (s *Session) begin(l int, op Op) {
	if s.tracer != nil {
		s.tracer.BeginOp(l, op)
		if s.labeler != nil {
			s.run.SetLabels(s.labeler.Labels())
		}
	}
}

func (s *Session) end(l int, op Op) {
	if s.tracer != nil {
		s.tracer.EndOp(l, op)
	}
}

func (s *Session) observe(i, N int) {
	if s.hidden != nil {
		s.hidden(i, s.x[:N*s.m.cfg.NEmbd])
	}
}

// embed writes x[b*T+t] = wte[tokens[b][t]] + wpe[pos+t].
func (s *Session) embed(tokens [][]int32, T int) {
	s.begin(-1, OpEmbed)
	C := s.m.cfg.NEmbd
	for b, seq := range tokens {
		for t, id := range seq {
			xr := s.x[(b*T+t)*C : (b*T+t+1)*C]
			s.m.wte.Row(xr, int(id))
			tensor.Add(xr, s.m.wpe[(s.pos+t)*C:(s.pos+t+1)*C])
		}
	}
	s.end(-1, OpEmbed)
}

// block runs transformer block l on the N = B*T rows of x:
// x += attn(ln_1(x)); x += mlp(ln_2(x)).
func (s *Session) block(l, T int) {
	w := &s.m.layers[l]
	cfg := s.m.cfg
	C, F, N := cfg.NEmbd, cfg.Inner(), s.B*T
	x, xn := s.x[:N*C], s.xn[:N*C]

	s.begin(l, OpLN1)
	s.run.LayerNorm(xn, x, w.ln1W, w.ln1B, N, C, cfg.LayerNormEps) // rows split across threads when N is large
	s.end(l, OpLN1)

	s.begin(l, OpQKV)
	qkv := s.qkv[:N*3*C]
	s.run.Linear(qkv, xn, w.attnW, w.attnB, N) // [N, 3C]
	s.storeKV(l, T)
	s.end(l, OpQKV)

	s.attention(l, T) // y [N, C]

	s.begin(l, OpAttnProj)
	proj := s.proj[:N*C]
	s.run.Linear(proj, s.y[:N*C], w.projW, w.projB, N)
	s.end(l, OpAttnProj)

	s.begin(l, OpResidual1)
	tensor.Add(x, proj)
	s.end(l, OpResidual1)

	s.begin(l, OpLN2)
	s.run.LayerNorm(xn, x, w.ln2W, w.ln2B, N, C, cfg.LayerNormEps) // rows split across threads when N is large
	s.end(l, OpLN2)

	s.begin(l, OpMLPUp)
	h := s.h[:N*F]
	s.run.LinearAct(h, xn, w.fcW, w.fcB, N, s.m.act) // [N, F], GELU fused on each thread's columns
	s.end(l, OpMLPUp)

	s.begin(l, OpGELU) // fused into mlp_up above: this op now times ~0
	s.end(l, OpGELU)

	s.begin(l, OpMLPDown)
	s.run.Linear(proj, h, w.fcProjW, w.fcProjB, N) // [N, C]
	s.end(l, OpMLPDown)

	s.begin(l, OpResidual2)
	tensor.Add(x, proj)
	s.end(l, OpResidual2)
}

// storeKV copies the new keys and values of layer l from qkv [N, 3C]
// (q | k | v per row) into the cache at positions pos..pos+T-1.
func (s *Session) storeKV(l, T int) {
	C := s.m.cfg.NEmbd
	for b := range s.B {
		for t := range T {
			row := s.qkv[(b*T+t)*3*C : (b*T+t+1)*3*C]
			off := s.kvOffset(l, b, s.pos+t)
			copy(s.k[off:off+C], row[C:2*C])
			copy(s.v[off:off+C], row[2*C:3*C])
		}
	}
}

// kvOffset returns the index of cache row [l, b, p, :].
func (s *Session) kvOffset(l, b, p int) int {
	C := s.m.cfg.NEmbd
	return ((l*s.B+b)*s.maxT + p) * C
}

// logits applies ln_f and the tied LM head: logits = ln_f(x)·wteᵀ, for every
// row (all) or the last row of each sequence.
func (s *Session) logits(logits []float32, T int, all bool) {
	cfg := s.m.cfg
	C := cfg.NEmbd
	s.begin(-1, OpLNF)
	var rows []float32
	n := s.B
	if all {
		n = s.B * T
		rows = s.xn[:n*C]
		tensor.LayerNorm(rows, s.x[:n*C], s.m.lnFW, s.m.lnFB, n, C, cfg.LayerNormEps)
		if s.hidden != nil {
			s.hidden(cfg.NLayer, rows)
		}
	} else {
		rows = s.last
		for b := range s.B {
			r := (b*T + T - 1) * C
			tensor.LayerNorm(rows[b*C:(b+1)*C], s.x[r:r+C], s.m.lnFW, s.m.lnFB, 1, C, cfg.LayerNormEps)
		}
	}
	s.end(-1, OpLNF)
	s.begin(-1, OpLogits)
	s.run.Linear(logits, rows, s.m.wte, nil, n) // [n, V]
	s.end(-1, OpLogits)
}

// attention computes causal self-attention of layer l for the T new rows of
// every sequence against the P+T cached positions, head by head:
//
//	s = q·Kᵀ/√HS   [B, NH, T, P+T], position p visible to row t iff p <= P+t
//	a = softmax(s)
//	y = a·V        [N, C], heads side by side
//
// The three stages run as separate parallel passes so a Tracer can time each.
func (s *Session) attention(l, T int) {
	cfg := s.m.cfg
	s.attJob = attentionTask{s: s, l: l, T: T, span: s.pos + T, scale: float32(1 / math.Sqrt(float64(cfg.HeadSize())))}
	rows := s.B * cfg.NHead * T // one (b, h, t) per row of scores
	for _, st := range [...]struct {
		op    Op
		stage int
	}{{OpAttnScores, stageScores}, {OpAttnSoftmax, stageSoftmax}, {OpAttnValues, stageValues}} {
		s.begin(l, st.op)
		s.attJob.stage = st.stage
		s.run.For(rows, 1, &s.attJob)
		s.end(l, st.op)
	}
}

const (
	stageScores = iota
	stageSoftmax
	stageValues
)

// attentionTask runs one stage of attention over rows (b, h, t) in [lo, hi).
type attentionTask struct {
	s     *Session
	l, T  int
	span  int // P+T: positions attended by the last new row
	scale float32
	stage int
}

func (a *attentionTask) Run(lo, hi int) {
	s := a.s
	cfg := s.m.cfg
	C, NH, HS := cfg.NEmbd, cfg.NHead, cfg.HeadSize()
	P := s.pos
	for r := lo; r < hi; r++ {
		t := r % a.T
		h := (r / a.T) % NH
		b := r / (a.T * NH)
		n := P + t + 1 // causal: row t sees positions 0..P+t
		scores := s.att[r*a.span : r*a.span+n]
		head := s.kvOffset(a.l, b, 0) + h*HS // head h of position 0; position p is C further per p
		switch a.stage {
		case stageScores:
			q := s.qkv[(b*a.T+t)*3*C+h*HS : (b*a.T+t)*3*C+(h+1)*HS]
			tensor.AttnScores(scores, q, s.k[head:head+(n-1)*C+HS], C, a.scale)
		case stageSoftmax:
			tensor.Softmax(scores)
		case stageValues:
			y := s.y[(b*a.T+t)*C+h*HS : (b*a.T+t)*C+(h+1)*HS]
			tensor.AttnValues(y, scores, s.v[head:head+(n-1)*C+HS], C)
		}
	}
}
