package main

import (
	"fmt"
	"math"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	sched "github.com/gpt2bench/gpt2bench/engine" // the continuous-batching engine; cmd's own engine type is the loaded model
	"github.com/gpt2bench/gpt2bench/internal/sysmem"
)

// engineFlags are the continuous-batching engine's flags, shared by every
// command that runs it (bench's continuous mode, serve, soak). The names
// are vLLM's where vLLM has the same knob.
type engineFlags struct {
	maxNumSeqs          int    // --max-num-seqs
	maxNumBatchedTokens int    // --max-num-batched-tokens
	kvCacheMemory       string // --kv-cache-memory, a size such as 512MiB
	blockSize           int    // --block-size
	noPrefixCache       bool   // --no-prefix-cache
	batchInvariant      bool   // --batch-invariant
}

func (f *engineFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&f.maxNumSeqs, "max-num-seqs", sched.DefaultMaxNumSeqs, "continuous batching: sequences running at once at most")
	fs.IntVar(&f.maxNumBatchedTokens, "max-num-batched-tokens", sched.DefaultMaxNumBatchedTokens, "continuous batching: new tokens per engine step at most (decodes plus prompt chunks)")
	fs.StringVar(&f.kvCacheMemory, "kv-cache-memory", "auto", "memory of the paged KV cache (e.g. 512MiB, 2GB); auto = a full context for every running sequence")
	fs.IntVar(&f.blockSize, "block-size", sched.DefaultBlockSize, "positions per KV-cache block (and the prefix cache's granularity)")
	fs.BoolVar(&f.noPrefixCache, "no-prefix-cache", false, "turn automatic prefix caching off (to measure without it)")
	fs.BoolVar(&f.batchInvariant, "batch-invariant", false, "make each request's logits bit-identical whatever shares its steps (slower linear kernels)")
}

// config checks the flags and returns the engine configuration.
func (f *engineFlags) config() (sched.Config, error) {
	c := sched.Config{
		MaxNumSeqs: f.maxNumSeqs, MaxNumBatchedTokens: f.maxNumBatchedTokens, BlockSize: f.blockSize,
		NoPrefixCache: f.noPrefixCache, BatchInvariant: f.batchInvariant,
	}
	switch {
	case f.maxNumSeqs < 1 || f.maxNumSeqs > 4096:
		return c, usagef("--max-num-seqs %d: want 1..4096", f.maxNumSeqs)
	case f.maxNumBatchedTokens < 1 || f.maxNumBatchedTokens > 1<<16:
		return c, usagef("--max-num-batched-tokens %d: want 1..65536", f.maxNumBatchedTokens)
	case f.blockSize < 1 || f.blockSize > 4096:
		return c, usagef("--block-size %d: want 1..4096 positions", f.blockSize)
	}
	if f.kvCacheMemory != "auto" && f.kvCacheMemory != "" {
		n, err := humanize.ParseBytes(f.kvCacheMemory)
		if err != nil || n == 0 || n > math.MaxInt64 {
			return c, usagef("--kv-cache-memory %q: want a size such as 512MiB or 2GB, or auto", f.kvCacheMemory)
		}
		c.KVCacheBytes = int64(n)
		// Before any work: a cache larger than the memory would fail
		// only when the continuous phase allocates it.
		if err := sysmem.Check("--kv-cache-memory "+f.kvCacheMemory, c.KVCacheBytes); err != nil {
			return c, usagef("%w; give less, or auto", err)
		}
	}
	return c, nil
}

// defaultEngineFlags are the flags' defaults, for commands run without
// parsing them (gpt2bench with no arguments).
func defaultEngineFlags() engineFlags {
	return engineFlags{maxNumSeqs: sched.DefaultMaxNumSeqs, maxNumBatchedTokens: sched.DefaultMaxNumBatchedTokens, kvCacheMemory: "auto", blockSize: sched.DefaultBlockSize}
}

// describeEngine is one line naming the engine's settings, for logs.
func describeEngine(c sched.Config) string {
	kv := "auto"
	if c.KVCacheBytes > 0 {
		kv = humanize.IBytes(uint64(c.KVCacheBytes))
	}
	return fmt.Sprintf("engine: max %d seqs, %d tokens/step, KV cache %s in blocks of %d, prefix cache %s, batch-invariant %s",
		c.MaxNumSeqs, c.MaxNumBatchedTokens, kv, c.BlockSize, onOff(!c.NoPrefixCache), onOff(c.BatchInvariant))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
