package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gpt2bench/gpt2bench/engine"
	"github.com/gpt2bench/gpt2bench/internal/sysmem"
	"github.com/gpt2bench/gpt2bench/model"
)

// Phase names one benchmark phase.
type Phase string

// The phases, in the order Run runs them.
const (
	PhaseLatency    Phase = "latency"
	PhaseMemory     Phase = "memory"
	PhaseThroughput Phase = "throughput"
)

// AllPhases lists every phase in run order.
var AllPhases = []Phase{PhaseLatency, PhaseMemory, PhaseThroughput}

// ParsePhase maps a name ("latency", "memory", "throughput") to a Phase.
func ParsePhase(s string) (Phase, error) {
	p := Phase(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(AllPhases, p) {
		return "", unknownPhase(s)
	}
	return p, nil
}

// unknownPhase is the error for a phase name that is not in AllPhases.
func unknownPhase(name string) error {
	return fmt.Errorf("unknown phase %q: want latency, memory or throughput", name)
}

// GPT2EOS is GPT-2's end-of-text token, <|endoftext|>.
const GPT2EOS int32 = 50256

// Options choose what Run measures.
type Options struct {
	Phases      []Phase // phases to run, in any order; Run uses AllPhases order
	Warmup      int     // unmeasured runs before each setting, >= 0
	Runs        int     // measured runs per setting, >= 1
	InputLens   []int   // prompt lengths in tokens, each >= 1
	OutputLen   int     // tokens generated per request, >= 1 (TPOT and ITL need >= 2)
	Concurrency []int   // goroutines of the concurrent throughput mode; 1 is the single-stream mode
	BatchSizes  []int   // sequences per forward pass of the batched mode; 1 is the single-stream mode
	// Continuous lists the closed-loop concurrencies of the continuous
	// mode (requests through the continuous-batching engine); empty for none.
	Continuous []int
	// RequestRate, if > 0, adds an open-loop continuous run with Poisson
	// arrivals at this many requests/s.
	RequestRate float64
	// Engine configures the continuous-batching engine (zero fields take
	// engine's defaults).
	Engine engine.Config
	Seed   int64 // prompts and sampling
	// EOS is the token never put in a prompt (GPT2EOS); generation ignores
	// it and always runs OutputLen tokens. Negative means none.
	EOS int32
	// Quick marks a --quick run in the report's metadata.
	Quick bool
}

// DefaultOptions are the full benchmark's settings: every phase, 2 warm-up
// and 5 measured runs, prompts of 128, 512 and 960 tokens (960 + 64 fills
// GPT-2's 1024-position context), 64 new tokens.
func DefaultOptions() Options {
	return Options{
		Phases:      slices.Clone(AllPhases),
		Warmup:      2,
		Runs:        5,
		InputLens:   []int{128, 512, 960},
		OutputLen:   64,
		Concurrency: []int{1, 2, 4},
		BatchSizes:  []int{1, 4, 8},
		Continuous:  []int{4, 8},
		Seed:        42,
		EOS:         GPT2EOS,
	}
}

// QuickOptions are the settings of `gpt2bench` with no arguments and of
// --quick: every phase, 1 warm-up and 3 measured runs, short prompts and
// outputs, sized to finish in about a minute for gpt2 (124M) on 2 cores.
func QuickOptions() Options {
	return Options{
		Phases:      slices.Clone(AllPhases),
		Warmup:      1,
		Runs:        3,
		InputLens:   []int{32, 128},
		OutputLen:   16,
		Concurrency: []int{1, 2},
		BatchSizes:  []int{1, 4},
		Continuous:  []int{4},
		Seed:        42,
		EOS:         GPT2EOS,
		Quick:       true,
	}
}

// Has reports whether phase p is selected.
func (o *Options) Has(p Phase) bool { return slices.Contains(o.Phases, p) }

// Validate checks the options on their own, before any model is loaded;
// the context length is checked against the model by PlanFor.
func (o *Options) Validate() error {
	positive := func(name string, vals []int) error {
		if len(vals) == 0 {
			return fmt.Errorf("%s: empty list; give at least one value", name)
		}
		for _, v := range vals {
			if v < 1 {
				return fmt.Errorf("%s: %d, want >= 1", name, v)
			}
		}
		return nil
	}
	switch {
	case len(o.Phases) == 0:
		return fmt.Errorf("phases: empty list; give at least one of latency, memory, throughput")
	case o.Warmup < 0:
		return fmt.Errorf("warm-up runs: %d, want >= 0", o.Warmup)
	case o.Runs < 1:
		return fmt.Errorf("runs: %d, want >= 1", o.Runs)
	case o.OutputLen < 1:
		return fmt.Errorf("output length: %d tokens, want >= 1", o.OutputLen)
	}
	for _, p := range o.Phases {
		if !slices.Contains(AllPhases, p) {
			return unknownPhase(string(p))
		}
	}
	if err := positive("input lengths", o.InputLens); err != nil {
		return err
	}
	if o.Has(PhaseThroughput) {
		if err := positive("concurrency", o.Concurrency); err != nil {
			return err
		}
		if err := positive("batch sizes", o.BatchSizes); err != nil {
			return err
		}
		for _, c := range o.Continuous {
			if c < 1 || c > MaxConcurrency {
				return fmt.Errorf("continuous: concurrency %d, want 1..%d", c, MaxConcurrency)
			}
		}
		if o.RequestRate < 0 || math.IsNaN(o.RequestRate) || math.IsInf(o.RequestRate, 0) {
			return fmt.Errorf("request rate: %g requests/s, want a finite number >= 0 (0 = none)", o.RequestRate)
		}
		for _, c := range o.Concurrency {
			if c > MaxConcurrency {
				return fmt.Errorf("concurrency: %d, want at most %d", c, MaxConcurrency)
			}
		}
		for _, b := range o.BatchSizes {
			if b > MaxBatchSize {
				return fmt.Errorf("batch sizes: %d, want at most %d", b, MaxBatchSize)
			}
		}
	}
	return nil
}

// Upper bounds of the throughput phase's lists, checked by Validate before
// any model is loaded; CheckMemory then bounds them by the memory they take.
const (
	MaxConcurrency = 1 << 12
	MaxBatchSize   = 1 << 12
)

// SequenceBytes estimates the memory one sequence of the benchmark takes on
// the CPU backend: its KV cache of P = T+N-1 positions (2·L·P·C), the prefill
// scratch of its T prompt rows (T·(7C+F) for the residual, norms, qkv,
// attention output, projection and MLP rows, NH·T·P attention scores), its
// logits and sampler (2V), all float32, plus 64 KiB of per-sequence
// bookkeeping (goroutine stack, slices).
func SequenceBytes(cfg model.Config, T, N int) int64 {
	L, C, F, NH, V := int64(cfg.NLayer), int64(cfg.NEmbd), int64(cfg.Inner()), int64(cfg.NHead), int64(cfg.VocabSize)
	t, p := int64(T), int64(T+N-1)
	return 4*(2*L*p*C+t*(7*C+F)+NH*t*p+2*V) + 64<<10
}

// CheckMemory refuses options whose throughput phase would need more memory
// than is available (sysmem.Available): the largest concurrency and the
// largest batch, each times SequenceBytes of the longest input. The error
// names the flag and both sizes.
func (o *Options) CheckMemory(cfg model.Config) error {
	if !o.Has(PhaseThroughput) || len(o.InputLens) == 0 {
		return nil
	}
	T := slices.Max(o.InputLens)
	per := SequenceBytes(cfg, T, o.OutputLen)
	for _, f := range []struct {
		flag string
		n    int
	}{{"concurrency", slices.Max(o.Concurrency)}, {"batch sizes", slices.Max(o.BatchSizes)}} {
		what := fmt.Sprintf("%s: %d sequences of %d+%d tokens (about %s each)", f.flag, f.n, T, o.OutputLen, sysmem.Bytes(per))
		if err := sysmem.Check(what, int64(f.n)*per); err != nil {
			return fmt.Errorf("%w; lower it", err)
		}
	}
	return nil
}

// Plan is the work Run will do on a model of a given context: the input
// lengths that fit, and those refused with their reason.
type Plan struct {
	InputLens []int     // lengths that fit, in the order given, duplicates removed
	Skipped   []Skipped // lengths refused
}

// Skipped is an input length that does not fit the context.
type Skipped struct {
	InputLen int    // prompt length in tokens
	Reason   string // why it does not fit, with the numbers
}

// ContextError is returned by PlanFor when no input length fits.
type ContextError struct {
	Skipped []Skipped // every input length, each with its reason
}

// Error lists the reasons and the flags that fix them.
func (e *ContextError) Error() string {
	reasons := make([]string, len(e.Skipped))
	for i, s := range e.Skipped {
		reasons[i] = s.Reason
	}
	return strings.Join(reasons, "; ") + "; lower --input-len or --output-len"
}

// PlanFor splits o.InputLens into those that fit a context of nPositions
// and those that do not: a prompt of T tokens followed by N new tokens
// needs T+N-1 positions (the last token is never fed back), as
// model.Generate requires. It returns a *ContextError when none fits.
func (o *Options) PlanFor(nPositions int) (Plan, error) {
	var p Plan
	for _, T := range o.InputLens {
		if slices.Contains(p.InputLens, T) || slices.ContainsFunc(p.Skipped, func(s Skipped) bool { return s.InputLen == T }) {
			continue
		}
		if need := T + o.OutputLen - 1; need > nPositions {
			p.Skipped = append(p.Skipped, Skipped{InputLen: T, Reason: fmt.Sprintf(
				"input %d + output %d tokens need %d positions, the model's context is %d", T, o.OutputLen, need, nPositions)})
			continue
		}
		p.InputLens = append(p.InputLens, T)
	}
	if len(p.InputLens) == 0 {
		return p, &ContextError{Skipped: p.Skipped}
	}
	return p, nil
}
