// Package soak runs a load against an OpenAI-compatible server for a long
// time, samples the server's resources and the load's latency per window,
// injects faults on a schedule, and judges leaks, latency drift and errors
// (the soak section of a bench/report.Report).
//
// The load is loadgen's: a closed loop of Options.Concurrency requests, or
// Poisson arrivals at Options.Rate (a closed-loop worker whose request
// failed waits 100 ms before its next, as a client would, rather than spin
// on a refused connection). Every Options.SampleInterval the
// Samplers read the resources (RSS, Go heap in use and live, goroutines,
// open file descriptors, KV blocks in use, prefix-cache blocks, GC cycles
// and pause); every Options.Window the requests that ended in it give
// TTFT/ITL/E2E percentiles and throughput. Faults, in turn: streams dropped
// after their first token, malformed bodies, prompts over the context,
// bursts beyond the queue, and (in process) one drain-and-restart of the
// server. Each fault passes when every one of its requests either
// completes or gets a clear error, and the resources come back to their
// level before it within Options.FaultSettle. In process, the soak runs
// two GCs after each fault (runtime.GC, then debug.FreeOSMemory), so that
// the heap and RSS sampled after it are not the fault's garbage, buffers
// sync.Pools keep through one cycle, or pages the runtime has not yet
// returned (it does so lazily); a leak's memory is live and stays.
//
// Verdicts, each with its evidence in the report:
//
//   - Leak: OLS slope of each resource over the samples after the warm-up
//     (samples inside a fault's window left out), with a 95% confidence
//     interval from Student's t on an effective sample size n·(1-r)/(1+r),
//     r the lag-1 autocorrelation of the residuals (successive samples are
//     not independent; without the correction the interval is too narrow
//     and a clean server is flagged). A resource leaks when the interval's
//     low end is above its threshold (DefaultThresholds, growth per hour)
//     and the fitted growth over the samples judged is above a minimum
//     (DefaultMinGrowth: what one-time pools and buffers can add).
//   - Drift: per-request TTFT, ITL (each request's median gap) and E2E of
//     the first fifth of the windows after the warm-up against the last
//     fifth, requests sent during faults left out; Mann-Whitney U. A metric
//     drifts when p < DriftAlpha and the last median is more than
//     DriftThreshold and DriftMinMs above the first (on a shared machine
//     sub-millisecond medians swing by 25% with the neighbours' load).
//   - Error budget: load requests that failed outside the faults' windows
//     (and any that timed out or broke mid-stream anywhere) against
//     ErrorBudget of the requests.
//
// InProcess runs gpt2bench's own server (package server over package
// engine) on a loopback port inside the soak's process, so that every
// fault is real HTTP and the resources are read from the runtime directly;
// with --url the soak reads a server's /metrics (ours, or any Prometheus
// Go process) and /proc/PID.
package soak
