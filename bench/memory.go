package bench

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/internal/sysmem"
	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// kvElemBytes is the size of one KV-cache element unless Env says
// otherwise: the CPU backend keeps keys and values in float32 whatever the
// weights' dtype.
const kvElemBytes = 4

// KVCacheBytes returns the analytic KV-cache size of B sequences holding
// tokens positions each: 2 (K and V) × L × B × tokens × C × elemBytes.
func KVCacheBytes(cfg model.Config, B, tokens, elemBytes int) int64 {
	return 2 * int64(cfg.NLayer) * int64(B) * int64(tokens) * int64(cfg.NEmbd) * int64(elemBytes)
}

// WeightsBytesByDType splits the weight memory of cfg stored as dt the way
// model.New lays it out: the embedding/LM-head and the four linear weights
// of every block in dt (int8 adds one float32 scale per 32 values and one
// float32 sum per row), every
// other tensor (position embeddings, biases, layer norms) in float32. The
// total equals (*model.Model).WeightBytes. Keys are "float32", "float16",
// "int8" and "q4" (4-bit, two values per byte).
func WeightsBytesByDType(cfg model.Config, dt tensor.DType) map[string]int64 {
	C, F, V := int64(cfg.NEmbd), int64(cfg.Inner()), int64(cfg.VocabSize)
	mat := V*C + int64(cfg.NLayer)*(3*C*C+C*C+F*C+C*F) // elements stored as dt
	f32 := cfg.NumParams() - mat                       // elements kept in float32
	out := map[string]int64{}
	switch dt {
	case tensor.F16:
		out["float16"] = 2 * mat
	case tensor.Q8:
		out["int8"] = mat
		f32 += mat / tensor.Q8Block              // scales
		f32 += V + int64(cfg.NLayer)*(3*C+C+F+C) // row sums (tensor.Mat.Sums)
	case tensor.Q4:
		out["q4"] = mat / 2
		f32 += mat / tensor.Q8Block              // scales
		f32 += V + int64(cfg.NLayer)*(3*C+C+F+C) // row sums (tensor.Mat.Sums)
	default:
		f32 += mat
	}
	out["float32"] = 4 * f32
	return out
}

// DTypeName returns the report's name of a dtype: "float32", "float16",
// "int8", "q4".
func DTypeName(dt tensor.DType) string {
	switch dt {
	case tensor.F16:
		return "float16"
	case tensor.Q8:
		return "int8"
	case tensor.Q4:
		return "q4"
	}
	return "float32"
}

// memoryPhase measures every planned input length at batch 1, then the
// largest batch size of the throughput settings at the first length.
func (b *runner) memoryPhase(ctx context.Context) error {
	type setting struct{ T, B int }
	var settings []setting
	for _, T := range b.plan.InputLens {
		settings = append(settings, setting{T, 1})
	}
	if bmax := slices.Max(append([]int{1}, b.opts.BatchSizes...)); bmax > 1 {
		settings = append(settings, setting{b.plan.InputLens[0], bmax})
	}
	for _, s := range settings {
		m, err := b.memory(ctx, s.T, s.B)
		if err != nil {
			return err
		}
		b.r.Memory = append(b.r.Memory, m)
	}
	return nil
}

// memory measures one inference setting: a session of B sequences with a
// cache of n_positions (as generate allocates it), Warmup unmeasured and
// Runs measured generations of OutputLen tokens. Peak RSS and heap cover
// everything from the session's creation to the last run; allocations per
// token cover the decode steps of the measured runs (after the first token);
// GC covers the whole setting.
func (b *runner) memory(ctx context.Context, T, B int) (report.Memory, error) {
	N := b.opts.OutputLen
	b.start(fmt.Sprintf("memory   input %d batch %d", T, B), b.opts.Warmup+b.opts.Runs)
	defer b.finish()
	m := report.Memory{
		InputLen: T, OutputLen: N, BatchSize: B,
		ParamCount:           b.cfg.NumParams(),
		WeightsBytes:         b.env.WeightsBytes,
		LoadPeakRSSBytes:     b.env.Load.PeakRSSBytes,
		LoadHeapDeltaBytes:   b.env.Load.HeapDeltaBytes,
		KVCacheAnalyticBytes: KVCacheBytes(b.cfg, B, T+N-1, cmp.Or(b.env.KVElemBytes, kvElemBytes)),
	}
	if m.WeightsBytes == nil {
		m.WeightsBytes = map[string]int64{}
	}
	dev, _ := b.env.Engine.(DeviceMemory)
	prompts := b.prompts(streamMemory+uint64(T)<<8+uint64(B), (b.opts.Warmup+b.opts.Runs)*B, T)
	runtime.GC()
	gc0 := readGC()
	sampler := startMemSampler(dev)
	defer sampler.stop() // on error paths; a no-op after the stop below

	// A full-context cache, as a server holds it, shows allocated against
	// analytic; where that would take over half the memory available (a
	// checkpoint with a huge n_positions), the cache is what the run needs.
	capacity := b.cfg.NPositions
	if avail, ok := sysmem.Available(); ok && model.SessionBytes(b.cfg, B, capacity) > avail/2 {
		capacity = T + N - 1
	}
	be, err := b.env.Engine.NewSession(B, capacity)
	if err != nil {
		return m, err
	}
	defer be.Close()
	if kv, ok := be.(kvBytes); ok {
		m.KVCacheAllocatedBytes = kv.KVBytes()
	}
	for i := range b.opts.Warmup {
		if _, err := timedGenerate(ctx, be, prompts[i*B:(i+1)*B], N, b.opts.Seed, nil, nil); err != nil {
			return m, err
		}
		b.step()
	}
	cr := newCounterReader()
	var total allocCounters
	var decodeTokens int64
	for i := range b.opts.Runs {
		j := b.opts.Warmup + i
		var start allocCounters
		if N == 1 {
			start = cr.read() // no decode step: count the whole generation
		}
		onToken := func(step int) {
			if step == 0 && N > 1 {
				start = cr.read()
			}
		}
		if _, err := timedGenerate(ctx, be, prompts[j*B:(j+1)*B], N, b.opts.Seed, onToken, nil); err != nil {
			return m, err
		}
		end := cr.read()
		total.Objects += end.Objects - start.Objects
		total.Bytes += end.Bytes - start.Bytes
		decodeTokens += int64(B * max(N-1, 1))
		b.step()
	}
	m.HeapInUseBytes = heapInUse()
	peakRSS, peakHeap, peakDev := sampler.stop()
	m.InferencePeakRSSBytes = peakRSS
	m.InferencePeakHeapBytes = peakHeap
	m.GCCycles, m.GCPauseTotalMs = readGC().sub(gc0)
	if decodeTokens > 0 {
		m.AllocsPerToken = float64(total.Objects) / float64(decodeTokens)
		m.BytesPerToken = float64(total.Bytes) / float64(decodeTokens)
	}
	if dev != nil {
		if _, totalDev, err := dev.DeviceMemory(); err == nil {
			m.GPU = &report.GPUMemory{
				TotalBytes:      totalDev,
				UsedBeforeBytes: b.env.GPUUsedBefore,
				PeakUsedBytes:   peakDev,
				AllocatedBytes:  max(peakDev-b.env.GPUUsedBefore, 0),
			}
		}
	}
	return m, nil
}
