package loadgen

import (
	"encoding/json"
	"io"
	"time"
)

// Record is what the client saw of one request. The JSON form is one line of
// the records file beside the report; its times are ms, offsets from the
// start of the request's load point (planned_ms, sent_ms, ...) or durations
// (ttft_ms, ...).
type Record struct {
	// Point is the index of the load point in the report's load.points.
	Point int `json:"point"`
	// Index is the request's index in its workload: the point's first
	// (point × 2^21, so that points never share a prompt) plus its place
	// in the point, warm-up requests first.
	Index int `json:"index"`
	// Warmup is true for warm-up requests, which no statistic counts.
	Warmup bool `json:"warmup,omitempty"`

	// PlannedMs is when the arrival process planned the send (open loop), or
	// when a closed-loop slot became free.
	PlannedMs float64 `json:"planned_ms"`
	// SentMs is when the request was handed to the HTTP client.
	SentMs float64 `json:"sent_ms"`
	// FirstTokenMs and LastTokenMs are the arrivals of the first and last text events; 0 without any.
	FirstTokenMs float64 `json:"first_token_ms,omitempty"`
	LastTokenMs  float64 `json:"last_token_ms,omitempty"`
	// EndMs is when the response ended (or failed).
	EndMs float64 `json:"end_ms"`

	// TTFTMs, TPOTMs and E2EMs follow report.Load's definitions, from the send.
	TTFTMs float64 `json:"ttft_ms,omitempty"`
	TPOTMs float64 `json:"tpot_ms,omitempty"`
	E2EMs  float64 `json:"e2e_ms,omitempty"`
	// TTFTFromPlanMs and E2EFromPlanMs count from the planned send instead (open loop).
	TTFTFromPlanMs float64 `json:"ttft_from_plan_ms,omitempty"`
	E2EFromPlanMs  float64 `json:"e2e_from_plan_ms,omitempty"`
	// ITLMs are the gaps between consecutive text events.
	ITLMs []float64 `json:"itl_ms,omitempty"`
	// Events is the number of text events received.
	Events int `json:"events"`

	// InputLen and OutputLen are the prompt tokens expected and max_tokens asked.
	InputLen  int `json:"input_len"`
	OutputLen int `json:"output_len"`
	// PromptTokens and CompletionTokens are the server's usage counts; -1 when it sent none.
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`

	// Status is the HTTP status, 0 when no response came.
	Status int `json:"status"`
	// Class is the failure or mismatch class ("" for a correct request), see report.LoadError.
	Class string `json:"class,omitempty"`
	// Err is the failure or mismatch message.
	Err string `json:"error,omitempty"`
	// Failed is true when the request has no usable result (any class but wrong_length and wrong_prompt).
	Failed bool `json:"failed,omitempty"`

	// Server holds the server's own timings of the request, when it sent any.
	Server *ServerTiming `json:"server,omitempty"`

	// monotonic instants; zero when not reached
	planned, slot, sent, first, last, end time.Time
}

// ServerTiming is a server's own account of one request, in ms. Fields the
// server did not report are nil.
type ServerTiming struct {
	// Source is "server_timing" (gpt2bench serve's extension field), "Server-Timing header" or "llama.cpp timings".
	Source    string    `json:"source"`
	QueueMs   *float64  `json:"queue_ms,omitempty"`
	PrefillMs *float64  `json:"prefill_ms,omitempty"`
	TTFTMs    *float64  `json:"ttft_ms,omitempty"`
	DecodeMs  *float64  `json:"decode_ms,omitempty"`
	ITLMs     []float64 `json:"itl_ms,omitempty"`
	// MeanITLMs is the mean gap between tokens (llama.cpp's predicted_per_token_ms, or the mean of ITLMs).
	MeanITLMs *float64 `json:"mean_itl_ms,omitempty"`
}

// finish fills the offsets and derived latencies from the instants, with
// origin the start of the load point.
func (r *Record) finish(origin time.Time) {
	ms := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.Sub(origin)) / 1e6
	}
	d := func(a, b time.Time) float64 { return float64(b.Sub(a)) / 1e6 }
	r.PlannedMs, r.SentMs, r.FirstTokenMs, r.LastTokenMs, r.EndMs = ms(r.planned), ms(r.sent), ms(r.first), ms(r.last), ms(r.end)
	if r.Failed || r.first.IsZero() {
		return
	}
	r.TTFTMs, r.E2EMs = d(r.sent, r.first), d(r.sent, r.last)
	if r.planned.Before(r.sent) {
		r.TTFTFromPlanMs, r.E2EFromPlanMs = d(r.planned, r.first), d(r.planned, r.last)
	} else {
		r.TTFTFromPlanMs, r.E2EFromPlanMs = r.TTFTMs, r.E2EMs
	}
	if n := r.outputTokens(); n > 1 {
		r.TPOTMs = (r.E2EMs - r.TTFTMs) / float64(n-1)
	}
}

// outputTokens is the server's completion_tokens, or the text events without usage.
func (r *Record) outputTokens() int {
	if r.CompletionTokens >= 0 {
		return r.CompletionTokens
	}
	return r.Events
}

// WriteRecords writes records as JSON Lines, one record per line.
func WriteRecords(w io.Writer, records []Record) error {
	enc := json.NewEncoder(w)
	for i := range records {
		if err := enc.Encode(&records[i]); err != nil {
			return err
		}
	}
	return nil
}
