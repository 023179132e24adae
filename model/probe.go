package model

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/gpt2bench/gpt2bench/tensor"
)

// Activation is a copy of one op's output, in float64, row-major.
type Activation struct {
	Shape []int     // outermost first, e.g. [N, C]; nil when the backend cannot show the op's output
	Data  []float64 // len = product of Shape
}

// OpShape returns the shape of op's output during step st under cfg, as
// OpOutput returns it:
//
//	embed, ln_1, attn_values, attn_proj, residual_1, ln_2, mlp_down, residual_2   [N, C]
//	qkv                                                                           [N, 3C]
//	attn_scores, attn_softmax   [B, NH, T, P+T]; entries a row cannot see (the future) are 0
//	mlp_up, gelu                [N, F] (after GELU: it runs inside mlp_up)
//	ln_f                        [n, C], n = N when st.AllLogits, else B (last positions)
//	logits                      [n, V]
//
// with N = B*T. OpSample has no output here (nil).
func OpShape(cfg Config, st Step, op Op) []int {
	N, C := st.B*st.T, cfg.NEmbd
	n := st.B
	if st.AllLogits {
		n = N
	}
	switch op {
	case OpQKV:
		return []int{N, 3 * C}
	case OpAttnScores, OpAttnSoftmax:
		return []int{st.B, cfg.NHead, st.T, st.Pos + st.T}
	case OpMLPUp, OpGELU:
		return []int{N, cfg.Inner()}
	case OpLNF:
		return []int{n, C}
	case OpLogits:
		return []int{n, cfg.VocabSize}
	case OpSample:
		return nil
	}
	return []int{N, C}
}

// Inspectable is a backend whose op outputs can be read while a Tracer's
// EndOp runs, and whose final layer norm and LM head can be applied to any
// residual-stream rows (the logit lens). Session, GonumSession and
// RefSession implement it.
type Inspectable interface {
	Backend
	SetTracer(t Tracer)
	// OpOutput returns a copy of op's output in step st (the step running),
	// shaped as OpShape says. It is valid only inside the Tracer's
	// EndOp(layer, op); an op whose output the backend does not keep
	// returns an Activation with a nil Shape.
	OpOutput(st Step, op Op) Activation
	// Head applies ln_f and the LM head, as the model does for its own
	// logits, to x [n, C] and returns the logits [n, V].
	Head(x Activation) Activation
}

// ProbeFunc receives the output of op (of layer; -1 outside the blocks) in
// step st.
type ProbeFunc func(st Step, layer int, op Op, out Activation)

// Probe is a Tracer that reads every op's output from an Inspectable
// backend as the op ends and hands it to a ProbeFunc. Install it with
// be.SetTracer(NewProbe(be, f)). Copying every output is slow: a Probe is
// for verification and inspection, not for timing.
type Probe struct {
	be Inspectable
	f  ProbeFunc
	st Step
}

// NewProbe returns a Probe of be that calls f.
func NewProbe(be Inspectable, f ProbeFunc) *Probe { return &Probe{be: be, f: f} }

// BeginStep implements Tracer.
func (p *Probe) BeginStep(st Step) { p.st = st }

// BeginOp implements Tracer.
func (p *Probe) BeginOp(int, Op) {}

// EndOp implements Tracer: it reads op's output.
func (p *Probe) EndOp(layer int, op Op) {
	if a := p.be.OpOutput(p.st, op); a.Shape != nil {
		p.f(p.st, layer, op, a)
	}
}

// EndStep implements Tracer.
func (p *Probe) EndStep() {}

// scratch names the float32 buffers Session and GonumSession share in layout.
type scratch struct {
	x, xn, qkv, y, proj, h, att, last, logits []float32
}

// read copies op's output out of the scratch buffers of a float32 session.
func (sc scratch) read(cfg Config, st Step, op Op) Activation {
	shape := OpShape(cfg, st, op)
	if shape == nil {
		return Activation{}
	}
	size := 1
	for _, d := range shape {
		size *= d
	}
	var src []float32
	switch op {
	case OpEmbed, OpResidual1, OpResidual2:
		src = sc.x
	case OpLN1, OpLN2:
		src = sc.xn
	case OpQKV:
		src = sc.qkv
	case OpAttnValues:
		src = sc.y
	case OpAttnProj, OpMLPDown:
		src = sc.proj
	case OpMLPUp, OpGELU:
		src = sc.h
	case OpLNF:
		src = sc.xn
		if !st.AllLogits {
			src = sc.last
		}
	case OpLogits:
		src = sc.logits
	case OpAttnScores, OpAttnSoftmax:
		// att holds row (b, h, t) at r*span with its P+t+1 visible entries.
		span := st.Pos + st.T
		out := make([]float64, size)
		for r := range size / span {
			n := st.Pos + r%st.T + 1
			for p, v := range sc.att[r*span : r*span+n] {
				out[r*span+p] = float64(v)
			}
		}
		return Activation{Shape: shape, Data: out}
	}
	if len(src) < size {
		return Activation{}
	}
	out := make([]float64, size)
	for i, v := range src[:size] {
		out[i] = float64(v)
	}
	return Activation{Shape: shape, Data: out}
}

// OpOutput implements Inspectable. The logits are not kept by a Session
// (they go straight to the caller's buffer): OpLogits returns nil.
func (s *Session) OpOutput(st Step, op Op) Activation {
	r := s.r
	switch op {
	case OpAttnScores, OpAttnSoftmax:
		// Ragged keeps row i's scores of head h at rowAtt[i] + h*n, n = pos_i+1:
		// reorder them to [B, NH, T, P+T].
		cfg := s.m.cfg
		NH, span := cfg.NHead, st.Pos+st.T
		out := make([]float64, st.B*NH*st.T*span)
		for i := range st.B * st.T {
			b, t := i/st.T, i%st.T
			n := st.Pos + t + 1
			for h := range NH {
				dst := out[((b*NH+h)*st.T+t)*span:]
				for p, v := range r.att[r.rowAtt[i]+h*n : r.rowAtt[i]+(h+1)*n] {
					dst[p] = float64(v)
				}
			}
		}
		return Activation{Shape: OpShape(cfg, st, op), Data: out}
	case OpLNF:
		return scratch{xn: r.last, last: r.last}.read(s.m.cfg, st, op)
	}
	return scratch{x: r.x, xn: r.xn, qkv: r.qkv, y: r.y, proj: r.proj, h: r.h}.read(s.m.cfg, st, op)
}

// Head implements Inspectable with the kernels Session's own logits use.
func (s *Session) Head(x Activation) Activation {
	cfg := s.m.cfg
	C, V := cfg.NEmbd, cfg.VocabSize
	n := len(x.Data) / C
	in, xn := narrow(x.Data), make([]float32, n*C)
	tensor.LayerNorm(xn, in, s.m.lnFW, s.m.lnFB, n, C, cfg.LayerNormEps)
	logits := make([]float32, n*V)
	s.r.run.Linear(logits, xn, s.m.lmHead, nil, n)
	return Activation{Shape: []int{n, V}, Data: widen(logits)}
}

// OpOutput implements Inspectable.
func (s *GonumSession) OpOutput(st Step, op Op) Activation {
	return scratch{x: s.x, xn: s.xn, qkv: s.qkv, y: s.y, proj: s.proj, h: s.h, att: s.att, last: s.last, logits: s.logits}.read(s.m.cfg, st, op)
}

// Head implements Inspectable with gonum's SGEMM, as GonumSession's own logits.
func (s *GonumSession) Head(x Activation) Activation {
	cfg := s.m.cfg
	C, V := cfg.NEmbd, cfg.VocabSize
	n := len(x.Data) / C
	in, xn := narrow(x.Data), make([]float32, n*C)
	gonumLayerNorm(xn, in, s.m.lnFW, s.m.lnFB, C, cfg.LayerNormEps)
	logits := make([]float32, n*V)
	gonumLinear(logits, xn, s.m.lmHead, nil, n)
	return Activation{Shape: []int{n, V}, Data: widen(logits)}
}

// OpOutput implements Inspectable: the reference keeps every op's result.
func (s *RefSession) OpOutput(st Step, op Op) Activation {
	shape := OpShape(s.m.cfg, st, op)
	o := s.out[op]
	switch {
	case shape == nil:
		return Activation{}
	case o.att != nil: // [B*NH] of [T, P+T] -> [B, NH, T, P+T], the masked future as 0
		var out []float64
		for _, a := range o.att {
			for _, v := range a.RawMatrix().Data {
				if math.IsInf(v, -1) {
					v = 0
				}
				out = append(out, v)
			}
		}
		return Activation{Shape: shape, Data: out}
	case o.m != nil:
		return Activation{Shape: shape, Data: append([]float64(nil), o.m.RawMatrix().Data...)}
	}
	return Activation{}
}

// Head implements Inspectable: refLayerNorm with ln_f, then refLMHead.
func (s *RefSession) Head(x Activation) Activation {
	cfg := s.m.cfg
	n := len(x.Data) / cfg.NEmbd
	xm := mat.NewDense(n, cfg.NEmbd, append([]float64(nil), x.Data...))
	lg := refLMHead(refLayerNorm(xm, s.m.lnF, float64(cfg.LayerNormEps)), s.m.lmHead)
	return Activation{Shape: []int{n, cfg.VocabSize}, Data: lg.RawMatrix().Data}
}

var (
	_ Inspectable = (*Session)(nil)
	_ Inspectable = (*GonumSession)(nil)
	_ Inspectable = (*RefSession)(nil)
)
