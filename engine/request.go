package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/gpt2bench/gpt2bench/model"
)

// MaxTopLogprobs is the most alternatives a request may ask for per token
// (vLLM's default limit).
const MaxTopLogprobs = 20

// Request is one generation: a prompt of token ids and how to continue it.
type Request struct {
	Prompt    []int32 // token ids, at least one
	MaxTokens int     // new tokens at most, >= 1; prompt + MaxTokens - 1 must fit the context
	MinTokens int     // new tokens before EOS or a stop token may end the request
	IgnoreEOS bool    // keep going past EOS (load generators fix output lengths so)
	// StopTokens end the request when sampled (after MinTokens), like EOS;
	// the stop token is part of the output.
	StopTokens []int32
	Sampling   model.SampleOptions // greedy when Temperature is 0; Seed starts the request's own stream
	// Logprobs asks for the log-probability of each sampled token, and
	// TopLogprobs (0..MaxTopLogprobs) for that many most likely
	// alternatives. Log-probabilities are of the model's distribution
	// (log-softmax of the logits at temperature 1).
	Logprobs    bool
	TopLogprobs int
	// PromptLogprobs asks for the log-probability of every prompt token
	// after the first (OpenAI's echo with logprobs). Such a request does
	// not use the prefix cache, since it needs the logits of every prompt
	// position.
	PromptLogprobs bool
}

// validate checks r against the model and the engine's KV pool.
func (r *Request) validate(cfg model.Config, maxBlocks, blockSize int) error {
	switch {
	case len(r.Prompt) == 0:
		return &RequestError{Msg: "empty prompt; give at least one token"}
	case r.MaxTokens < 1:
		return &RequestError{Msg: fmt.Sprintf("max tokens %d, want >= 1", r.MaxTokens)}
	case r.MinTokens < 0 || r.MinTokens > r.MaxTokens:
		return &RequestError{Msg: fmt.Sprintf("min tokens %d, want 0..max tokens (%d)", r.MinTokens, r.MaxTokens)}
	case r.TopLogprobs < 0 || r.TopLogprobs > MaxTopLogprobs:
		return &RequestError{Msg: fmt.Sprintf("top logprobs %d, want 0..%d", r.TopLogprobs, MaxTopLogprobs)}
	}
	if need := len(r.Prompt) + r.MaxTokens - 1; need > cfg.NPositions {
		return &RequestError{Msg: fmt.Sprintf("prompt length %d plus max tokens %d needs %d positions (the last new token is never cached), context is %d; shorten the prompt or lower max tokens", len(r.Prompt), r.MaxTokens, need, cfg.NPositions), Context: &model.ContextError{Have: need, Max: cfg.NPositions}}
	}
	for i, id := range r.Prompt {
		if id < 0 || int(id) >= cfg.VocabSize {
			return &RequestError{Msg: fmt.Sprintf("prompt token %d at position %d is outside the vocabulary [0, %d)", id, i, cfg.VocabSize)}
		}
	}
	for _, id := range r.StopTokens {
		if id < 0 || int(id) >= cfg.VocabSize {
			return &RequestError{Msg: fmt.Sprintf("stop token %d is outside the vocabulary [0, %d)", id, cfg.VocabSize)}
		}
	}
	if err := r.Sampling.Validate(); err != nil {
		return &RequestError{Msg: err.Error()}
	}
	if need := (len(r.Prompt) + r.MaxTokens - 1 + blockSize - 1) / blockSize; need > maxBlocks {
		return &RequestError{Msg: fmt.Sprintf("request needs %d KV blocks of %d positions, the cache holds %d; raise --kv-cache-memory or lower max tokens", need, blockSize, maxBlocks)}
	}
	return nil
}

// RequestError is a request the engine refuses: the request is wrong, the
// engine is fine. Context is set when it would not fit the context.
type RequestError struct {
	Msg     string
	Context *model.ContextError
}

func (e *RequestError) Error() string { return "engine: " + e.Msg }

// Unwrap returns the *model.ContextError, if any.
func (e *RequestError) Unwrap() error {
	if e.Context == nil {
		return nil
	}
	return e.Context
}

// Errors of Submit that are not about the request itself.
var (
	// ErrQueueFull means the bounded waiting queue is full: retry later (HTTP 429).
	ErrQueueFull = errors.New("engine: queue full; retry later")
	// ErrClosed means the engine is draining or closed and takes no new requests (HTTP 503).
	ErrClosed = errors.New("engine: not accepting requests (draining or closed)")
)

// FinishReason says why a request ended.
type FinishReason string

// Finish reasons, named as OpenAI's API names them where it has one.
const (
	FinishStop      FinishReason = "stop"      // EOS or a stop token
	FinishLength    FinishReason = "length"    // MaxTokens reached
	FinishCancelled FinishReason = "cancelled" // the request's context ended
	FinishError     FinishReason = "error"     // the engine failed or closed; Result.Err says why
)

// Logprob is one token with its log-probability.
type Logprob struct {
	ID      int32
	Logprob float32
}

// Token is one generated token, sent on a Stream as soon as it is sampled.
type Token struct {
	ID      int32
	Logprob float32   // when Request.Logprobs
	Top     []Logprob // the TopLogprobs most likely tokens, most likely first
	Time    time.Time // when the engine sampled it
}

// Timings are the engine's clock readings of a request (monotonic).
type Timings struct {
	Arrival        time.Time // Submit accepted it
	FirstScheduled time.Time // its first prompt chunk entered a step
	FirstToken     time.Time // its first token was sampled
	Finish         time.Time // it ended
}

// Queue returns the time from arrival to the first scheduled step.
func (t Timings) Queue() time.Duration { return sub(t.FirstScheduled, t.Arrival) }

// Prefill returns the time from the first scheduled step to the first token.
func (t Timings) Prefill() time.Duration { return sub(t.FirstToken, t.FirstScheduled) }

// TTFT returns the time from arrival to the first token.
func (t Timings) TTFT() time.Duration { return sub(t.FirstToken, t.Arrival) }

// Decode returns the time from the first token to the end.
func (t Timings) Decode() time.Duration { return sub(t.Finish, t.FirstToken) }

// E2E returns the time from arrival to the end.
func (t Timings) E2E() time.Duration { return sub(t.Finish, t.Arrival) }

func sub(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return a.Sub(b)
}

// Result is how a request ended. It is complete once the Stream's token
// channel is closed.
type Result struct {
	Reason         FinishReason
	Err            error // why, for FinishError and FinishCancelled
	PromptTokens   int
	OutputTokens   int
	CachedTokens   int       // prompt tokens found in the prefix cache (not computed)
	Preemptions    int       // times it was preempted and recomputed
	PromptLogprobs []Logprob // [len(Prompt)-1] when Request.PromptLogprobs: prompt token i+1 given tokens 0..i
	Timings        Timings
}

// Stream is one submitted request: its tokens arrive on Tokens as they are
// sampled, and Tokens is closed when the request ends; Result then says
// how. The channel holds every token the request may produce, so the
// engine never waits for a slow reader.
type Stream struct {
	id     uint64
	tokens chan Token
	done   chan struct{}
	result Result
}

// ID returns the engine's number for the request (1, 2, ...).
func (s *Stream) ID() uint64 { return s.id }

// Tokens returns the channel of generated tokens, closed at the end.
func (s *Stream) Tokens() <-chan Token { return s.tokens }

// Done is closed when the request has ended and Result is final.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Result returns how the request ended; it waits until it has.
func (s *Stream) Result() Result {
	<-s.done
	return s.result
}
