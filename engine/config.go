package engine

import (
	"fmt"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// Defaults for a 2-core CPU: a step of 16 decodes reads the weights once
// and is compute-bound past ~8 rows, and a 256-token prompt chunk keeps
// the decodes that share its step within a few hundred milliseconds.
const (
	DefaultMaxNumSeqs          = 16
	DefaultMaxNumBatchedTokens = 256
	DefaultBlockSize           = 32
	DefaultMaxQueue            = 1024
)

// Config sizes the engine. Zero values take the defaults above.
type Config struct {
	// MaxNumSeqs caps the sequences running at once (vLLM's --max-num-seqs).
	MaxNumSeqs int
	// MaxNumBatchedTokens caps the new tokens of one step, decodes and
	// prompt chunks together (vLLM's --max-num-batched-tokens).
	MaxNumBatchedTokens int
	// KVCacheBytes is the memory of the paged KV cache; 0 gives every
	// running sequence room for a full context (MaxNumSeqs·n_positions
	// positions). When it runs out, new requests wait and running ones are
	// preempted and recomputed later.
	KVCacheBytes int64
	// MaxSeqLen, when KVCacheBytes is 0, is the longest sequence (prompt
	// plus output) the cache is sized for instead of n_positions: a
	// benchmark whose requests are all shorter than the context needs no
	// full-context cache (a model with n_positions 2^20 asked for 64 GiB).
	// 0 means n_positions; it limits nothing else.
	MaxSeqLen int
	// BlockSize is the positions per KV block, and the granularity of the
	// prefix cache.
	BlockSize int
	// NoPrefixCache turns automatic prefix caching off.
	NoPrefixCache bool
	// BatchInvariant makes a request's logits bit-identical whatever shares
	// its steps and whether its prefix came from the cache
	// (model.Ragged.SetBatchInvariant), at some cost in speed. Off, they
	// agree within float32 rounding (1e-4 on the fixtures).
	BatchInvariant bool
	// MaxQueue caps the requests waiting to start; Submit returns
	// ErrQueueFull past it.
	MaxQueue int
	// EOS is the end-of-text token; 0 or -1 means the last id of the
	// vocabulary (50256 for GPT-2's <|endoftext|>).
	EOS int32
	// Tracer, if set, receives the op boundaries of every step.
	Tracer model.Tracer
	// OnStep, if set, is called on the engine's goroutine after every step
	// with its statistics. It must return quickly.
	OnStep func(StepStats)
}

// withDefaults fills zero fields and checks the rest against cfg, for a
// KV cache of kvdt (the model's KVDType).
func (c Config) withDefaults(cfg model.Config, kvdt tensor.DType) (Config, error) {
	if c.MaxNumSeqs == 0 {
		c.MaxNumSeqs = DefaultMaxNumSeqs
	}
	if c.MaxNumBatchedTokens == 0 {
		c.MaxNumBatchedTokens = DefaultMaxNumBatchedTokens
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.EOS == -1 || c.EOS == 0 && cfg.VocabSize > 0 {
		c.EOS = int32(cfg.VocabSize - 1)
	}
	per := model.KVBytesPerTokenOf(cfg, kvdt) * int64(c.BlockSize)
	if c.KVCacheBytes == 0 {
		seq := cfg.NPositions
		if c.MaxSeqLen > 0 && c.MaxSeqLen < seq {
			seq = c.MaxSeqLen
		}
		c.KVCacheBytes = int64(c.MaxNumSeqs) * int64((seq+c.BlockSize-1)/c.BlockSize) * per
	}
	switch {
	case c.MaxNumSeqs < 1 || c.MaxNumSeqs > 4096:
		return c, fmt.Errorf("engine: max-num-seqs %d, want 1..4096", c.MaxNumSeqs)
	case c.MaxNumBatchedTokens < 1 || c.MaxNumBatchedTokens > 1<<16:
		return c, fmt.Errorf("engine: max-num-batched-tokens %d, want 1..65536", c.MaxNumBatchedTokens)
	case c.BlockSize < 1 || c.BlockSize > cfg.NPositions:
		return c, fmt.Errorf("engine: block size %d, want 1..%d (the context)", c.BlockSize, cfg.NPositions)
	case c.MaxQueue < 1:
		return c, fmt.Errorf("engine: max queue %d, want >= 1", c.MaxQueue)
	case c.EOS < 0 || int(c.EOS) >= cfg.VocabSize:
		return c, fmt.Errorf("engine: EOS %d is outside the vocabulary [0, %d)", c.EOS, cfg.VocabSize)
	case c.KVCacheBytes < per:
		return c, fmt.Errorf("engine: KV cache of %d bytes holds no block of %d positions (%d bytes); raise --kv-cache-memory", c.KVCacheBytes, c.BlockSize, per)
	}
	return c, nil
}

// numBlocks returns the blocks of kvdt that KVCacheBytes holds.
func (c Config) numBlocks(cfg model.Config, kvdt tensor.DType) int {
	return int(c.KVCacheBytes / (model.KVBytesPerTokenOf(cfg, kvdt) * int64(c.BlockSize)))
}
