package model

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// This file is GPT-2's forward pass written for reading: float64 gonum/mat
// matrices, one function per op, the shapes of every argument in a comment,
// no parallelism and no tricks beyond the KV cache. It is the cross-check
// for the fast paths (Session, GonumSession) and the teaching version of
// the model; docs/walkthrough.md follows it op by op.
//
// Dimensions as in doc.go: B sequences, T new positions per sequence,
// N = B*T rows, P cached positions, C, NH, HS = C/NH, F, V, L.

// RefModel is GPT-2's weights widened to float64 gonum matrices (8 bytes a
// parameter: about 1 GB for gpt2). It is read-only once built.
type RefModel struct {
	cfg    Config
	wte    *mat.Dense // [V, C] token embeddings
	lmHead *mat.Dense // [V, C] the LM head: wte when tied
	wpe    *mat.Dense // [maxT, C] position embeddings
	layers []refLayer
	lnF    refNorm // final layer norm
}

// refLayer is one transformer block's weights; matrices are [out, in].
type refLayer struct {
	ln1     refNorm
	attnW   *mat.Dense // [3C, C] q, k and v stacked by output row
	attnB   []float64  // [3C]
	projW   *mat.Dense // [C, C]
	projB   []float64  // [C]
	ln2     refNorm
	fcW     *mat.Dense // [F, C]
	fcB     []float64  // [F]
	fcProjW *mat.Dense // [C, F]
	fcProjB []float64  // [C]
}

// refNorm is a layer norm's gain and bias, each [C].
type refNorm struct{ w, b []float64 }

// NewRef validates p against cfg and widens it to float64.
func NewRef(cfg Config, p *Params) (*RefModel, error) {
	if err := p.Validate(cfg); err != nil {
		return nil, err
	}
	C, F, V := cfg.NEmbd, cfg.Inner(), cfg.VocabSize
	m := &RefModel{
		cfg: cfg,
		wte: mat.NewDense(V, C, widen(p.WTE)),
		wpe: mat.NewDense(cfg.NPositions, C, widen(p.WPE)),
		lnF: refNorm{widen(p.LnFW), widen(p.LnFB)},
	}
	m.lmHead = m.wte
	if cfg.UntiedLMHead {
		m.lmHead = mat.NewDense(V, C, widen(p.LMHead))
	}
	for _, lp := range p.Layers {
		m.layers = append(m.layers, refLayer{
			ln1:   refNorm{widen(lp.Ln1W), widen(lp.Ln1B)},
			attnW: mat.NewDense(3*C, C, widen(lp.AttnW)), attnB: widen(lp.AttnB),
			projW: mat.NewDense(C, C, widen(lp.AttnProjW)), projB: widen(lp.AttnProjB),
			ln2: refNorm{widen(lp.Ln2W), widen(lp.Ln2B)},
			fcW: mat.NewDense(F, C, widen(lp.FcW)), fcB: widen(lp.FcB),
			fcProjW: mat.NewDense(C, F, widen(lp.FcProjW)), fcProjB: widen(lp.FcProjB),
		})
	}
	return m, nil
}

// Config returns the architecture.
func (m *RefModel) Config() Config { return m.cfg }

// RefSession is one batch of sequences running through a RefModel, with a
// float64 KV cache. It implements Backend (float32 logits out) and reports
// the same ops to a Tracer as Session, in the same order.
type RefSession struct {
	m      *RefModel
	B      int // sequences
	maxT   int // positions the cache holds per sequence
	pos    int // positions cached per sequence
	tracer Tracer
	hidden func(i int, x *mat.Dense) // residual stream, transformers' output_hidden_states convention

	k, v [][]*mat.Dense // [L][B] of [maxT, C]: keys and values of every cached position

	step Step           // the step running
	out  [NumOps]output // the latest output of each op, for OpOutput
}

// output is one op's result as the reference holds it: a matrix, or the
// attention scores/probabilities of every (sequence, head).
type output struct {
	m   *mat.Dense   // [rows, cols]
	att []*mat.Dense // [B*NH] of [T, P+T]
}

// NewSession returns a RefSession for batch sequences holding up to
// capacity positions each (0 means n_positions). Its KV cache takes
// 2·L·B·capacity·C float64s.
func (m *RefModel) NewSession(batch, capacity int) (*RefSession, error) {
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
	s := &RefSession{m: m, B: batch, maxT: capacity}
	s.k, s.v = make([][]*mat.Dense, cfg.NLayer), make([][]*mat.Dense, cfg.NLayer)
	for l := range cfg.NLayer {
		for range batch {
			s.k[l] = append(s.k[l], mat.NewDense(capacity, cfg.NEmbd, nil))
			s.v[l] = append(s.v[l], mat.NewDense(capacity, cfg.NEmbd, nil))
		}
	}
	return s, nil
}

// Name returns "reference".
func (s *RefSession) Name() string { return "reference" }

// Batch returns B.
func (s *RefSession) Batch() int { return s.B }

// Pos returns the positions cached per sequence.
func (s *RefSession) Pos() int { return s.pos }

// Config returns the model's architecture.
func (s *RefSession) Config() Config { return s.m.cfg }

// Reset empties the KV cache.
func (s *RefSession) Reset() { s.pos = 0 }

// Close releases nothing. It exists to satisfy Backend.
func (s *RefSession) Close() error { return nil }

// SetTracer installs t (nil to remove) to receive every op's boundaries.
func (s *RefSession) SetTracer(t Tracer) { s.tracer = t }

// SetHidden installs f (nil to remove) to receive the residual stream,
// rounded to float32.
func (s *RefSession) SetHidden(f HiddenFunc) {
	if f == nil {
		s.hidden = nil
		return
	}
	s.hidden = func(i int, x *mat.Dense) { f(i, narrow(x.RawMatrix().Data)) }
}

// KVBytes returns the memory the KV cache occupies.
func (s *RefSession) KVBytes() int64 {
	cfg := s.m.cfg
	return int64(8 * 2 * cfg.NLayer * s.B * s.maxT * cfg.NEmbd)
}

// Forward implements Backend: GPT-2 in the order of the math, each op one
// function. logits are written in float32.
func (s *RefSession) Forward(ctx context.Context, tokens [][]int32, logits []float32) error {
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
	s.step = Step{B: s.B, T: T, Pos: s.pos, AllLogits: all}
	if s.tracer != nil {
		s.tracer.BeginStep(s.step)
	}
	eps := float64(cfg.LayerNormEps)

	x := s.op(-1, OpEmbed, func() output { return output{m: refEmbed(s.m.wte, s.m.wpe, tokens, s.pos)} }).m // [N, C]
	s.observe(0, x)
	for l := range cfg.NLayer {
		w := &s.m.layers[l]
		// x = x + attn(ln_1(x))
		xn := s.op(l, OpLN1, func() output { return output{m: refLayerNorm(x, w.ln1, eps)} }).m // [N, C]
		qkv := s.op(l, OpQKV, func() output {
			qkv := refLinear(xn, w.attnW, w.attnB) // [N, 3C]
			refStoreKV(s.k[l], s.v[l], qkv, T, s.pos)
			return output{m: qkv}
		}).m
		scores := s.op(l, OpAttnScores, func() output { return output{att: refAttnScores(qkv, s.k[l], cfg.NHead, T, s.pos)} }).att // [B*NH] of [T, P+T]
		probs := s.op(l, OpAttnSoftmax, func() output { return output{att: refSoftmax(scores)} }).att                              // [B*NH] of [T, P+T]
		y := s.op(l, OpAttnValues, func() output { return output{m: refAttnValues(probs, s.v[l], cfg.NHead, T)} }).m               // [N, C]
		a := s.op(l, OpAttnProj, func() output { return output{m: refLinear(y, w.projW, w.projB)} }).m                             // [N, C]
		x = s.op(l, OpResidual1, func() output { return output{m: refAdd(x, a)} }).m                                               // [N, C]
		// x = x + mlp(ln_2(x)); GELU is timed inside mlp_up, as the fast paths fuse it (GELUFused)
		xn = s.op(l, OpLN2, func() output { return output{m: refLayerNorm(x, w.ln2, eps)} }).m // [N, C]
		h := s.op(l, OpMLPUp, func() output {
			return output{m: refGELU(refLinear(xn, w.fcW, w.fcB), cfg.Activation)} // [N, F]
		}).m
		s.op(l, OpGELU, func() output { return output{m: h} })
		m := s.op(l, OpMLPDown, func() output { return output{m: refLinear(h, w.fcProjW, w.fcProjB)} }).m // [N, C]
		x = s.op(l, OpResidual2, func() output { return output{m: refAdd(x, m)} }).m                      // [N, C]
		if l < cfg.NLayer-1 {
			s.observe(l+1, x)
		}
	}
	if !all { // only the last position of each sequence needs logits
		x = refLastRows(x, s.B, T) // [B, C]
	}
	xf := s.op(-1, OpLNF, func() output { return output{m: refLayerNorm(x, s.m.lnF, eps)} }).m // [n, C]
	if all {
		s.observe(cfg.NLayer, xf)
	}
	lg := s.op(-1, OpLogits, func() output { return output{m: refLMHead(xf, s.m.lmHead)} }).m // [n, V]
	for i, v := range lg.RawMatrix().Data {
		logits[i] = float32(v)
	}
	s.pos += T
	if s.tracer != nil {
		s.tracer.EndStep()
	}
	return nil
}

// op runs f as op (of layer l; -1 outside the blocks) between the Tracer's
// BeginOp and EndOp, keeps its output for OpOutput and returns it.
func (s *RefSession) op(l int, op Op, f func() output) output {
	if s.tracer != nil {
		s.tracer.BeginOp(l, op)
	}
	s.out[op] = f()
	if s.tracer != nil {
		s.tracer.EndOp(l, op)
	}
	return s.out[op]
}

func (s *RefSession) observe(i int, x *mat.Dense) {
	if s.hidden != nil {
		s.hidden(i, x)
	}
}

// refEmbed returns x = wte[tokens] + wpe[pos:pos+T], one row per (b, t).
//
//	wte    [V, C]
//	wpe    [maxT, C]
//	tokens [B][T]
//	x      [N, C]   row b*T+t
func refEmbed(wte, wpe *mat.Dense, tokens [][]int32, pos int) *mat.Dense {
	B, T := len(tokens), len(tokens[0])
	_, C := wte.Dims()
	x := mat.NewDense(B*T, C, nil)
	for b, seq := range tokens {
		for t, id := range seq {
			row := x.RawRowView(b*T + t)
			floats64Add(row, wte.RawRowView(int(id)), wpe.RawRowView(pos+t))
		}
	}
	return x
}

// refLayerNorm normalises each row of x to zero mean and unit (biased)
// variance, then applies the gain and bias:
//
//	y = (x - mean(x)) / √(var(x) + eps) · w + b
//
//	x, y  [n, C]
//	w, b  [C]
func refLayerNorm(x *mat.Dense, ln refNorm, eps float64) *mat.Dense {
	n, C := x.Dims()
	y := mat.NewDense(n, C, nil)
	for t := range n {
		row, out := x.RawRowView(t), y.RawRowView(t)
		var mean, variance float64
		for _, v := range row {
			mean += v
		}
		mean /= float64(C)
		for _, v := range row {
			variance += (v - mean) * (v - mean)
		}
		variance /= float64(C)
		rstd := 1 / math.Sqrt(variance+eps)
		for c, v := range row {
			out[c] = (v-mean)*rstd*ln.w[c] + ln.b[c]
		}
	}
	return y
}

// refLinear returns y = x·Wᵀ + b, a GPT-2 linear layer (HF's Conv1D with
// its weight transposed at load).
//
//	x  [n, in]
//	W  [out, in]
//	b  [out], or nil
//	y  [n, out]
func refLinear(x, W *mat.Dense, b []float64) *mat.Dense {
	var y mat.Dense
	y.Mul(x, W.T())
	if b != nil {
		n, _ := y.Dims()
		for r := range n {
			floats64Add(y.RawRowView(r), y.RawRowView(r), b)
		}
	}
	return &y
}

// refStoreKV appends the new keys and values to the cache: for sequence b
// and new position t, K[b][pos+t] = k and V[b][pos+t] = v, where each
// qkv row is q | k | v.
//
//	K, V  [B] of [maxT, C]
//	qkv   [N, 3C]
func refStoreKV(K, V []*mat.Dense, qkv *mat.Dense, T, pos int) {
	_, C := K[0].Dims()
	for b := range K {
		for t := range T {
			row := qkv.RawRowView(b*T + t)
			copy(K[b].RawRowView(pos+t), row[C:2*C])
			copy(V[b].RawRowView(pos+t), row[2*C:3*C])
		}
	}
}

// refAttnScores returns, for each sequence b and head h, the scaled dot
// products of the T new queries with the P+T cached keys, with the future
// masked out (causal: new row t sees positions 0..P+t):
//
//	s[b,h] = q[b,h]·K[b,h]ᵀ / √HS, s[t, p] = -Inf for p > P+t
//
//	qkv      [N, 3C]   q of head h: columns h*HS..(h+1)*HS
//	K        [B] of [maxT, C], head h: the same columns
//	s[b*NH+h] [T, P+T]
func refAttnScores(qkv *mat.Dense, K []*mat.Dense, NH, T, pos int) []*mat.Dense {
	_, C := K[0].Dims()
	HS, span := C/NH, pos+T
	scores := make([]*mat.Dense, 0, len(K)*NH)
	for b := range K {
		for h := range NH {
			q := qkv.Slice(b*T, (b+1)*T, h*HS, (h+1)*HS) // [T, HS]
			k := K[b].Slice(0, span, h*HS, (h+1)*HS)     // [P+T, HS]
			s := mat.NewDense(T, span, nil)
			s.Mul(q, k.T())
			s.Scale(1/math.Sqrt(float64(HS)), s)
			for t := range T {
				row := s.RawRowView(t)
				for p := pos + t + 1; p < span; p++ {
					row[p] = math.Inf(-1) // the future is not visible
				}
			}
			scores = append(scores, s)
		}
	}
	return scores
}

// refSoftmax returns the softmax of every row of every matrix:
// a[t, p] = exp(s[t, p] - max_p s[t, :]) / Σ_p exp(...) (the max is
// subtracted for stability only; masked -Inf scores become 0).
//
//	s, a  [B*NH] of [T, P+T]
func refSoftmax(s []*mat.Dense) []*mat.Dense {
	a := make([]*mat.Dense, len(s))
	for i, si := range s {
		a[i] = mat.DenseCopyOf(si)
		T, _ := si.Dims()
		for t := range T {
			row := a[i].RawRowView(t)
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, v)
			}
			var sum float64
			for p, v := range row {
				row[p] = math.Exp(v - mx)
				sum += row[p]
			}
			for p := range row {
				row[p] /= sum
			}
		}
	}
	return a
}

// refAttnValues returns each head's attention-weighted sum of the cached
// values, heads side by side:
//
//	y[b, :, h*HS:(h+1)*HS] = a[b,h]·V[b,h]
//
//	a   [B*NH] of [T, P+T]
//	V   [B] of [maxT, C]
//	y   [N, C]
func refAttnValues(a []*mat.Dense, V []*mat.Dense, NH, T int) *mat.Dense {
	_, C := V[0].Dims()
	HS := C / NH
	y := mat.NewDense(len(V)*T, C, nil)
	for b := range V {
		for h := range NH {
			ah := a[b*NH+h]
			_, span := ah.Dims()
			yh := y.Slice(b*T, (b+1)*T, h*HS, (h+1)*HS).(*mat.Dense) // [T, HS], a view into y
			yh.Mul(ah, V[b].Slice(0, span, h*HS, (h+1)*HS))
		}
	}
	return y
}

// refAdd returns the residual sum x + y.
//
//	x, y, out  [N, C]
func refAdd(x, y *mat.Dense) *mat.Dense {
	var out mat.Dense
	out.Add(x, y)
	return &out
}

// refGELU applies GELU to every element of h in place and returns it:
// "gelu" is exact, ½x(1 + erf(x/√2)); the others (gelu_new,
// gelu_pytorch_tanh, gelu_fast) the tanh form ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
//
//	h  [N, F]
func refGELU(h *mat.Dense, activation string) *mat.Dense {
	h.Apply(func(_, _ int, x float64) float64 {
		if activation == "gelu" {
			return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
		}
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}, h)
	return h
}

// refLastRows returns the last row of each sequence.
//
//	x    [N, C] = [B*T, C]
//	out  [B, C]
func refLastRows(x *mat.Dense, B, T int) *mat.Dense {
	_, C := x.Dims()
	out := mat.NewDense(B, C, nil)
	for b := range B {
		copy(out.RawRowView(b), x.RawRowView(b*T+T-1))
	}
	return out
}

// refLMHead returns the next-token logits: the LM head is tied to the token
// embeddings, logits = x·wteᵀ.
//
//	x       [n, C] (after ln_f)
//	wte     [V, C]
//	logits  [n, V]
func refLMHead(x, wte *mat.Dense) *mat.Dense {
	return refLinear(x, wte, nil)
}

// Reference runs tokens through a fresh RefModel in one step and returns
// the logits at every position [T, V] and the L2 norm of the residual
// stream at every position, after the embeddings, after each block and
// after ln_f ([L+1, T], transformers' output_hidden_states convention).
func Reference(cfg Config, p *Params, tokens []int32) (logits *mat.Dense, norms [][]float64, err error) {
	m, err := NewRef(cfg, p)
	if err != nil {
		return nil, nil, err
	}
	if len(tokens) == 0 || len(tokens) > cfg.NPositions {
		return nil, nil, &ContextError{Have: len(tokens), Max: cfg.NPositions}
	}
	s, err := m.NewSession(1, len(tokens))
	if err != nil {
		return nil, nil, err
	}
	s.hidden = func(_ int, x *mat.Dense) { norms = append(norms, rowNorms(x)) }
	out := make([]float32, len(tokens)*cfg.VocabSize)
	if err := s.Forward(context.Background(), [][]int32{tokens}, out); err != nil {
		return nil, nil, err
	}
	return s.out[OpLogits].m, norms, nil
}

func rowNorms(x *mat.Dense) []float64 {
	T, _ := x.Dims()
	n := make([]float64, T)
	for t := range T {
		n[t] = mat.Norm(x.RowView(t), 2)
	}
	return n
}

// floats64Add writes dst[i] = a[i] + b[i].
func floats64Add(dst, a, b []float64) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

func narrow(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = float32(f)
	}
	return out
}
