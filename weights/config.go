package weights

import (
	"encoding/json"
	"fmt"

	"github.com/gpt2bench/gpt2bench/model"
)

// hfConfig is the part of a Hugging Face GPT2Config that matters here.
// Pointers tell a missing field from a zero one.
type hfConfig struct {
	ModelType                  *string  `json:"model_type"`
	VocabSize                  *int     `json:"vocab_size"`
	NPositions                 *int     `json:"n_positions"`
	NCtx                       *int     `json:"n_ctx"`
	NEmbd                      *int     `json:"n_embd"`
	NLayer                     *int     `json:"n_layer"`
	NHead                      *int     `json:"n_head"`
	NInner                     *int     `json:"n_inner"`
	LayerNormEpsilon           *float64 `json:"layer_norm_epsilon"`
	ActivationFunction         *string  `json:"activation_function"`
	ScaleAttnWeights           *bool    `json:"scale_attn_weights"`
	ScaleAttnByInverseLayerIdx *bool    `json:"scale_attn_by_inverse_layer_idx"`
	TieWordEmbeddings          *bool    `json:"tie_word_embeddings"`
}

// ParseConfig reads a Hugging Face GPT-2 config.json. A field that is missing
// gets transformers' GPT2Config default (vocab_size 50257, n_positions 1024,
// n_embd 768, n_layer 12, n_head 12, activation_function gelu_new,
// layer_norm_epsilon 1e-5); an old config with n_ctx but no n_positions uses
// n_ctx; n_inner null means 0 (4*n_embd); tie_word_embeddings false means
// the checkpoint has its own lm_head.weight. Options that change attention in
// ways the engine does not implement are rejected, as is any model_type but
// gpt2. The result is validated.
func ParseConfig(data []byte) (model.Config, error) {
	var h hfConfig
	if err := json.Unmarshal(data, &h); err != nil {
		return model.Config{}, fmt.Errorf("config is not valid JSON for a GPT-2 config: %w", err)
	}
	if h.ModelType != nil && *h.ModelType != "gpt2" {
		return model.Config{}, fmt.Errorf("model_type is %q; only gpt2 checkpoints are supported", *h.ModelType)
	}
	if h.ScaleAttnWeights != nil && !*h.ScaleAttnWeights {
		return model.Config{}, fmt.Errorf("scale_attn_weights false is not supported (the engine scales attention by 1/sqrt(head size))")
	}
	if h.ScaleAttnByInverseLayerIdx != nil && *h.ScaleAttnByInverseLayerIdx {
		return model.Config{}, fmt.Errorf("scale_attn_by_inverse_layer_idx true is not supported")
	}
	if e := h.LayerNormEpsilon; e != nil && !(*e > 0 && *e <= model.MaxLayerNormEps) {
		// Checked in float64: 1e300 would become +Inf in float32.
		return model.Config{}, fmt.Errorf("layer_norm_epsilon is %g, want > 0 and <= %d (1e-5 for GPT-2)", *e, model.MaxLayerNormEps)
	}
	cfg := model.Config{
		VocabSize:    or(h.VocabSize, 50257),
		NPositions:   or(h.NPositions, or(h.NCtx, 1024)),
		NEmbd:        or(h.NEmbd, 768),
		NLayer:       or(h.NLayer, 12),
		NHead:        or(h.NHead, 12),
		NInner:       or(h.NInner, 0),
		LayerNormEps: float32(or(h.LayerNormEpsilon, 1e-5)),
		Activation:   or(h.ActivationFunction, "gelu_new"),
		UntiedLMHead: !or(h.TieWordEmbeddings, true),
	}
	if err := cfg.Validate(); err != nil {
		return model.Config{}, err
	}
	return cfg, nil
}

func or[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
