// Package reference reads gpt2-reference/v1 files: a prompt with the
// logits, hidden-state norms and greedy continuation that Hugging Face
// transformers computed for it (see testdata/FIXTURES.md).
package reference

import (
	"encoding/json"
	"fmt"

	"github.com/gpt2bench/gpt2bench/internal/smallfile"
)

// Format is the value of the "format" field this package reads.
const Format = "gpt2-reference/v1"

// Config is the architecture recorded in a reference file.
type Config struct {
	VocabSize    int     `json:"vocab_size"`
	NPositions   int     `json:"n_positions"`
	NEmbd        int     `json:"n_embd"`
	NLayer       int     `json:"n_layer"`
	NHead        int     `json:"n_head"`
	LayerNormEps float64 `json:"layer_norm_epsilon"`
	Activation   string  `json:"activation_function"`
}

// Reference is one gpt2-reference/v1 file.
type Reference struct {
	Format             string      `json:"format"`
	Config             Config      `json:"config"`
	WeightsDType       string      `json:"weights_dtype"`
	InputIDs           []int32     `json:"input_ids"`          // [T] the prompt
	Logits             [][]float32 `json:"logits"`             // [T, V] next-token logits at every prompt position
	HiddenStateNorms   [][]float64 `json:"hidden_state_norms"` // [L+1, T] L2 norms of the residual stream
	GreedyContinuation []int32     `json:"greedy_continuation"`
	Producer           any         `json:"producer"`
}

// maxFile bounds a reference file: gpt2's logits for a 16-token prompt
// take about 10 MB as JSON.
const maxFile = 256 << 20

// Read parses and checks a reference file (a regular file of at most 256 MiB).
func Read(path string) (*Reference, error) {
	data, err := smallfile.Read(path, maxFile)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	return Parse(data, path)
}

// Parse parses and checks the bytes of a reference file; name is used in errors.
func Parse(data []byte, name string) (*Reference, error) {
	var r Reference
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reference: %s: not a %s file: %w", name, Format, err)
	}
	if r.Format != Format {
		return nil, fmt.Errorf("reference: %s: format %q, want %q", name, r.Format, Format)
	}
	T := len(r.InputIDs)
	switch {
	case T == 0:
		return nil, fmt.Errorf("reference: %s: input_ids is empty", name)
	case len(r.Logits) != T:
		return nil, fmt.Errorf("reference: %s: %d logit rows for %d input ids", name, len(r.Logits), T)
	case len(r.HiddenStateNorms) != 0 && len(r.HiddenStateNorms) != r.Config.NLayer+1:
		return nil, fmt.Errorf("reference: %s: %d hidden-state norm rows, want n_layer+1 = %d", name, len(r.HiddenStateNorms), r.Config.NLayer+1)
	}
	for t, row := range r.Logits {
		if len(row) != r.Config.VocabSize {
			return nil, fmt.Errorf("reference: %s: logits row %d has %d values, vocab_size is %d", name, t, len(row), r.Config.VocabSize)
		}
	}
	for i, row := range r.HiddenStateNorms {
		if len(row) != T {
			return nil, fmt.Errorf("reference: %s: hidden_state_norms row %d has %d values, want %d", name, i, len(row), T)
		}
	}
	return &r, nil
}
