package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// MinTemperature is the smallest temperature that samples: below it (0
// included) the choice is greedy, the limit of sampling as the temperature
// goes to 0. Dividing logits by a smaller one overflows float32 (1/1e-39 is
// +Inf), and the draw would no longer follow the probabilities.
const MinTemperature = 1e-4

// SampleOptions choose how the next token is drawn from the logits.
type SampleOptions struct {
	Temperature float32 // below MinTemperature (0 included) means greedy (argmax); otherwise logits are divided by it
	TopK        int     // keep the K most likely tokens; 0 means all
	TopP        float32 // keep the smallest set whose probability reaches P; 0 or 1 means all
	Seed        uint64  // the same seed gives the same tokens
}

// Greedy reports whether o chooses the argmax: a temperature below
// MinTemperature.
func (o SampleOptions) Greedy() bool { return o.Temperature < MinTemperature }

// Normalized returns o with a temperature below MinTemperature set to 0,
// the greedy choice every backend recognises.
func (o SampleOptions) Normalized() SampleOptions {
	if o.Greedy() {
		o.Temperature = 0
	}
	return o
}

// Validate reports options outside their ranges.
func (o SampleOptions) Validate() error {
	switch {
	case o.Temperature < 0 || math.IsNaN(float64(o.Temperature)) || math.IsInf(float64(o.Temperature), 0):
		return fmt.Errorf("temperature %g, want >= 0 (0 is greedy)", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("top-k %d, want >= 0 (0 keeps every token)", o.TopK)
	case o.TopP < 0 || o.TopP > 1 || math.IsNaN(float64(o.TopP)):
		return fmt.Errorf("top-p %g, want 0..1 (0 or 1 keeps every token)", o.TopP)
	}
	return nil
}

// Sampler draws tokens from logits. Its buffers are allocated once, so
// sampling a token does not allocate. Not safe for concurrent use.
type Sampler struct {
	opts  SampleOptions
	rng   *rand.Rand
	probs []float32 // [V]
	idx   []int32   // [V] token ids sorted by probability (top-k / top-p)
}

// PCGStream is the second seed word of a Sampler's random stream:
// math/rand/v2's NewPCG(Seed, Seed^PCGStream). A backend that samples on
// its device (model/cuda) starts its streams the same way, so that the
// same seed draws the same tokens there.
const PCGStream = 0x5851f42d4c957f2d

// NewSampler returns a Sampler for a vocabulary of v tokens.
func NewSampler(opts SampleOptions, v int) (*Sampler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.Normalized()
	s := &Sampler{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^PCGStream))}
	if opts.Temperature > 0 {
		s.probs = make([]float32, v)
		s.idx = make([]int32, v)
	}
	return s, nil
}

// Argmax returns the index of the largest logit (the first on ties, as
// torch.argmax does).
func Argmax(logits []float32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// Sample returns the next token for one sequence's logits [V].
func (s *Sampler) Sample(logits []float32) int32 {
	if s.opts.Temperature == 0 {
		return Argmax(logits)
	}
	p := s.probs[:len(logits)]
	inv := 1 / s.opts.Temperature
	mx := logits[Argmax(logits)]
	var sum float64
	for i, l := range logits {
		e := float32(math.Exp(float64((l - mx) * inv))) // subtract max: stability only
		p[i] = e
		sum += float64(e)
	}
	filter := (s.opts.TopK > 0 && s.opts.TopK < len(p)) || (s.opts.TopP > 0 && s.opts.TopP < 1)
	if !filter {
		return s.draw(p, nil, sum)
	}
	idx := s.idx[:len(p)]
	for i := range idx {
		idx[i] = int32(i)
	}
	k := s.sortTop(p, idx, sum)
	if s.opts.TopK > 0 {
		k = min(k, s.opts.TopK)
	}
	kept := 0.0
	for i := range k {
		kept += float64(p[idx[i]])
		if s.opts.TopP > 0 && s.opts.TopP < 1 && kept >= float64(s.opts.TopP)*sum {
			k = i + 1
			break
		}
	}
	var ksum float64
	for _, id := range idx[:k] {
		ksum += float64(p[id])
	}
	return s.draw(p, idx[:k], ksum)
}

// draw picks a token with probability p[id]/sum among ids (all tokens when ids is nil).
func (s *Sampler) draw(p []float32, ids []int32, sum float64) int32 {
	r := s.rng.Float64() * sum
	if ids == nil {
		for i, v := range p {
			r -= float64(v)
			if r < 0 {
				return int32(i)
			}
		}
		return int32(len(p) - 1)
	}
	for _, id := range ids {
		r -= float64(p[id])
		if r < 0 {
			return id
		}
	}
	return ids[len(ids)-1]
}

// before orders tokens most likely first, ties by id: the order the
// top-k and top-p filters keep tokens in.
func before(p []float32, a, b int32) bool {
	return p[a] > p[b] || p[a] == p[b] && a < b
}

// sortTop puts into idx[:n] the n most likely tokens in order (before),
// for the smallest n that the filters need: TopK when set, else enough
// tokens to reach TopP of sum (all of them at worst). It selects before it
// sorts, so a top-k or a peaked top-p sorts a few tokens, not all V: the
// kept tokens and their order are exactly those of a full sort.
func (s *Sampler) sortTop(p []float32, idx []int32, sum float64) int {
	less := func(a, b int32) int {
		if before(p, a, b) {
			return -1
		}
		return 1
	}
	if k := s.opts.TopK; k > 0 && k < len(idx) {
		selectTop(p, idx, k)
		slices.SortFunc(idx[:k], less)
		return k
	}
	// Top-p alone: sort a growing head until it holds TopP of the mass.
	sorted := 0
	var kept float64
	for n := min(64, len(idx)); ; n = min(4*n, len(idx)) {
		if n < len(idx) {
			selectTop(p[:], idx[sorted:], n-sorted)
		}
		slices.SortFunc(idx[sorted:n], less)
		for _, id := range idx[sorted:n] {
			kept += float64(p[id])
		}
		sorted = n
		if kept >= float64(s.opts.TopP)*sum || n == len(idx) {
			return n
		}
	}
}

// selectTop reorders idx so that its first k entries are the k most
// likely tokens (in no particular order): quickselect with a
// median-of-three pivot, O(len(idx)) on average.
func selectTop(p []float32, idx []int32, k int) {
	lo, hi := 0, len(idx)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three into idx[hi] as the pivot.
		if before(p, idx[mid], idx[lo]) {
			idx[mid], idx[lo] = idx[lo], idx[mid]
		}
		if before(p, idx[hi], idx[lo]) {
			idx[hi], idx[lo] = idx[lo], idx[hi]
		}
		if before(p, idx[mid], idx[hi]) {
			idx[mid], idx[hi] = idx[hi], idx[mid]
		}
		pivot := idx[hi]
		store := lo
		for i := lo; i < hi; i++ {
			if before(p, idx[i], pivot) {
				idx[i], idx[store] = idx[store], idx[i]
				store++
			}
		}
		idx[store], idx[hi] = idx[hi], idx[store]
		switch {
		case store == k-1 || store == k:
			return
		case store < k:
			lo = store + 1
		default:
			hi = store - 1
		}
	}
}
