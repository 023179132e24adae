package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Params holds GPT-2's weights in float32, in the layout the forward pass
// reads. Linear weights are [out, in] (row-major, in contiguous): Hugging
// Face stores GPT-2's Conv1D weights as [in, out], so a loader transposes
// attn.c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj once at load time
// (nanoGPT's list). The LM head is tied to WTE unless Config.UntiedLMHead.
type Params struct {
	WTE    []float32 // [V, C]    token embeddings; also the LM head when tied
	WPE    []float32 // [maxT, C] position embeddings
	Layers []LayerParams
	LnFW   []float32 // [C] final layer norm gain
	LnFB   []float32 // [C] final layer norm bias
	LMHead []float32 // [V, C] the untied LM head (Config.UntiedLMHead); nil when tied
}

// LayerParams holds one transformer block's weights. F is Config.Inner().
type LayerParams struct {
	Ln1W, Ln1B []float32 // [C]
	AttnW      []float32 // [3C, C] q, k, v stacked by output row
	AttnB      []float32 // [3C]
	AttnProjW  []float32 // [C, C]
	AttnProjB  []float32 // [C]
	Ln2W, Ln2B []float32 // [C]
	FcW        []float32 // [F, C]
	FcB        []float32 // [F]
	FcProjW    []float32 // [C, F]
	FcProjB    []float32 // [C]
}

// ParamShape names one parameter and its expected length, for validation
// and for loaders that build Params tensor by tensor.
type ParamShape struct {
	Name  string // Hugging Face name without the "transformer." prefix, e.g. "h.0.attn.c_attn.weight"
	Shape []int  // as Params holds it ([out, in] for linear weights)
	Ptr   *[]float32
}

// Shapes lists every tensor of p with its expected shape under cfg, in
// checkpoint order. Ptr points into p so a loader can fill it.
func (p *Params) Shapes(cfg Config) []ParamShape {
	C, F, V, T := cfg.NEmbd, cfg.Inner(), cfg.VocabSize, cfg.NPositions
	if len(p.Layers) != cfg.NLayer {
		p.Layers = make([]LayerParams, cfg.NLayer)
	}
	s := []ParamShape{
		{"wte.weight", []int{V, C}, &p.WTE},
		{"wpe.weight", []int{T, C}, &p.WPE},
	}
	for i := range p.Layers {
		l := &p.Layers[i]
		h := fmt.Sprintf("h.%d.", i)
		s = append(s,
			ParamShape{h + "ln_1.weight", []int{C}, &l.Ln1W},
			ParamShape{h + "ln_1.bias", []int{C}, &l.Ln1B},
			ParamShape{h + "attn.c_attn.weight", []int{3 * C, C}, &l.AttnW},
			ParamShape{h + "attn.c_attn.bias", []int{3 * C}, &l.AttnB},
			ParamShape{h + "attn.c_proj.weight", []int{C, C}, &l.AttnProjW},
			ParamShape{h + "attn.c_proj.bias", []int{C}, &l.AttnProjB},
			ParamShape{h + "ln_2.weight", []int{C}, &l.Ln2W},
			ParamShape{h + "ln_2.bias", []int{C}, &l.Ln2B},
			ParamShape{h + "mlp.c_fc.weight", []int{F, C}, &l.FcW},
			ParamShape{h + "mlp.c_fc.bias", []int{F}, &l.FcB},
			ParamShape{h + "mlp.c_proj.weight", []int{C, F}, &l.FcProjW},
			ParamShape{h + "mlp.c_proj.bias", []int{C}, &l.FcProjB},
		)
	}
	s = append(s,
		ParamShape{"ln_f.weight", []int{C}, &p.LnFW},
		ParamShape{"ln_f.bias", []int{C}, &p.LnFB},
	)
	if cfg.UntiedLMHead {
		s = append(s, ParamShape{"lm_head.weight", []int{V, C}, &p.LMHead})
	}
	return s
}

// Validate checks that every tensor is present with the length cfg implies,
// and names every missing or mis-sized tensor in one error.
func (p *Params) Validate(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(p.Layers) != cfg.NLayer {
		return fmt.Errorf("model: params have %d layers, config has n_layer %d", len(p.Layers), cfg.NLayer)
	}
	var errs []error
	if !cfg.UntiedLMHead && p.LMHead != nil {
		errs = append(errs, errors.New("lm_head is set but the config ties it to wte (untied_lm_head false)"))
	}
	for _, s := range p.Shapes(cfg) {
		want := 1
		for _, d := range s.Shape {
			want *= d
		}
		switch got := len(*s.Ptr); {
		case got == 0:
			errs = append(errs, fmt.Errorf("missing %s %v", s.Name, s.Shape))
		case got != want:
			errs = append(errs, fmt.Errorf("%s has %d values, want %v = %d", s.Name, got, s.Shape, want))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("model: invalid params: %w", err)
	}
	return nil
}

// RandomParams returns deterministic random weights for cfg, initialised as
// transformers does for a fresh GPT2LMHeadModel: every matrix and embedding
// N(0, 0.02), biases 0, layer-norm gains 1 and biases 0. The same seed gives
// the same weights on every machine.
func RandomParams(cfg Config, seed uint64) (*Params, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Params{}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for _, s := range p.Shapes(cfg) {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		v := make([]float32, n)
		switch {
		case len(s.Shape) == 2: // weight matrices and embeddings
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.02)
			}
		case isGain(s.Name): // layer-norm gain
			for i := range v {
				v[i] = 1
			}
		}
		*s.Ptr = v
	}
	return p, nil
}

func isGain(name string) bool {
	n := len(name)
	return n >= len("ln_f.weight") && name[n-len(".weight"):] == ".weight"
}
