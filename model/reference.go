package model

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Reference runs GPT-2 the plain way, in float64 with gonum's mat package:
// the whole sequence at once, no KV cache, no parallelism, no tricks. It is
// the teaching version of the forward pass and the cross-check for Session.
// It returns the logits at every position [T, V] and the L2 norm of the
// residual stream at every position, after the embeddings, after each block
// and after ln_f ([L+1, T], transformers' output_hidden_states convention).
func Reference(cfg Config, p *Params, tokens []int32) (logits *mat.Dense, norms [][]float64, err error) {
	if err := p.Validate(cfg); err != nil {
		return nil, nil, err
	}
	T, C := len(tokens), cfg.NEmbd
	if T == 0 || T > cfg.NPositions {
		return nil, nil, &ContextError{Have: T, Max: cfg.NPositions}
	}
	for _, id := range tokens {
		if id < 0 || int(id) >= cfg.VocabSize {
			return nil, nil, fmt.Errorf("model: token %d outside the vocabulary [0, %d)", id, cfg.VocabSize)
		}
	}
	eps := float64(cfg.LayerNormEps)

	// x = wte[tokens] + wpe[0:T]                                  [T, C]
	x := mat.NewDense(T, C, nil)
	for t, id := range tokens {
		for c := range C {
			x.Set(t, c, float64(p.WTE[int(id)*C+c])+float64(p.WPE[t*C+c]))
		}
	}
	norms = append(norms, rowNorms(x))
	for l := range cfg.NLayer {
		lp := &p.Layers[l]
		// x = x + attn(ln_1(x))
		a := refAttention(cfg, lp, refLayerNorm(x, lp.Ln1W, lp.Ln1B, eps))
		x.Add(x, a)
		// x = x + mlp(ln_2(x))
		h := refLinear(refLayerNorm(x, lp.Ln2W, lp.Ln2B, eps), lp.FcW, lp.FcB, cfg.Inner(), C) // [T, F]
		h.Apply(func(_, _ int, v float64) float64 { return refGELU(cfg.Activation, v) }, h)
		x.Add(x, refLinear(h, lp.FcProjW, lp.FcProjB, C, cfg.Inner())) // [T, C]
		if l < cfg.NLayer-1 {
			norms = append(norms, rowNorms(x))
		}
	}
	xf := refLayerNorm(x, p.LnFW, p.LnFB, eps)
	norms = append(norms, rowNorms(xf))
	// logits = ln_f(x)·wteᵀ (the LM head is tied to the token embeddings)   [T, V]
	return refLinear(xf, p.WTE, nil, cfg.VocabSize, C), norms, nil
}

// refLinear returns x·Wᵀ + b for W [out, in] stored as float32.
func refLinear(x *mat.Dense, w, b []float32, out, in int) *mat.Dense {
	W := mat.NewDense(out, in, widen(w))
	var y mat.Dense
	y.Mul(x, W.T())
	if b != nil {
		y.Apply(func(_, j int, v float64) float64 { return v + float64(b[j]) }, &y)
	}
	return &y
}

// refLayerNorm normalises each row to zero mean and unit (biased) variance,
// then applies the gain w and bias b.
func refLayerNorm(x *mat.Dense, w, b []float32, eps float64) *mat.Dense {
	T, C := x.Dims()
	y := mat.NewDense(T, C, nil)
	for t := range T {
		row := x.RawRowView(t)
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
			y.Set(t, c, (v-mean)*rstd*float64(w[c])+float64(b[c]))
		}
	}
	return y
}

// refAttention is causal multi-head self-attention over the whole sequence:
// for each head, softmax(q·kᵀ/√HS + mask)·v, heads concatenated, projected.
func refAttention(cfg Config, lp *LayerParams, xn *mat.Dense) *mat.Dense {
	T, _ := xn.Dims()
	C, NH, HS := cfg.NEmbd, cfg.NHead, cfg.HeadSize()
	qkv := refLinear(xn, lp.AttnW, lp.AttnB, 3*C, C) // [T, 3C]
	y := mat.NewDense(T, C, nil)
	for h := range NH {
		q := qkv.Slice(0, T, h*HS, (h+1)*HS)         // [T, HS]
		k := qkv.Slice(0, T, C+h*HS, C+(h+1)*HS)     // [T, HS]
		v := qkv.Slice(0, T, 2*C+h*HS, 2*C+(h+1)*HS) // [T, HS]
		var att mat.Dense
		att.Mul(q, k.T()) // [T, T]
		att.Scale(1/math.Sqrt(float64(HS)), &att)
		for i := range T { // causal mask, then softmax over each row
			row := att.RawRowView(i)[:i+1]
			mx := math.Inf(-1)
			for _, s := range row {
				mx = math.Max(mx, s)
			}
			var sum float64
			for j, s := range row {
				row[j] = math.Exp(s - mx)
				sum += row[j]
			}
			for j := range row {
				row[j] /= sum
			}
			clear(att.RawRowView(i)[i+1:])
		}
		var out mat.Dense
		out.Mul(&att, v) // [T, HS]
		y.Slice(0, T, h*HS, (h+1)*HS).(*mat.Dense).Copy(&out)
	}
	return refLinear(y, lp.AttnProjW, lp.AttnProjB, C, C)
}

// refGELU is GELU by name: "gelu" is exact (erf), the others the tanh form.
func refGELU(name string, x float64) float64 {
	if name == "gelu" {
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	}
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func rowNorms(x *mat.Dense) []float64 {
	T, _ := x.Dims()
	n := make([]float64, T)
	for t := range T {
		n[t] = mat.Norm(x.RowView(t), 2)
	}
	return n
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}
