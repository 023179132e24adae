// Package server is gpt2bench's OpenAI-compatible HTTP API over the
// continuous-batching engine (package engine): the API that vLLM,
// llama.cpp's server, TGI and Ollama speak, so that the benchmark clients
// people trust can drive gpt2bench as they drive those.
//
// Routes:
//
//	POST /v1/completions       prompt (string, [string], [ids], [[ids]]), max_tokens, temperature,
//	                           top_p, top_k, seed, stop, n, logprobs, echo, stream (SSE),
//	                           stream_options.include_usage, and vLLM's ignore_eos, min_tokens,
//	                           stop_token_ids, include_stop_str_in_output, return_tokens_as_token_ids
//	POST /v1/chat/completions  400: GPT-2 has no chat template
//	GET  /v1/models            the one model served (503 while loading)
//	POST /tokenize             vLLM's {"prompt"} -> {"count", "max_model_len", "tokens"}
//	POST /detokenize           vLLM's {"tokens"} -> {"prompt"}
//	GET  /health               200 ready, 503 loading or draining
//	GET  /metrics              Prometheus: vLLM's metric names with the gpt2bench: prefix,
//	                           plus Go runtime and process metrics
//
// Errors have OpenAI's shape, {"error": {"message", "type", "param",
// "code"}}: 400 for a bad request (the field is named), 401 without the
// bearer token of Options.APIKey, 404 for another model, 413 for a body
// over Options.MaxBodyBytes, 429 when the engine's queue is full, 503
// while loading or draining.
//
// Every completion carries the engine's own timings of choice 0 in an
// extension field of the response (of the last event when streaming):
//
//	"server_timing": {"queue_ms": 0.02, "prefill_ms": 31.5, "ttft_ms": 31.52, "decode_ms": 402.1, "itl_ms": [25.1, ...]}
//
// and in a Server-Timing header (a trailer when streaming):
//
//	Server-Timing: queue;dur=0.020, prefill;dur=31.500, ttft;dur=31.520, decode;dur=402.100
//
// A client that disconnects cancels its request before the engine's next
// step. Every size and wait is bounded (Options): body, headers, header
// and body read time, each write, idle connections, connections at once.
// Shutdown stops accepting, lets requests in flight finish until its
// context ends and cancels the rest, each stream with a final error event.
package server
