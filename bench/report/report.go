package report

import "time"

// SchemaVersion is the report schema this package writes, "MAJOR.MINOR"
// ("1" reads as "1.0"). The versioning rule (README, "Report versions"):
//
//   - A minor version (1.0 -> 1.1) may only add optional fields or new
//     values of an open-ended field (a sample unit). It never renames,
//     removes or changes the meaning of a field, so a 1.x reader reads any
//     1.y report: it ignores the fields it does not know, and a 1.y reader
//     reads a 1.x report, in which the newer fields are absent (zero).
//   - A major version (2) may rename, remove or change the meaning of a
//     field. A reader rejects a report of another major with a
//     *VersionError naming the version it reads.
//
// The published schema therefore leaves objects open (no
// "additionalProperties": false): a newer minor's fields must validate.
//
// History: 1 (1.0) first release; 1.1 adds the optional load section
// (gpt2bench load); 1.2 adds sample_unit to every summary,
// itl_run_median_ms to latency, and when the profile's calibration was
// measured and how steady it was; 1.3 adds the continuous throughput mode
// (request_rate, ttft_ms, tpot_ms, itl_ms and engine on a throughput
// entry) and opens the set of modes (a 1.2 validator's closed enum
// rejects "continuous"; readers that only decode are unaffected); 1.4 adds
// the optional soak section (gpt2bench soak); 1.5 adds the optional
// temperature of a load workload.
const SchemaVersion = "1.5"

// SchemaMajor is the major version of SchemaVersion: the reports this
// package reads.
const SchemaMajor = "1"

// Report is what `gpt2bench bench` writes. JSON Schema: bench/report/schema/v1.json.
// Top-level sections follow the benchmark suite this project grew from
// (report_name, model_name, timestamp, system_info, latency, memory,
// throughput, metadata), plus the optional profile, targets, quality and
// skipped sections. Renderers never recompute anything from it.
type Report struct {
	// SchemaVersion is the report format version, "1.4" (MAJOR.MINOR, see the rule at SchemaVersion); first field, always set.
	SchemaVersion string `json:"schema_version"`
	// ReportName identifies the run: {model}_{YYYYMMDD_HHMMSS}, e.g. gpt2_20260128_170152.
	ReportName string `json:"report_name"`
	// ModelName is the model benchmarked (HF repo id or local name), e.g. "gpt2".
	ModelName string `json:"model_name"`
	// Timestamp is when the run started, RFC 3339 in UTC.
	Timestamp time.Time `json:"timestamp"`
	// SystemInfo describes the machine, toolchain and backend.
	SystemInfo SystemInfo `json:"system_info"`
	// Latency holds one entry per (input length, output length) measured.
	Latency []Latency `json:"latency"`
	// Memory holds one entry per memory scenario measured.
	Memory []Memory `json:"memory"`
	// Throughput holds one entry per (mode, concurrency or batch size).
	Throughput []Throughput `json:"throughput"`
	// Profile is the per-op time breakdown and roofline data; nil when not profiled.
	Profile *Profile `json:"profile,omitempty"`
	// Targets are the pass/fail results of performance targets; empty when none were set.
	Targets []Target `json:"targets,omitempty"`
	// Quality measures reduced-precision output against float32; nil when not measured.
	Quality *Quality `json:"quality,omitempty"`
	// Load is an OpenAI-compatible server measured under load (`gpt2bench load`, schema 1.1); nil in bench reports.
	Load *Load `json:"load,omitempty"`
	// Soak is a long run with leak, drift and error verdicts (`gpt2bench soak`, schema 1.4); nil in other reports.
	Soak *Soak `json:"soak,omitempty"`
	// Incomplete is true when the run was interrupted (e.g. Ctrl-C) and some phases are missing or partial.
	Incomplete bool `json:"incomplete"`
	// IncompleteReason says why the run is incomplete, e.g. "interrupted during throughput phase".
	IncompleteReason string `json:"incomplete_reason,omitempty"`
	// Skipped lists the measurements refused, e.g. input lengths beyond the model context, with the reason.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Metadata holds the run settings (device, warm-up, runs, seed, command line, dtype).
	Metadata Metadata `json:"metadata"`
}

// Summary holds the statistics of one metric over its raw samples, as
// computed by Summarize. All statistics share the metric's unit.
type Summary struct {
	// N is the number of samples (len(Samples)).
	N int `json:"n"`
	// Mean is the arithmetic mean.
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation (divisor n-1, numpy ddof=1); 0 when n < 2.
	Std float64 `json:"std"`
	// Min is the smallest sample.
	Min float64 `json:"min"`
	// Max is the largest sample.
	Max float64 `json:"max"`
	// P50 is the median: percentile 50 with linear interpolation between the
	// closest ranks (numpy's default "linear" method: rank p/100*(n-1)).
	P50 float64 `json:"p50"`
	// P90 is percentile 90, linear interpolation as P50.
	P90 float64 `json:"p90"`
	// P95 is percentile 95, linear interpolation as P50.
	P95 float64 `json:"p95"`
	// P99 is percentile 99, linear interpolation as P50.
	P99 float64 `json:"p99"`
	// Samples are the raw measurements in the order taken, so that compare can redo the statistics.
	Samples []float64 `json:"samples"`
	// SampleUnit says what one sample is: one of the Unit constants, e.g.
	// "run" (one measured generation) or "token gap" (gaps pooled over
	// runs, not independent of each other). Compare tests significance only
	// on independent units. Empty in reports before schema 1.1.
	SampleUnit string `json:"sample_unit,omitempty"`
}

// Sample units (Summary.SampleUnit).
const (
	// UnitRun is one measured generation at batch 1: independent samples.
	UnitRun = "run"
	// UnitRequest is one request of the throughput phase: independent samples.
	UnitRequest = "request"
	// UnitBatch is one batched generation, serving BatchSize sequences that
	// share its start and end: one sample per generation, not per sequence.
	UnitBatch = "batched generation"
	// UnitRepetition is one repetition of a throughput phase.
	UnitRepetition = "repetition"
	// UnitTokenGap is one gap between tokens, pooled over runs: the gaps of
	// one run are not independent, so no significance test uses them.
	UnitTokenGap = "token gap"
)

// Independent reports whether the samples of s are independent of each
// other (one per run, request, batched generation or repetition), so that a
// significance test may use them. Pooled token gaps are not. A summary from
// before schema 1.1 (no unit) counts as independent.
func (s *Summary) Independent() bool { return s.SampleUnit != UnitTokenGap }

// Latency is the single-request latency of one (input length, output length)
// setting, batch size 1, measured over Runs runs after warm-up.
type Latency struct {
	// InputLen is the prompt length in tokens.
	InputLen int `json:"input_len"`
	// OutputLen is the number of new tokens generated per run (N_out).
	OutputLen int `json:"output_len"`
	// Runs is the number of measured runs (warm-up runs excluded).
	Runs int `json:"runs"`
	// TTFT is time to first token in ms: from the request start to the first
	// generated token being available (prefill of the whole prompt plus sampling).
	TTFT Summary `json:"ttft_ms"`
	// TPOT is time per output token in ms, per run: (E2E - TTFT) / (N_out - 1).
	TPOT Summary `json:"tpot_ms"`
	// ITL is inter-token latency in ms: the gaps between consecutive generated
	// tokens, pooled over all runs ((N_out-1) samples per run, unit "token
	// gap"): for its percentiles, never for a significance test.
	ITL Summary `json:"itl_ms"`
	// ITLRunMedian is the median inter-token gap of each run in ms, one
	// sample per run: what compare tests ITL on. Absent before schema 1.1.
	ITLRunMedian *Summary `json:"itl_run_median_ms,omitempty"`
	// E2E is end-to-end latency in ms per run: request start to the last token.
	E2E Summary `json:"e2e_ms"`
	// PrefillTokensPerS is prompt tokens per second per run: InputLen / TTFT.
	PrefillTokensPerS Summary `json:"prefill_tokens_per_s"`
	// DecodeTokensPerS is decode tokens per second per run: (N_out - 1) / (E2E - TTFT).
	DecodeTokensPerS Summary `json:"decode_tokens_per_s"`
	// GCCycles is the number of garbage collections completed during the measured runs.
	GCCycles int64 `json:"gc_cycles"`
	// GCPauseMs is the total stop-the-world GC pause during the measured runs, in ms.
	GCPauseMs float64 `json:"gc_pause_ms"`
}

// Memory is the memory use of loading the model and running one inference
// setting. Byte counts are bytes; RSS values come from the OS, heap values
// from runtime/metrics.
type Memory struct {
	// InputLen is the prompt length in tokens of the inference measured.
	InputLen int `json:"input_len"`
	// OutputLen is the number of tokens generated in the inference measured.
	OutputLen int `json:"output_len"`
	// BatchSize is the number of sequences decoded together.
	BatchSize int `json:"batch_size"`
	// ParamCount is the number of model parameters.
	ParamCount int64 `json:"param_count"`
	// WeightsBytes is the size of the weights in memory, keyed by dtype ("float32", "float16").
	WeightsBytes map[string]int64 `json:"weights_bytes"`
	// LoadPeakRSSBytes is the process peak resident set size (VmHWM) after loading the model.
	LoadPeakRSSBytes int64 `json:"load_peak_rss_bytes"`
	// LoadHeapDeltaBytes is the Go heap in use after loading minus before loading.
	LoadHeapDeltaBytes int64 `json:"load_heap_delta_bytes"`
	// InferencePeakRSSBytes is the process peak resident set size after the inference.
	InferencePeakRSSBytes int64 `json:"inference_peak_rss_bytes"`
	// HeapInUseBytes is the Go heap in use (live and not yet collected objects) after the inference.
	HeapInUseBytes int64 `json:"heap_in_use_bytes"`
	// InferencePeakHeapBytes is the largest Go heap in use sampled during the
	// inference (0 in reports written before the field existed).
	InferencePeakHeapBytes int64 `json:"inference_peak_heap_bytes,omitempty"`
	// KVCacheAnalyticBytes is the KV-cache size from the formula
	// 2 (K,V) * L * B * T_total * C * sizeof(dtype).
	KVCacheAnalyticBytes int64 `json:"kv_cache_analytic_bytes"`
	// KVCacheAllocatedBytes is the KV-cache memory actually allocated (capacity, maxT rows when preallocated).
	KVCacheAllocatedBytes int64 `json:"kv_cache_allocated_bytes"`
	// AllocsPerToken is the heap allocations per generated token during decode (runtime/metrics).
	AllocsPerToken float64 `json:"allocs_per_token"`
	// BytesPerToken is the heap bytes allocated per generated token during decode.
	BytesPerToken float64 `json:"bytes_per_token"`
	// GCCycles is the number of garbage collections during the inference.
	GCCycles int64 `json:"gc_cycles"`
	// GCPauseTotalMs is the total GC stop-the-world pause during the inference, in ms.
	GCPauseTotalMs float64 `json:"gc_pause_total_ms"`
	// GPU is the device memory use; nil on CPU.
	GPU *GPUMemory `json:"gpu,omitempty"`
}

// GPUMemory is device memory as reported by the CUDA driver.
type GPUMemory struct {
	// TotalBytes is the device memory size.
	TotalBytes int64 `json:"total_bytes"`
	// UsedBeforeBytes is device memory in use before the model was loaded (all processes).
	UsedBeforeBytes int64 `json:"used_before_bytes"`
	// PeakUsedBytes is the highest device memory in use observed during the inference.
	PeakUsedBytes int64 `json:"peak_used_bytes"`
	// AllocatedBytes is device memory allocated by this process (weights, KV cache, scratch).
	AllocatedBytes int64 `json:"allocated_bytes"`
}

// Throughput modes.
const (
	ModeSingle     = "single"     // one request at a time, back to back
	ModeConcurrent = "concurrent" // Concurrency requests in flight, each its own sequence
	ModeBatched    = "batched"    // BatchSize sequences decoded in one forward pass
	ModeContinuous = "continuous" // requests through the continuous-batching engine (closed loop at Concurrency, or Poisson at RequestRate)
)

// Throughput is the aggregate rate of many requests in one mode.
type Throughput struct {
	// Mode is "single", "concurrent", "batched" or "continuous"; from
	// schema 1.3 an open set (readers show an unknown mode as it is).
	Mode string `json:"mode"`
	// Concurrency is the number of requests in flight (1 for single and batched).
	Concurrency int `json:"concurrency"`
	// BatchSize is the number of sequences per forward pass (1 for single and concurrent).
	BatchSize int `json:"batch_size"`
	// InputLen is the prompt length in tokens of each request.
	InputLen int `json:"input_len"`
	// OutputLen is the number of new tokens per request.
	OutputLen int `json:"output_len"`
	// Requests is the number of requests completed (failed ones included).
	Requests int `json:"requests"`
	// Failed is the number of requests that returned an error.
	Failed int `json:"failed"`
	// DurationS is the wall time of the phase in seconds, first request start to last request end.
	DurationS float64 `json:"duration_s"`
	// RequestsPerS is successful requests / DurationS.
	RequestsPerS float64 `json:"requests_per_s"`
	// OutputTokensPerS is generated tokens of successful requests / DurationS (decode throughput).
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
	// TotalTokensPerS is (prompt + generated tokens) of successful requests / DurationS.
	TotalTokensPerS float64 `json:"total_tokens_per_s"`
	// Latency is the end-to-end latency in ms of each successful request
	// (single, concurrent: unit "request") or of each batched generation
	// (batched: unit "batched generation", one sample for its BatchSize
	// sequences, since they share start and end). Reports before schema
	// 1.1 repeated a batched generation's latency once per sequence.
	Latency Summary `json:"latency_ms"`
	// OutputTokensPerSRuns is OutputTokensPerS of each repetition of the phase,
	// when it was repeated; nil otherwise. Compare uses its samples.
	OutputTokensPerSRuns *Summary `json:"output_tokens_per_s_runs,omitempty"`

	// The fields below are set by the continuous mode (schema 1.3).

	// RequestRate is the Poisson arrival rate in requests/s of an
	// open-loop continuous run; 0 for a closed loop at Concurrency.
	RequestRate float64 `json:"request_rate,omitempty"`
	// TTFT is time to first token in ms per request: from the request's
	// submission (its planned arrival in an open loop) to its first
	// token being sampled; queueing and prefill included. Unit "request".
	TTFT *Summary `json:"ttft_ms,omitempty"`
	// TPOT is time per output token in ms per request:
	// (E2E - TTFT) / (OutputLen - 1). Unit "request".
	TPOT *Summary `json:"tpot_ms,omitempty"`
	// ITL is the gaps between consecutive tokens of each request in ms,
	// pooled over requests (unit "token gap"): percentiles only.
	ITL *Summary `json:"itl_ms,omitempty"`
	// Engine describes the continuous-batching engine's steps during
	// the measured requests.
	Engine *EngineSteps `json:"engine,omitempty"`
}

// EngineSteps is what the continuous-batching engine did while a
// continuous mode was measured: its settings and its steps.
type EngineSteps struct {
	// MaxNumSeqs caps the sequences running at once.
	MaxNumSeqs int `json:"max_num_seqs"`
	// MaxNumBatchedTokens caps the new tokens of one step.
	MaxNumBatchedTokens int `json:"max_num_batched_tokens"`
	// KVCacheBytes is the memory of the paged KV cache.
	KVCacheBytes int64 `json:"kv_cache_bytes"`
	// BlockSize is the positions per KV block.
	BlockSize int `json:"block_size"`
	// PrefixCache says whether automatic prefix caching was on.
	PrefixCache bool `json:"prefix_cache"`
	// Steps is the number of engine steps (forward passes).
	Steps int64 `json:"steps"`
	// RowsPerStep is the new tokens per step (decodes plus prompt chunks).
	RowsPerStep Summary `json:"rows_per_step"`
	// PrefillRows and DecodeRows count the rows of prompt chunks and of
	// one-token decodes over all steps.
	PrefillRows int64 `json:"prefill_rows"`
	DecodeRows  int64 `json:"decode_rows"`
	// Preemptions is the sequences preempted for KV blocks and recomputed.
	Preemptions int64 `json:"preemptions"`
	// PrefixHitTokens of PrefixQueriedTokens prompt tokens were found in
	// the prefix cache.
	PrefixQueriedTokens int64 `json:"prefix_queried_tokens"`
	PrefixHitTokens     int64 `json:"prefix_hit_tokens"`
	// ForwardShare, ScheduleShare and SampleShare split the engine's step
	// time: the forward pass, the scheduler's bookkeeping, and sampling
	// with sending tokens out (fractions of their sum).
	ForwardShare  float64 `json:"forward_share"`
	ScheduleShare float64 `json:"schedule_share"`
	SampleShare   float64 `json:"sample_share"`
}

// Profile phases.
const (
	PhasePrefill = "prefill"
	PhaseDecode  = "decode"
	PhaseStep    = "step" // a ragged engine step: decodes and prompt chunks together (gpt2bench profile --step-decodes)
)

// Roofline bounds.
const (
	BoundMemory  = "memory"
	BoundCompute = "compute"
)

// Profile is the per-op time breakdown of one traced generation, with the
// machine limits needed to place each op on a roofline.
type Profile struct {
	// InputLen is the prompt length in tokens of the traced generation.
	InputLen int `json:"input_len"`
	// OutputLen is the number of tokens generated in the traced generation.
	OutputLen int `json:"output_len"`
	// Threads is the number of goroutines the kernels used (GOMAXPROCS or --threads).
	Threads int `json:"threads"`
	// Machine holds the measured bandwidth and compute limits.
	Machine MachineLimits `json:"machine"`
	// TotalMs is the wall time of the traced generation in ms.
	TotalMs float64 `json:"total_ms"`
	// OverheadMs is TotalMs minus the time inside traced ops (sampling, bookkeeping, tracer cost).
	OverheadMs float64 `json:"overhead_ms"`
	// Ops holds one row per (phase, layer, op).
	Ops []OpProfile `json:"ops"`
	// Phases totals prefill and decode: their place on the roofline and the
	// Go runtime's activity during each (optional).
	Phases []PhaseProfile `json:"phases,omitempty"`
	// Tail lines up the slowest inter-token gaps (those at or above the p99
	// ITL) with the GC pauses that overlapped them, so a reader can see
	// whether the latency tail is the collector (optional).
	Tail []TailToken `json:"tail,omitempty"`
}

// PhaseProfile is one phase of the traced generation.
type PhaseProfile struct {
	// Phase is "prefill" or "decode".
	Phase string `json:"phase"`
	// Steps is the number of forward steps in the phase.
	Steps int `json:"steps"`
	// StepMs is the measured wall time of the phase's forward steps, in ms.
	StepMs float64 `json:"step_ms"`
	// Coverage is the per-op times summed over StepMs (1 = every ns accounted for).
	Coverage float64 `json:"coverage"`
	// GFLOPPerS and GBPerS are the phase's analytic FLOPs and bytes over its op time.
	GFLOPPerS float64 `json:"gflop_per_s"`
	GBPerS    float64 `json:"gb_per_s"`
	// Bound is "memory" or "compute": the roofline bound at the phase's intensity.
	Bound string `json:"bound,omitempty"`
	// BandwidthShare and PeakShare are GBPerS and GFLOPPerS as fractions of
	// the all-core limits (0..1; 0 without limits).
	BandwidthShare float64 `json:"bandwidth_share"`
	PeakShare      float64 `json:"peak_share"`
	// GCCycles and GCPauseMs are the collections and their total stop-the-world pause during the phase.
	GCCycles  int64   `json:"gc_cycles"`
	GCPauseMs float64 `json:"gc_pause_ms"`
	// SchedLatencyP99Ms is the p99 time goroutines waited runnable before running (runtime/metrics), in ms.
	SchedLatencyP99Ms float64 `json:"sched_latency_p99_ms"`
}

// TailToken is one slow inter-token gap of the traced generation.
type TailToken struct {
	// Token is the index of the token (1 = the first decode token).
	Token int `json:"token"`
	// ITLMs is the gap before it, in ms; ExcessMs that gap minus the median gap.
	ITLMs    float64 `json:"itl_ms"`
	ExcessMs float64 `json:"excess_ms"`
	// GCPauses and GCPauseMs are the stop-the-world GC pauses that overlapped the gap.
	GCPauses  int     `json:"gc_pauses"`
	GCPauseMs float64 `json:"gc_pause_ms"`
}

// MachineLimits are the roofline ceilings measured on this machine.
type MachineLimits struct {
	// MemBandwidthGBPerS1Core is the streaming read bandwidth of one core in GB/s (1e9 bytes).
	MemBandwidthGBPerS1Core float64 `json:"mem_bandwidth_gb_per_s_1core"`
	// MemBandwidthGBPerSAll is the streaming read bandwidth of all cores in GB/s.
	MemBandwidthGBPerSAll float64 `json:"mem_bandwidth_gb_per_s_all"`
	// PeakGFLOPPerS1Core is the float32 FMA peak of one core in GFLOP/s (1 FMA = 2 FLOPs).
	PeakGFLOPPerS1Core float64 `json:"peak_gflop_per_s_1core"`
	// PeakGFLOPPerSAll is the float32 FMA peak of all cores in GFLOP/s.
	PeakGFLOPPerSAll float64 `json:"peak_gflop_per_s_all"`
	// Method says how the limits were obtained, e.g. "measured" or "nominal".
	Method string `json:"method,omitempty"`
	// MeasuredAt is when the limits were calibrated (a cached calibration
	// keeps its time); nil in reports before schema 1.1.
	MeasuredAt *time.Time `json:"measured_at,omitempty"`
	// Spread is the largest run-to-run spread, (max - min) / median, of the
	// calibration's measurements: how steady the machine was.
	Spread float64 `json:"spread,omitempty"`
}

// OpProfile is the time spent in one op of one layer during one phase.
type OpProfile struct {
	// Phase is "prefill" or "decode".
	Phase string `json:"phase"`
	// Layer is the transformer block index, or -1 for ops outside the blocks (embedding, final layernorm, lm_head).
	Layer int `json:"layer"`
	// Op is the op name, e.g. "qkv", "attention", "mlp_fc", "gelu", "lm_head".
	Op string `json:"op"`
	// TotalMs is the time spent in the op over all calls, in ms.
	TotalMs float64 `json:"total_ms"`
	// Share is TotalMs divided by the sum of TotalMs of all ops of the same phase (0..1).
	Share float64 `json:"share"`
	// Calls is the number of times the op ran.
	Calls int64 `json:"calls"`
	// FLOPs is the floating-point operations over all calls (analytic, from the kernel).
	FLOPs int64 `json:"flops"`
	// Bytes is the memory traffic over all calls (analytic: operands read plus results written).
	Bytes int64 `json:"bytes"`
	// GFLOPPerS is FLOPs / TotalMs, in GFLOP/s.
	GFLOPPerS float64 `json:"gflop_per_s"`
	// GBPerS is Bytes / TotalMs, in GB/s.
	GBPerS float64 `json:"gb_per_s"`
	// Bound is "memory" when the op's arithmetic intensity (FLOPs/Bytes) is below
	// the machine balance (peak GFLOP/s / bandwidth GB/s), "compute" otherwise.
	Bound string `json:"bound"`
	// ShareOfPeak is the achieved fraction of the roofline limit at the op's intensity (0..1).
	ShareOfPeak float64 `json:"share_of_peak"`
}

// Target is the result of one performance target check.
type Target struct {
	// Name identifies the target, e.g. "ttft_ms.p50 at input_len=128".
	Name string `json:"name"`
	// Metric is the metric path checked, e.g. "latency[input_len=128].ttft_ms.p50".
	Metric string `json:"metric"`
	// Op is the comparison the value must satisfy: "<", "<=", ">" or ">=".
	Op string `json:"op"`
	// Threshold is the limit the value is compared with.
	Threshold float64 `json:"threshold"`
	// Value is the measured value.
	Value float64 `json:"value"`
	// Unit is the unit of Value and Threshold, e.g. "ms" or "tok/s".
	Unit string `json:"unit"`
	// Pass is true when Value Op Threshold holds.
	Pass bool `json:"pass"`
}

// Quality compares reduced-precision inference with the float32 reference
// on the same token sequence.
type Quality struct {
	// DType is the reduced precision measured, e.g. "float16".
	DType string `json:"dtype"`
	// Reference is the reference precision, normally "float32".
	Reference string `json:"reference"`
	// Tokens is the number of token positions compared.
	Tokens int `json:"tokens"`
	// MaxAbsLogitError is max |logit_dtype - logit_ref| over all positions and vocabulary entries.
	MaxAbsLogitError float64 `json:"max_abs_logit_error"`
	// Top1Agreement is the fraction of positions where the argmax token is the same (0..1).
	Top1Agreement float64 `json:"top1_agreement"`
	// MeanKL is the mean over positions of KL(p_ref || p_dtype) of the softmax distributions, in nats.
	MeanKL float64 `json:"mean_kl"`
	// Perplexity is exp(mean next-token cross-entropy) of the reduced-precision model.
	Perplexity float64 `json:"perplexity"`
	// ReferencePerplexity is the same perplexity for the reference precision.
	ReferencePerplexity float64 `json:"reference_perplexity"`
}

// Skipped is a measurement the run refused to make.
type Skipped struct {
	// Phase is the phase that skipped it: "latency", "memory", "throughput", "profile" or "quality".
	Phase string `json:"phase"`
	// InputLen is the input length refused, 0 when not length-specific.
	InputLen int `json:"input_len,omitempty"`
	// Reason says why, e.g. "input 2048 + output 32 tokens exceed context 1024".
	Reason string `json:"reason"`
}

// SystemInfo describes where the report was made.
type SystemInfo struct {
	// OS is runtime.GOOS, e.g. "linux".
	OS string `json:"os"`
	// Arch is runtime.GOARCH, e.g. "amd64".
	Arch string `json:"arch"`
	// Kernel is the OS kernel release, e.g. "6.8.0-45-generic".
	Kernel string `json:"kernel"`
	// GoVersion is runtime.Version() of the binary.
	GoVersion string `json:"go_version"`
	// CPUModel is the CPU model name.
	CPUModel string `json:"cpu_model"`
	// Cores is the number of logical CPUs (runtime.NumCPU).
	Cores int `json:"cores"`
	// GOMAXPROCS is the GOMAXPROCS setting during the run.
	GOMAXPROCS int `json:"gomaxprocs"`
	// MemoryBytes is the total physical memory.
	MemoryBytes int64 `json:"memory_bytes"`
	// CPUFeatures are the SIMD features the kernels can use, e.g. ["avx2", "fma"].
	CPUFeatures []string `json:"cpu_features"`
	// Backend is the inference backend used, e.g. "cpu-avx2", "cpu-purego", "cuda".
	Backend string `json:"backend"`
	// CUDA describes the CUDA device; Available is false on CPU-only machines.
	CUDA CUDAInfo `json:"cuda"`
	// ToolVersion is the gpt2bench version.
	ToolVersion string `json:"tool_version"`
	// GitCommit is the VCS revision the binary was built from, empty when unknown.
	GitCommit string `json:"git_commit"`
}

// CUDAInfo describes the CUDA device and driver.
type CUDAInfo struct {
	// Available is true when a CUDA device was found and usable.
	Available bool `json:"available"`
	// Driver is the driver version, e.g. "550.54.15".
	Driver string `json:"driver,omitempty"`
	// Device is the device name, e.g. "NVIDIA H100 80GB HBM3".
	Device string `json:"device,omitempty"`
	// Version is the CUDA runtime version, e.g. "12.4".
	Version string `json:"version,omitempty"`
}

// Metadata holds the settings of the run.
type Metadata struct {
	// Device is "cpu" or "cuda".
	Device string `json:"device"`
	// Quick is true for a --quick run (fewer lengths and runs).
	Quick bool `json:"quick"`
	// Warmup is the number of warm-up runs per setting, not measured.
	Warmup int `json:"warmup"`
	// Runs is the number of measured runs per setting.
	Runs int `json:"runs"`
	// Seed is the random seed for prompts and sampling.
	Seed int64 `json:"seed"`
	// CommandLine is the command line that made the report, program name first.
	CommandLine []string `json:"command_line"`
	// RandomWeights is true when the model ran with random weights (no checkpoint): timings only, no quality.
	RandomWeights bool `json:"random_weights"`
	// DType is the weight and compute dtype, e.g. "float32".
	DType string `json:"dtype"`
}
