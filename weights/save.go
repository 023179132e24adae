package weights

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/weights/safetensors"
)

// Save writes cfg and p as a Hugging Face model directory that
// transformers' GPT2LMHeadModel.from_pretrained(dir) loads: config.json and
// model.safetensors ("transformer." names, Conv1D weights back to [in, out],
// the LM head tied to wte). dir is created; it must not already hold either
// file (Save never overwrites). Each file is written through a temporary
// file and a rename; when ctx is done the write stops, leaving neither file.
func Save(ctx context.Context, dir string, cfg model.Config, p *model.Params) error {
	return save(ctx, dir, cfg, p, false)
}

// RandomWeightsKey marks a checkpoint of random weights (the embedded
// default, written by SaveModel): a "true" string in the safetensors
// metadata and a true boolean in config.json (transformers keeps unknown
// config keys as attributes). Load sets Model.Random when either says so.
const RandomWeightsKey = "gpt2bench_random_weights"

// SaveModel is Save for a loaded model: a model with random weights
// (m.Random) is marked so in both files (RandomWeightsKey), so that it
// reloads labelled RANDOM as the embedded default is.
func SaveModel(ctx context.Context, dir string, m *Model) error {
	return save(ctx, dir, m.Config, m.Params, m.Random)
}

func save(ctx context.Context, dir string, cfg model.Config, p *model.Params, random bool) error {
	if err := p.Validate(cfg); err != nil {
		return fmt.Errorf("weights: save: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("weights: save: %w", err)
	}
	cfgPath, stPath := filepath.Join(dir, "config.json"), filepath.Join(dir, "model.safetensors")
	for _, path := range []string{cfgPath, stPath} {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("weights: save: %s exists; choose an empty directory", path)
		}
	}
	cj, meta := configJSON(cfg), map[string]string{"format": "pt"}
	if random {
		cj[RandomWeightsKey], meta[RandomWeightsKey] = true, "true"
	}
	conf, err := json.MarshalIndent(cj, "", "  ")
	if err != nil {
		return fmt.Errorf("weights: save: %w", err)
	}
	ts := CheckpointTensors(cfg, p, "transformer.")
	err = atomicfile.CreateFunc(stPath, func(w io.Writer) error {
		return safetensors.Write(ctxWriter{ctx, w}, ts, meta)
	})
	if err != nil {
		return fmt.Errorf("weights: save: %w", err)
	}
	if err := atomicfile.Create(cfgPath, append(conf, '\n')); err != nil {
		return fmt.Errorf("weights: save: %w", err)
	}
	return nil
}

// CheckpointTensors returns p as a Hugging Face checkpoint holds it, names
// prefixed with prefix: the Conv1D weights (attn.c_attn, attn.c_proj,
// mlp.c_fc, mlp.c_proj) transposed back to [in, out], everything else as is.
func CheckpointTensors(cfg model.Config, p *model.Params, prefix string) []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, s := range p.Shapes(cfg) {
		v, shape, name := *s.Ptr, s.Shape, prefix+s.Name
		if s.Name == "lm_head.weight" {
			name = s.Name // outside the transformer module
		}
		if isTransposed(s.Name) {
			out, in := s.Shape[0], s.Shape[1]
			w := make([]float32, len(v))
			transpose(w, v, out, in)
			v, shape = w, []int{in, out}
		}
		ts = append(ts, safetensors.Float32Tensor(name, shape, v))
	}
	return ts
}

// configJSON is config.json as transformers writes it for a GPT-2 model.
func configJSON(cfg model.Config) map[string]any {
	var inner any // null: 4*n_embd
	if cfg.NInner > 0 {
		inner = cfg.NInner
	}
	return map[string]any{
		"architectures":                   []string{"GPT2LMHeadModel"},
		"model_type":                      "gpt2",
		"vocab_size":                      cfg.VocabSize,
		"n_positions":                     cfg.NPositions,
		"n_ctx":                           cfg.NPositions,
		"n_embd":                          cfg.NEmbd,
		"n_layer":                         cfg.NLayer,
		"n_head":                          cfg.NHead,
		"n_inner":                         inner,
		"activation_function":             cfg.Activation,
		"layer_norm_epsilon":              cfg.LayerNormEps,
		"initializer_range":               0.02,
		"scale_attn_weights":              true,
		"tie_word_embeddings":             !cfg.UntiedLMHead,
		"bos_token_id":                    50256,
		"eos_token_id":                    50256,
		"attn_pdrop":                      0.1,
		"embd_pdrop":                      0.1,
		"resid_pdrop":                     0.1,
		"torch_dtype":                     "float32",
		"use_cache":                       true,
		"reorder_and_upcast_attn":         false,
		"scale_attn_by_inverse_layer_idx": false,
	}
}

// ctxWriter fails every write once ctx is done, so that a long write stops
// on Ctrl-C.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	const chunk = 4 << 20 // a check every 4 MiB
	n := 0
	for n < len(p) {
		if err := c.ctx.Err(); err != nil {
			return n, err
		}
		m, err := c.w.Write(p[n:min(n+chunk, len(p))])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
