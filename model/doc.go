// Package model is the GPT-2 forward pass: embeddings, transformer blocks
// (layer norm, causal self-attention over a KV cache, MLP), the final layer
// norm and the tied LM head, in float32, plus generation and a plain
// float64 reference implementation that the fast path is tested against.
//
// Dimensions, used in every shape comment (outermost first, row-major,
// last dim contiguous):
//
//	B     batch: sequences advanced together
//	T     new positions in this forward call (prompt length in prefill, 1 in decode)
//	P     positions already in the KV cache
//	C     n_embd, the width of the residual stream
//	NH    n_head; HS = C/NH is the head size
//	F     MLP width, 4*C for GPT-2
//	V     vocabulary size
//	L     n_layer
//	maxT  n_positions, the context length
//
// One forward step reads, per new token: x = wte[tok] + wpe[pos]; for each
// block x += attn(ln_1(x)); x += mlp(ln_2(x)); then logits = ln_f(x)·wteᵀ.
package model
