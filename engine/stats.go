package engine

import (
	"math"
	"time"
)

// StepStats describes one engine step.
type StepStats struct {
	Index         int64
	Start         time.Time
	Seqs          int           // sequences in the step
	Rows          int           // new tokens through the model
	PrefillRows   int           // rows of prompt chunks (and of recomputation)
	DecodeRows    int           // rows of sequences decoding one token
	Sampled       int           // tokens sampled
	Preemptions   int           // sequences preempted to make room
	PrefixQueried int           // prompt tokens looked up in the prefix cache by admissions
	PrefixHit     int           // of those, tokens found
	Schedule      time.Duration // choosing the step (bookkeeping)
	Forward       time.Duration // the ragged forward pass
	Sample        time.Duration // sampling, logprobs and sending tokens
}

// Stats are the engine's figures since it started.
type Stats struct {
	Running             int // sequences in the running batch
	Waiting             int // requests submitted and not running (including preempted)
	BlocksUsed          int // KV blocks held by sequences
	BlocksTotal         int
	BlockSize           int
	PrefixCachedBlocks  int   // full blocks findable in the prefix cache
	PrefixQueriedTokens int64 // prompt tokens looked up in the prefix cache
	PrefixHitTokens     int64 // of those, tokens found (their prefill skipped)
	PromptTokens        int64 // prompt (and recomputed) tokens run through the model
	GenerationTokens    int64 // tokens sampled
	Preemptions         int64
	Steps               int64
	Finished            [4]int64 // requests ended, by reason: FinishReasons() order
	LastStep            StepStats
}

// KVUsage returns the share of KV blocks in use, 0..1.
func (s Stats) KVUsage() float64 {
	if s.BlocksTotal == 0 {
		return 0
	}
	return float64(s.BlocksUsed) / float64(s.BlocksTotal)
}

// FinishReasons lists the finish reasons in the order of Stats.Finished.
func FinishReasons() [4]FinishReason {
	return [4]FinishReason{FinishStop, FinishLength, FinishCancelled, FinishError}
}

func reasonIndex(r FinishReason) int {
	for i, x := range FinishReasons() {
		if x == r {
			return i
		}
	}
	return 3
}

// Stats returns a snapshot of the engine's figures.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// total returns the blocks of the pool.
func (p *blockPool) total() int { return len(p.ref) }

// logSumExp returns log Σ exp(x[i]), in float64.
func logSumExp(x []float32) float64 {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v - mx)) // subtract max: stability only
	}
	return float64(mx) + math.Log(sum)
}

// topLogprobs returns the n most likely tokens of a logits row with their
// log-probabilities (lse = logSumExp(row)), most likely first, ties by id.
func topLogprobs(row []float32, n int, lse float64) []Logprob {
	if n == 0 {
		return nil
	}
	top := make([]Logprob, 0, n+1)
	for id, v := range row {
		if len(top) == n && v <= top[n-1].Logprob {
			continue
		}
		i := len(top)
		for i > 0 && v > top[i-1].Logprob {
			i--
		}
		if len(top) < n {
			top = append(top, Logprob{})
		}
		copy(top[i+1:], top[i:len(top)-1])
		top[i] = Logprob{ID: int32(id), Logprob: v}
	}
	for i := range top {
		top[i].Logprob = float32(float64(top[i].Logprob) - lse)
	}
	return top
}
