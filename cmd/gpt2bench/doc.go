// Command gpt2bench runs GPT-2 in pure Go and measures it.
//
// With no arguments it runs a quick benchmark of every phase on gpt2 from
// the Hugging Face cache, or on the embedded default (gpt2's architecture
// with deterministic random weights, labelled as such), prints a summary
// and writes a report to data/benchmarks:
//
//	$ gpt2bench
//	gpt2 is not in the Hugging Face cache (gpt2bench download gpt2); using the embedded default
//	model default: 12 layers, 12 heads, n_embd 768, vocab 50257, context 1024, 124.4M params, f32 weights on cpu (RANDOM weights: ...)
//	...
//	LATENCY
//	input  output  runs  TTFT p50 ms  TTFT p95 ms  TPOT p50 ms  ITL p50 ms  ITL p99 ms  E2E p50 ms  prefill tok/s  decode tok/s   GC
//	32     16      3     45.22        47.80        17.48        17.32       23.71       306.7       707.7          56.76 ± 0.935  0 (0 ms)
//	128    16      3     122.4        132.1        16.12        15.90       18.31       366.0       1046           62.17 ± 0.686  0 (0 ms)
//	...
//	report: data/benchmarks/gpt2-random_20261127_171238.json (summary data/benchmarks/gpt2-random_20261127_171238.md)
//
// Subcommands, one file each:
//
//	bench        latency, memory and throughput phases, profile and quality sections, targets
//	load         any OpenAI-compatible server under load: rates, concurrency, sweeps, goodput, server vs client timings
//	soak         hours under a steady load: resources and latency per window, injected faults, leak/drift/error verdicts
//	profile      per-layer, per-op time of one generation on this machine's roofline
//	calibrate    memory read bandwidth and float32 FMA peak, 1 core and all, cached
//	generate     stream text from a prompt (greedy, temperature, top-k, top-p, seed)
//	verify       logits, hidden-state norms and greedy text against a transformers reference;
//	             --against reference: every op of every layer against the float64 pass
//	inspect      logit lens per layer, attention maps per head (PNG, JSON), residual norms
//	perplexity   perplexity of a text file, and what --dtype f16/int8 costs against f32
//	report       table, Markdown, CSV, benchstat lines, plots, self-contained HTML
//	compare      reports side by side with Mann-Whitney U significance; --threshold gates CI;
//	             directories of reports a side: one sample per report (process)
//	download     a checkpoint into the Hugging Face cache, shared with transformers
//	export       a model as a Hugging Face directory (config.json + model.safetensors)
//	tokenize     GPT-2 token ids of a text as JSON; detokenize: the text of ids
//	serve        OpenAI's HTTP API over the continuous-batching engine
//	version      version, commit and toolchain (also gpt2bench --version)
//	completion   shell completion script (bash, zsh, fish, powershell)
//
// Model commands take --backend: cpu (gpt2bench's kernels), gonum (float32
// on gonum's BLAS), reference (float64 gonum/mat, written for reading) or
// cuda (a -tags cuda build); docs/walkthrough.md follows the forward pass op
// by op through all three CPU backends. The cpu backend also takes --dtype
// f32|f16|int8|q4 (the weights) and --kv-dtype auto|f32|f16 (the KV cache;
// auto is f16 with reduced-precision weights, f32 with f32 weights).
//
// Every command takes --cpuprofile, --memprofile and --trace. Exit codes:
// 0 success; 1 failure (runtime error, verify mismatch, a target missed:
// the report is still written); 2 usage (unknown command, bad flag or
// value); 130 interrupted by Ctrl-C (bench writes its report, marked
// incomplete). Results go to stdout, progress and messages to stderr;
// progress bars only when stderr is a terminal.
package main
