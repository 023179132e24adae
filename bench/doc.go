// Package bench runs gpt2bench's benchmark phases on any model.Backend and
// fills a report.Report:
//
//   - latency (batch 1, per input length): TTFT, TPOT, ITL, E2E, prefill and
//     decode tokens/s, each summarised over the measured runs;
//   - memory: weights by dtype, load and inference peak RSS and Go heap, KV
//     cache analytic and allocated, allocations per token, GC cycles and pause;
//   - throughput: single stream, concurrent (one session per goroutine over
//     shared weights) and batched (B sequences per forward pass).
//
// Prompts are random token ids of exactly the requested length (never EOS),
// generation runs exactly the requested number of tokens (EOS ignored), and
// warm-up runs are never counted. Definitions, for N_out output tokens whose
// arrival times are t_0..t_{N_out-1} after the request start at s:
//
//	TTFT = t_0 - s                      (prefill of the whole prompt + first token)
//	E2E  = t_{N_out-1} - s
//	TPOT = (E2E - TTFT) / (N_out - 1)   one sample per run
//	ITL  = t_i - t_{i-1}, i = 1..N_out-1 every gap, pooled over runs
//	prefill tokens/s = input_len / TTFT
//	decode tokens/s  = (N_out - 1) / (E2E - TTFT)
//
// Statistics are report.Summarize's: sample standard deviation (n-1) and
// numpy's linear-interpolation percentiles. Run stops at the first
// cancellation of its context and returns the report so far, marked
// incomplete.
package bench
