// Package inspect looks inside GPT-2 while it reads a prompt: the logit
// lens (the next token the residual stream would predict if the model
// stopped after each block), every head's attention map, and the norm of
// the residual stream after each block. It reads any model.Inspectable
// backend (cpu, gonum, reference) through a model.Probe.
//
// With random weights these pictures show only what random matrices do;
// with a trained checkpoint they show what the model has learned.
package inspect

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/gpt2bench/gpt2bench/model"
)

// MaxTokens bounds the prompt: the attention maps grow as T² per head
// (gpt2 at 128 tokens: 2.4 million weights in the JSON).
const MaxTokens = 128

// Token is one prompt token.
type Token struct {
	ID   int32  `json:"id"`
	Text string `json:"text,omitempty"` // decoded, when a decoder was given
}

// Guess is one candidate next token of the logit lens.
type Guess struct {
	ID    int32   `json:"id"`
	Text  string  `json:"text,omitempty"`
	Logit float64 `json:"logit"`
	Prob  float64 `json:"prob"` // softmax over the whole vocabulary
}

// Stage is the residual stream at one depth: after the embeddings or
// after a block.
type Stage struct {
	// Layer is the block the stream has just left, or -1 for the
	// embeddings (wte[token] + wpe[position]).
	Layer int `json:"layer"`
	// Norm is the L2 norm of the residual stream at each position [T].
	Norm []float64 `json:"residual_norm"`
	// Lens is the logit lens at each position [T][k]: the top-k tokens of
	// ln_f(x)·wteᵀ, the model's own head applied to this stream.
	Lens [][]Guess `json:"logit_lens"`
	// Attention is the block's attention probabilities [NH][T][T]: row t
	// is how position t spreads its attention over positions 0..t (the
	// future is 0). Empty for the embeddings.
	Attention [][][]float64 `json:"attention,omitempty"`
}

// Result is what Run found.
type Result struct {
	Backend string  `json:"backend"`
	Tokens  []Token `json:"tokens"`
	TopK    int     `json:"top_k"`
	// Stages holds the embeddings, then every block in order: L+1 entries.
	Stages []Stage `json:"stages"`
	// Logits is the model's own top-k at each position [T][k], from its
	// forward pass: the last stage's Lens must equal it.
	Logits [][]Guess `json:"model_top_k"`
	// RandomWeights is true for the embedded default; Note says what that means.
	RandomWeights bool   `json:"random_weights"`
	Note          string `json:"note,omitempty"`
}

// Options control Run.
type Options struct {
	TopK   int                   // candidates per position; 0 means 5
	Decode func(id int32) string // token text, optional
}

// Run feeds prompt through be (emptied first, one sequence) with a Probe
// and returns the logit lens, attention maps and residual norms.
func Run(ctx context.Context, be model.Inspectable, prompt []int32, opts Options) (*Result, error) {
	cfg := be.Config()
	T := len(prompt)
	switch {
	case be.Batch() != 1:
		return nil, fmt.Errorf("inspect: backend has batch %d, want 1", be.Batch())
	case T == 0:
		return nil, fmt.Errorf("inspect: empty prompt")
	case T > MaxTokens:
		return nil, fmt.Errorf("inspect: prompt has %d tokens, at most %d are drawn; shorten it", T, MaxTokens)
	case T > cfg.NPositions:
		return nil, &model.ContextError{Have: T, Max: cfg.NPositions}
	case opts.TopK < 0 || opts.TopK > cfg.VocabSize:
		return nil, fmt.Errorf("inspect: top-k %d, want 1..%d", opts.TopK, cfg.VocabSize)
	}
	k := cmp.Or(opts.TopK, 5)
	k = min(k, cfg.VocabSize)
	r := &Result{Backend: be.Name(), TopK: k}
	for _, id := range prompt {
		r.Tokens = append(r.Tokens, Token{ID: id, Text: decode(opts.Decode, id)})
	}

	streams := make([]model.Activation, cfg.NLayer+1) // [L+1] of [T, C]
	attn := make([]model.Activation, cfg.NLayer)      // [L] of [1, NH, T, T]
	be.SetTracer(model.NewProbe(be, func(_ model.Step, layer int, op model.Op, a model.Activation) {
		switch op {
		case model.OpEmbed:
			streams[0] = a
		case model.OpResidual2:
			streams[layer+1] = a
		case model.OpAttnSoftmax:
			attn[layer] = a
		}
	}))
	defer be.SetTracer(nil)
	be.Reset()
	V := cfg.VocabSize
	logits := make([]float32, T*V)
	if err := be.Forward(ctx, [][]int32{prompt}, logits); err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	be.SetTracer(nil)
	for t := range T {
		r.Logits = append(r.Logits, topK(widen(logits[t*V:(t+1)*V]), k, opts.Decode))
	}

	C, NH := cfg.NEmbd, cfg.NHead
	for i, x := range streams {
		if len(x.Data) != T*C {
			return nil, fmt.Errorf("inspect: the %s backend did not show the residual stream after stage %d", be.Name(), i)
		}
		st := Stage{Layer: i - 1}
		lg := be.Head(x) // [T, V]
		for t := range T {
			row := x.Data[t*C : (t+1)*C]
			var ss float64
			for _, v := range row {
				ss += v * v
			}
			st.Norm = append(st.Norm, math.Sqrt(ss))
			st.Lens = append(st.Lens, topK(lg.Data[t*V:(t+1)*V], k, opts.Decode))
		}
		if i > 0 {
			a := attn[i-1]
			if len(a.Data) != NH*T*T {
				return nil, fmt.Errorf("inspect: the %s backend did not show the attention of block %d", be.Name(), i-1)
			}
			st.Attention = make([][][]float64, NH)
			for h := range NH {
				st.Attention[h] = make([][]float64, T)
				for t := range T {
					st.Attention[h][t] = a.Data[(h*T+t)*T : (h*T+t+1)*T]
				}
			}
		}
		r.Stages = append(r.Stages, st)
	}
	return r, nil
}

// topK returns the k largest logits of row, largest first (ties: lower
// id first), with their softmax probabilities over the whole row.
func topK(row []float64, k int, dec func(int32) string) []Guess {
	mx := slices.Max(row)
	var sum float64
	for _, v := range row {
		sum += math.Exp(v - mx) // subtract the max: stability only
	}
	best := make([]int, 0, k+1) // ids, kept sorted by logit, descending
	for id, v := range row {
		if len(best) == k && v <= row[best[k-1]] {
			continue
		}
		i := sort.Search(len(best), func(i int) bool { return row[best[i]] < v })
		best = slices.Insert(best, i, id)
		if len(best) > k {
			best = best[:k]
		}
	}
	out := make([]Guess, len(best))
	for i, id := range best {
		out[i] = Guess{ID: int32(id), Text: decode(dec, int32(id)), Logit: row[id], Prob: math.Exp(row[id]-mx) / sum}
	}
	return out
}

func decode(dec func(int32) string, id int32) string {
	if dec == nil {
		return ""
	}
	return dec(id)
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}
