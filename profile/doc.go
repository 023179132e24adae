// Package profile is gpt2bench's built-in profiler: per-layer, per-op
// timing of the forward pass in prefill and decode, FLOPs and bytes of
// every op from its shapes (model.OpCost), achieved GFLOP/s and GB/s placed
// on a roofline against this machine's measured limits, Go-native
// profiling hooks, and the runtime's effects on latency.
//
// # Pieces
//
//   - Tracer implements model.Tracer. It timestamps every op (monotonic
//     clock) into accumulators [phase][layer][op] allocated once; BeginOp
//     and EndOp do not allocate. With a Session's tracer unset the engine
//     pays one nil check per op (BenchmarkDecodeStep/tracer=off vs =on).
//   - Calibrate measures the limits once: streaming read bandwidth (a
//     vectorised sum over a 512 MiB float32 slice) and float32 FMA peak
//     (12 independent 8-wide FMA chains, kernels_amd64.s), on one
//     goroutine and on every core, several runs, median and spread.
//     SaveLimits/LoadLimits cache them in DefaultLimitsPath by MachineKey.
//   - Tracer.Profile builds a Profile: rows (phase, layer, op, calls, time,
//     share, FLOPs, bytes, GFLOP/s, GB/s, intensity, bound, share of the
//     roofline), phase totals ("decode: 84% of memory bandwidth"), and the
//     check that op times sum to the measured step time (Coverage).
//     Profile.Write renders it as a table, Markdown or JSON;
//     Profile.Report converts it for the benchmark report.
//   - Timeline records one generation as Chrome trace-event JSON: one
//     track per op, the steps and layers enclosing them on a track of their
//     own; it opens in ui.perfetto.dev and chrome://tracing.
//   - With TracerOptions.Labels the calling goroutine carries pprof labels
//     phase, layer and op during each op, so a CPU profile can be cut by
//     them: go tool pprof -tagfocus='layer=^3$' -top cpu.pprof (pprof reads
//     a bare -tagfocus=layer=3 as a numeric range, which matches only
//     numeric labels, and runtime/pprof writes string labels; the anchored
//     regexp selects layer 3 alone). With
//     runtime/trace on (gpt2bench --trace), each step, layer and op is a
//     trace region, visible in go tool trace.
//   - runtime/metrics are read at each phase boundary (GC cycles, GC
//     pauses, GC CPU, allocations, scheduling latency), and the GC pauses
//     of the run are lined up with the slowest inter-token gaps (the p99
//     ITL) to tell whether the tail is the collector.
//
// # Labels on the worker pool
//
// The parallel ops (linear layers, attention) run partly on tensor.Pool's
// worker goroutines, which do not inherit the caller's labels (Go has no
// API to read a goroutine's labels). Tracer implements model.LabelTracer,
// so a model.Session hands Tracer.Labels to its tensor.Runner, whose
// workers wear them (pprof.SetGoroutineLabels) while they run that op's
// chunks: every CPU sample of an op carries its phase, layer and op.
//
// # Run
//
// Run does what `gpt2bench profile` does: a warm-up generation, one traced
// generation (1 prefill step, OutputLen-1 decode steps), and pairs of
// untraced and traced generations to measure the tracer's overhead.
package profile
