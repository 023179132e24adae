// Package cuda runs GPT-2 on an NVIDIA GPU through the CUDA driver API
// (gorgonia.org/cu), behind the build tag cuda; without the tag only this
// documentation and the pure-Go launch planner (plan.go) are built, so the
// default build stays pure Go with no cgo.
//
// Build (a CPU-only machine gets cuda.h and the libcuda link stub from
// scripts/cuda-sdk.sh; a binary built with the tag needs libcuda.so.1 and a
// device to start: gorgonia.org/cu initializes the driver, and exits when
// it cannot, before main runs):
//
//	eval "$(scripts/cuda-sdk.sh)"
//	go build -tags cuda ./cmd/gpt2bench
//	scripts/gpu-check.sh --build   # test binary + CLI for a GPU machine without Go
//
// A Model uploads the weights once (linear weights and the tied LM head in
// float32 or half, everything else float32); a Session holds one batch's KV
// cache ([L, B, capacity, C] float32 for keys and for values), scratch
// buffers and a position counter on the device and implements
// model.Backend. The whole forward pass runs on the GPU: embedding, layer
// norm, linear layers (warp-per-row GEMV for up to 16 rows, with the
// preceding layer norm computed inside it; 64×64-tiled GEMM above, float32
// FMA for f32 weights and tensor cores (wmma, fp32 accumulation, half
// activations) for f16, split along K when the tiles alone would leave
// SMs idle), bias + GELU and bias + residual in the linear epilogues,
// attention over the cache, and greedy sampling (argmax): GenerateGreedy
// copies one token id per sequence back per step. Kernels read the
// position from device memory and the last kernel advances it, so each
// step shape (B, T, all logits) is a CUDA graph captured once and replayed.
//
// A Ragged runs the continuous-batching engine's ragged step (as
// model.Ragged on the CPU) over a paged KV cache in device memory: every
// sequence of a step brings its own tokens (a prompt chunk or one decode
// token), position and block table; the linear layers run on all rows at
// once and each row's attention reads its own sequence's blocks
// (attention_paged); StepGreedy and StepSample choose every row's token on
// the device (each request with its own options and random stream, which
// travel in the step's upload) and copy back only the ids. A step runs as
// a CUDA graph captured per bucket of its rows and logit rows (rounded
// up; the padding rows write a block of their own and are thrown away),
// not per sequence, position or sampling setting. Tested against
// model.Ragged and model.Sampler under scripts/cudaemu,
// not yet run on a GPU, and not yet wired into engine/ (cmd refuses
// --continuous on --backend cuda).
//
// The kernels are CUDA C in kernels.cu, compiled to PTX by go generate
// (gen.go) and embedded; GPT2BENCH_CUDA_PTX names a PTX file to load
// instead. The CPU path (model.Session) is the numerical reference:
// gpu_test.go and kernels_gpu_test.go (tag cuda) compare each kernel with
// Go loops and the logits and greedy continuations with transformers'
// fixtures and the CPU path.
//
// Measured on an NVIDIA H100 80GB HBM3 (driver 580, CUDA 13.0), gpt2 124M
// with random weights, 128-token prompts (scripts/gpu-check.sh; transformers
// 5.17 eager, f16, on the same kind of machine for comparison):
//
//	                        f16          f32          transformers f16
//	TTFT, 128 tokens        1.44 ms      2.24 ms      12.4-16.2 ms
//	decode, batch 1         1,725 tok/s  1,563 tok/s  61-74 tok/s
//	decode, batch 32        27,385 tok/s 17,327 tok/s 1,449-2,516 tok/s
//
// Logits: max |error| vs transformers 8e-6..1.1e-5 on the fixtures (f32
// and f16 weights), 1.6e-3 vs the CPU path on gpt2 with f16 weights.
package cuda
