// Package engine serves many generation requests at once on one model by
// continuous batching over a paged KV cache.
//
// Requests (prompt token ids, max tokens, stop conditions, per-request
// sampling) are submitted at any time; each gets a Stream on which its
// tokens arrive as they are sampled. One goroutine runs steps back to
// back. Each step is one forward pass over a ragged batch
// (model.Ragged.Step): the one new token of every running sequence plus
// chunks of waiting prompts (chunked prefill), at most
// Config.MaxNumBatchedTokens rows and Config.MaxNumSeqs sequences. Each
// row attends to its own sequence's cache through that sequence's block
// table; the linear layers see every row of the step at once, so a step
// of 8 decodes costs about what one lockstep batch-8 step costs.
//
// The scheduler follows vLLM's v1 design:
//
//   - Running sequences come first, in the order they were admitted, each
//     with its next token (or the next chunk of its prompt); then waiting
//     requests, first come first served, while the token budget, the
//     sequence cap and the KV blocks allow.
//   - KV memory is a pool of fixed-size blocks (Config.KVCacheBytes,
//     Config.BlockSize), held in proportion to the tokens a sequence has.
//     When a running sequence needs a block and none is free, the most
//     recently admitted sequence is preempted: its blocks are freed, it
//     goes back to the front of the queue with the tokens it has produced,
//     and it is recomputed when there is room. Nothing is dropped and
//     nothing grows past the budget.
//   - Automatic prefix caching: every full block is registered under a
//     hash of its tokens chained to the block before it; a new request
//     takes the blocks of its longest cached prefix (hits are checked
//     against the stored tokens, so a hash collision is never a hit) and
//     computes only the rest. Freed cached blocks are evicted least
//     recently freed first.
//   - Each request samples with its own model.Sampler, seeded by the
//     request, so its tokens do not depend on what shares its steps. With
//     Config.BatchInvariant even its logits are bit-identical alone, mixed,
//     or after a prefix-cache hit; without it they agree within float32
//     rounding (1e-4).
//
// Cancelling a request's context ends it before the next step runs and
// frees its blocks. Submit refuses a bad request with a *RequestError
// (the others in flight are unaffected), a full queue with ErrQueueFull,
// and a draining engine with ErrClosed. The engine records, per request,
// arrival, first scheduled, first token, every token and finish (Timings,
// Token.Time), and per step its rows, prefill/decode mix, blocks and
// preemptions (StepStats, Config.OnStep, Stats).
package engine
