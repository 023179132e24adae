package model

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// GonumModel is GPT-2's float32 weights run through gonum's BLAS
// (gonum.org/v1/gonum/blas/blas32): a textbook BLAS implementation of the
// same forward pass as Model, so that a report on each shows what
// gpt2bench's own kernels buy over it, op by op. It shares the Params'
// slices (no copy) and is read-only, so Sessions can share it.
//
// The linear layers are SGEMM calls (gonum's parallel blocked GEMM, on
// GOMAXPROCS goroutines), or SGEMV for a single row; attention's q·Kᵀ and a·V are SGEMV calls on
// strided views of the KV cache; layer norm, softmax and GELU are plain Go
// loops. Weights are float32 only.
type GonumModel struct {
	cfg    Config
	wte    blas32.General // [V, C] embeddings
	lmHead blas32.General // [V, C] the LM head: wte when tied
	wpe    []float32      // [maxT, C]
	layers []gonumLayer
	lnFW   []float32 // [C]
	lnFB   []float32 // [C]
}

// gonumLayer is one block's weights as BLAS matrices [out, in].
type gonumLayer struct {
	ln1W, ln1B []float32      // [C]
	attnW      blas32.General // [3C, C]
	attnB      []float32      // [3C]
	projW      blas32.General // [C, C]
	projB      []float32      // [C]
	ln2W, ln2B []float32      // [C]
	fcW        blas32.General // [F, C]
	fcB        []float32      // [F]
	fcProjW    blas32.General // [C, F]
	fcProjB    []float32      // [C]
}

// general wraps a row-major [rows, cols] slice as a BLAS matrix.
func general(data []float32, rows, cols int) blas32.General {
	return blas32.General{Rows: rows, Cols: cols, Stride: cols, Data: data}
}

// NewGonum validates p against cfg and returns a GonumModel sharing p's slices.
func NewGonum(cfg Config, p *Params) (*GonumModel, error) {
	if err := p.Validate(cfg); err != nil {
		return nil, err
	}
	C, F, V := cfg.NEmbd, cfg.Inner(), cfg.VocabSize
	m := &GonumModel{cfg: cfg, wte: general(p.WTE, V, C), wpe: p.WPE, lnFW: p.LnFW, lnFB: p.LnFB}
	m.lmHead = m.wte
	if cfg.UntiedLMHead {
		m.lmHead = general(p.LMHead, V, C)
	}
	m.layers = make([]gonumLayer, cfg.NLayer)
	for i, lp := range p.Layers {
		m.layers[i] = gonumLayer{
			ln1W: lp.Ln1W, ln1B: lp.Ln1B, ln2W: lp.Ln2W, ln2B: lp.Ln2B,
			attnW: general(lp.AttnW, 3*C, C), attnB: lp.AttnB,
			projW: general(lp.AttnProjW, C, C), projB: lp.AttnProjB,
			fcW: general(lp.FcW, F, C), fcB: lp.FcB,
			fcProjW: general(lp.FcProjW, C, F), fcProjB: lp.FcProjB,
		}
	}
	return m, nil
}

// Config returns the architecture.
func (m *GonumModel) Config() Config { return m.cfg }

// Threads returns the goroutines gonum's GEMM splits a large product
// across: GOMAXPROCS (gonum has no per-call setting).
func (m *GonumModel) Threads() int { return runtime.GOMAXPROCS(0) }

// GonumSession is one batch of sequences running through a GonumModel:
// the KV cache and scratch buffers, laid out as Session's, and the same
// ops reported to a Tracer in the same order, so that profiles of the two
// compare op by op.
type GonumSession struct {
	m      *GonumModel
	B      int // sequences
	maxT   int // positions the cache holds per sequence
	pos    int // positions cached per sequence
	tracer Tracer
	hidden HiddenFunc
	step   Step // the step running, for OpOutput

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
	logits []float32 // the caller's logits of the step running, for OpOutput
}

// NewSession returns a GonumSession for batch sequences holding up to
// capacity positions each (0 means n_positions).
func (m *GonumModel) NewSession(batch, capacity int) (*GonumSession, error) {
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
	return &GonumSession{
		m: m, B: batch, maxT: capacity,
		k: make([]float32, n), v: make([]float32, n),
		last: make([]float32, batch*cfg.NEmbd),
		att:  make([]float32, batch*cfg.NHead*capacity),
	}, nil
}

// Name returns "gonum".
func (s *GonumSession) Name() string { return "gonum" }

// Batch returns B.
func (s *GonumSession) Batch() int { return s.B }

// Pos returns the positions cached per sequence.
func (s *GonumSession) Pos() int { return s.pos }

// Config returns the model's architecture.
func (s *GonumSession) Config() Config { return s.m.cfg }

// Reset empties the KV cache.
func (s *GonumSession) Reset() { s.pos = 0 }

// Close releases nothing. It exists to satisfy Backend.
func (s *GonumSession) Close() error { return nil }

// SetTracer installs t (nil to remove) to receive every op's boundaries.
func (s *GonumSession) SetTracer(t Tracer) { s.tracer = t }

// SetHidden installs f (nil to remove) to receive the residual stream.
func (s *GonumSession) SetHidden(f HiddenFunc) { s.hidden = f }

// KVBytes returns the memory the KV cache occupies.
func (s *GonumSession) KVBytes() int64 { return int64(4 * (len(s.k) + len(s.v))) }

func (s *GonumSession) grow(N, T, span int) {
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

// Forward implements Backend, as Session.Forward does.
func (s *GonumSession) Forward(ctx context.Context, tokens [][]int32, logits []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := s.m.cfg
	T, err := CheckTokens(cfg, s.B, s.pos, s.maxT, tokens)
	if err != nil {
		return err
	}
	all, err := LogitRows(cfg, s.B, T, len(logits))
	if err != nil {
		return err
	}
	N, C := s.B*T, cfg.NEmbd
	s.grow(N, T, s.pos+T)
	s.step = Step{B: s.B, T: T, Pos: s.pos, AllLogits: all}
	s.logits = logits
	if s.tracer != nil {
		s.tracer.BeginStep(s.step)
	}
	s.embed(tokens, T)
	if s.hidden != nil {
		s.hidden(0, s.x[:N*C])
	}
	for l := range s.m.layers {
		s.block(l, T)
		if s.hidden != nil && l < cfg.NLayer-1 {
			s.hidden(l+1, s.x[:N*C])
		}
	}
	s.head(logits, T, all)
	s.pos += T
	if s.tracer != nil {
		s.tracer.EndStep()
	}
	s.logits = nil
	return nil
}

// embed writes x[b*T+t] = wte[tokens[b][t]] + wpe[pos+t] (a copy and a SAXPY per row).
func (s *GonumSession) embed(tokens [][]int32, T int) {
	s.begin(-1, OpEmbed)
	C := s.m.cfg.NEmbd
	for b, seq := range tokens {
		for t, id := range seq {
			xr := s.x[(b*T+t)*C : (b*T+t+1)*C]
			copy(xr, s.m.wte.Data[int(id)*C:(int(id)+1)*C])
			blas32.Implementation().Saxpy(C, 1, s.m.wpe[(s.pos+t)*C:], 1, xr, 1)
		}
	}
	s.end(-1, OpEmbed)
}

func (s *GonumSession) begin(l int, op Op) {
	if s.tracer != nil {
		s.tracer.BeginOp(l, op)
	}
}

func (s *GonumSession) end(l int, op Op) {
	if s.tracer != nil {
		s.tracer.EndOp(l, op)
	}
}

// gonumLinear computes out[N, M] = x[N, K]·W[M, K]ᵀ + b: out is filled
// with b's rows, then one SGEMM, out = 1·x·Wᵀ + 1·out; a single row (a
// decode step of one sequence) is one SGEMV, out = 1·W·x + 1·out, which
// gonum runs about 4× faster than SGEMM with one row (measured on the
// decode shapes of gpt2).
func gonumLinear(out, x []float32, w blas32.General, b []float32, N int) {
	M, K := w.Rows, w.Cols
	o := out[:N*M]
	if b != nil {
		for r := range N {
			copy(o[r*M:(r+1)*M], b)
		}
	} else {
		clear(o)
	}
	if N == 1 {
		blas32.Gemv(blas.NoTrans, 1, w, blas32.Vector{N: K, Inc: 1, Data: x[:K]}, 1, blas32.Vector{N: M, Inc: 1, Data: o})
		return
	}
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, general(x[:N*K], N, K), w, 1, general(o, N, M))
}

// block runs transformer block l on the N = B*T rows of x, with the ops
// and Tracer events of Session.block.
func (s *GonumSession) block(l, T int) {
	w := &s.m.layers[l]
	cfg := s.m.cfg
	C, F, N := cfg.NEmbd, cfg.Inner(), s.B*T
	x, xn := s.x[:N*C], s.xn[:N*C]
	eps := cfg.LayerNormEps

	s.begin(l, OpLN1)
	gonumLayerNorm(xn, x, w.ln1W, w.ln1B, C, eps)
	s.end(l, OpLN1)

	s.begin(l, OpQKV)
	gonumLinear(s.qkv, xn, w.attnW, w.attnB, N) // [N, 3C]
	s.storeKV(l, T)
	s.end(l, OpQKV)

	s.attention(l, T) // y [N, C]

	s.begin(l, OpAttnProj)
	gonumLinear(s.proj, s.y, w.projW, w.projB, N)
	s.end(l, OpAttnProj)

	s.begin(l, OpResidual1)
	blas32.Implementation().Saxpy(N*C, 1, s.proj, 1, x, 1) // x += proj
	s.end(l, OpResidual1)

	s.begin(l, OpLN2)
	gonumLayerNorm(xn, x, w.ln2W, w.ln2B, C, eps)
	s.end(l, OpLN2)

	// GELU runs inside the mlp_up span, as Session fuses it there
	// (GELUFused), so that the two backends' op times compare like for like.
	s.begin(l, OpMLPUp)
	h := s.h[:N*F]
	gonumLinear(h, xn, w.fcW, w.fcB, N) // [N, F]
	gelu := gonumGELUTanh
	if cfg.Activation == "gelu" {
		gelu = gonumGELUErf
	}
	for i, v := range h {
		h[i] = gelu(v)
	}
	s.end(l, OpMLPUp)

	s.begin(l, OpGELU)
	s.end(l, OpGELU)

	s.begin(l, OpMLPDown)
	gonumLinear(s.proj, h, w.fcProjW, w.fcProjB, N) // [N, C]
	s.end(l, OpMLPDown)

	s.begin(l, OpResidual2)
	blas32.Implementation().Saxpy(N*C, 1, s.proj, 1, x, 1)
	s.end(l, OpResidual2)
}

// storeKV copies the new keys and values of layer l from qkv [N, 3C]
// (q | k | v per row) into the cache at positions pos..pos+T-1.
func (s *GonumSession) storeKV(l, T int) {
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
func (s *GonumSession) kvOffset(l, b, p int) int {
	return ((l*s.B+b)*s.maxT + p) * s.m.cfg.NEmbd
}

// attention is Session.attention with SGEMV: for each (b, h, t) row,
//
//	scores[0:n] = K_h[0:n, HS]·q / √HS   K_h: head h's columns of the cache, stride C
//	probs = softmax(scores)
//	y_h[HS] = V_h[0:n, HS]ᵀ·probs
//
// where n = P+t+1 positions are visible (causal).
func (s *GonumSession) attention(l, T int) {
	cfg := s.m.cfg
	C, NH, HS := cfg.NEmbd, cfg.NHead, cfg.HeadSize()
	span := s.pos + T
	scale := float32(1 / math.Sqrt(float64(HS)))
	rows := s.B * NH * T
	view := func(cache []float32, b, h, n int) blas32.General { // [n, HS] with stride C
		head := s.kvOffset(l, b, 0) + h*HS
		return blas32.General{Rows: n, Cols: HS, Stride: C, Data: cache[head : head+(n-1)*C+HS]}
	}
	for _, op := range [...]Op{OpAttnScores, OpAttnSoftmax, OpAttnValues} {
		s.begin(l, op)
		for r := range rows {
			t, h, b := r%T, (r/T)%NH, r/(T*NH)
			n := s.pos + t + 1
			scores := s.att[r*span : r*span+n]
			switch op {
			case OpAttnScores:
				q := s.qkv[(b*T+t)*3*C+h*HS : (b*T+t)*3*C+(h+1)*HS]
				blas32.Gemv(blas.NoTrans, scale, view(s.k, b, h, n), blas32.Vector{N: HS, Inc: 1, Data: q}, 0, blas32.Vector{N: n, Inc: 1, Data: scores})
			case OpAttnSoftmax:
				gonumSoftmax(scores)
			case OpAttnValues:
				y := s.y[(b*T+t)*C+h*HS : (b*T+t)*C+(h+1)*HS]
				blas32.Gemv(blas.Trans, 1, view(s.v, b, h, n), blas32.Vector{N: n, Inc: 1, Data: scores}, 0, blas32.Vector{N: HS, Inc: 1, Data: y})
			}
		}
		s.end(l, op)
	}
}

// head applies ln_f and the LM head (logits = ln_f(x)·lm_headᵀ, wte when tied; one SGEMM)
// to every row (all) or the last row of each sequence.
func (s *GonumSession) head(logits []float32, T int, all bool) {
	cfg := s.m.cfg
	C := cfg.NEmbd
	s.begin(-1, OpLNF)
	rows, n := s.last, s.B
	if all {
		n = s.B * T
		rows = s.xn[:n*C]
		gonumLayerNorm(rows, s.x[:n*C], s.m.lnFW, s.m.lnFB, C, cfg.LayerNormEps)
		if s.hidden != nil {
			s.hidden(cfg.NLayer, rows)
		}
	} else {
		for b := range s.B {
			r := (b*T + T - 1) * C
			gonumLayerNorm(rows[b*C:(b+1)*C], s.x[r:r+C], s.m.lnFW, s.m.lnFB, C, cfg.LayerNormEps)
		}
	}
	s.end(-1, OpLNF)
	s.begin(-1, OpLogits)
	gonumLinear(logits, rows, s.m.lmHead, nil, n) // [n, V]
	s.end(-1, OpLogits)
}

// gonumLayerNorm normalises each row of x [n, C] into out:
// out = (x - mean)/√(var + eps)·w + b, with the biased variance; float32
// loops with float64 sums.
func gonumLayerNorm(out, x, w, b []float32, C int, eps float32) {
	for r := 0; r < len(x)/C; r++ {
		xr, or := x[r*C:(r+1)*C], out[r*C:(r+1)*C]
		var sum float64
		for _, v := range xr {
			sum += float64(v)
		}
		mean := float32(sum / float64(C))
		var ss float64
		for _, v := range xr {
			d := float64(v - mean)
			ss += d * d
		}
		rstd := float32(1 / math.Sqrt(ss/float64(C)+float64(eps)))
		for c, v := range xr {
			or[c] = (v-mean)*rstd*w[c] + b[c]
		}
	}
}

// gonumSoftmax replaces s with softmax(s) in place.
func gonumSoftmax(s []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range s {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range s {
		e := float32(math.Exp(float64(v - mx))) // subtract max: stability only
		s[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range s {
		s[i] *= inv
	}
}

// gonumGELUTanh is GPT-2's gelu_new: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
func gonumGELUTanh(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
}

// gonumGELUErf is the exact GELU: ½x(1 + erf(x/√2)).
func gonumGELUErf(x float32) float32 {
	v := float64(x)
	return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
}
