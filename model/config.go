package model

import (
	"errors"
	"fmt"
)

// Config is a GPT-2 architecture: the fields of a Hugging Face config.json
// that change the forward pass.
type Config struct {
	VocabSize    int     `json:"vocab_size"`          // V
	NPositions   int     `json:"n_positions"`         // maxT, the context length
	NEmbd        int     `json:"n_embd"`              // C
	NLayer       int     `json:"n_layer"`             // L
	NHead        int     `json:"n_head"`              // NH; HS = C/NH
	NInner       int     `json:"n_inner"`             // MLP width; 0 means 4*C
	LayerNormEps float32 `json:"layer_norm_epsilon"`  // 1e-5 for every released GPT-2
	Activation   string  `json:"activation_function"` // "gelu_new" (tanh approximation) or "gelu" (erf)
	// UntiedLMHead is true for a checkpoint with its own lm_head.weight
	// (config.json tie_word_embeddings false); false, the default and
	// every released GPT-2, ties the LM head to wte.
	UntiedLMHead bool `json:"untied_lm_head,omitempty"`
}

// Upper bounds of a Config, far above every released GPT-2 (V 50257,
// maxT 1024, C 1600, L 48, F 6400): they keep every size product inside
// int64 and turn an absurd config.json into an error naming the field.
const (
	MaxVocabSize    = 1 << 22
	MaxPositions    = 1 << 22
	MaxEmbd         = 1 << 16
	MaxLayers       = 1 << 10
	MaxInner        = 1 << 18
	MaxLayerNormEps = 1 // eps ≥ 1 swamps the variance of any real activation
)

// Presets are the released GPT-2 architectures, by Hugging Face name.
var presets = map[string]Config{
	"gpt2":        {VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, LayerNormEps: 1e-5, Activation: "gelu_new"},
	"gpt2-medium": {VocabSize: 50257, NPositions: 1024, NEmbd: 1024, NLayer: 24, NHead: 16, LayerNormEps: 1e-5, Activation: "gelu_new"},
	"gpt2-large":  {VocabSize: 50257, NPositions: 1024, NEmbd: 1280, NLayer: 36, NHead: 20, LayerNormEps: 1e-5, Activation: "gelu_new"},
	"gpt2-xl":     {VocabSize: 50257, NPositions: 1024, NEmbd: 1600, NLayer: 48, NHead: 25, LayerNormEps: 1e-5, Activation: "gelu_new"},
	"distilgpt2":  {VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 6, NHead: 12, LayerNormEps: 1e-5, Activation: "gelu_new"},
}

// Preset returns the architecture of a released GPT-2 model ("gpt2",
// "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2").
func Preset(name string) (Config, bool) {
	c, ok := presets[name]
	return c, ok
}

// GPT2 returns the gpt2 (124M) architecture, the embedded default.
func GPT2() Config { return presets["gpt2"] }

// HeadSize returns HS = C/NH.
func (c Config) HeadSize() int { return c.NEmbd / c.NHead }

// Inner returns the MLP width: NInner, or 4*C when NInner is 0.
func (c Config) Inner() int {
	if c.NInner > 0 {
		return c.NInner
	}
	return 4 * c.NEmbd
}

// NumParams returns the number of parameters, counting the tied LM head once.
func (c Config) NumParams() int64 {
	C, F := int64(c.NEmbd), int64(c.Inner())
	perLayer := 2*C + // ln_1
		C*3*C + 3*C + // c_attn
		C*C + C + // attn c_proj
		2*C + // ln_2
		C*F + F + // c_fc
		F*C + C // mlp c_proj
	n := int64(c.VocabSize)*C + int64(c.NPositions)*C + int64(c.NLayer)*perLayer + 2*C
	if c.UntiedLMHead {
		n += int64(c.VocabSize) * C
	}
	return n
}

// Validate reports a configuration the forward pass cannot run.
func (c Config) Validate() error {
	var errs []error
	positive := []struct {
		name string
		v    int
		max  int
	}{{"vocab_size", c.VocabSize, MaxVocabSize}, {"n_positions", c.NPositions, MaxPositions}, {"n_embd", c.NEmbd, MaxEmbd}, {"n_layer", c.NLayer, MaxLayers}, {"n_head", c.NHead, MaxEmbd}}
	for _, p := range positive {
		if p.v <= 0 || p.v > p.max {
			errs = append(errs, fmt.Errorf("%s is %d, want 1..%d", p.name, p.v, p.max))
		}
	}
	if c.NInner < 0 || c.NInner > MaxInner {
		errs = append(errs, fmt.Errorf("n_inner is %d, want 0..%d (0 means 4*n_embd)", c.NInner, MaxInner))
	}
	if c.NHead > 0 && c.NEmbd%c.NHead != 0 {
		errs = append(errs, fmt.Errorf("n_embd %d is not a multiple of n_head %d", c.NEmbd, c.NHead))
	}
	if !(c.LayerNormEps > 0 && c.LayerNormEps <= MaxLayerNormEps) {
		errs = append(errs, fmt.Errorf("layer_norm_epsilon is %g, want > 0 and <= %d (1e-5 for GPT-2)", c.LayerNormEps, MaxLayerNormEps))
	}
	switch c.Activation {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu":
	default:
		errs = append(errs, fmt.Errorf("activation_function %q is not supported (want gelu_new, gelu_pytorch_tanh, gelu_fast or gelu)", c.Activation))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("model: invalid config: %w", err)
	}
	return nil
}
