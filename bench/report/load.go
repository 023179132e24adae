package report

// Load is the section `gpt2bench load` writes: one OpenAI-compatible server
// measured from the client under one or more load points (a closed-loop
// concurrency, a Poisson or gamma request rate, a constant rate, or the
// points of a sweep). Added in schema 1.1; absent in bench reports.
//
// Metric definitions are bench's: TTFT is the time to the first generated
// token (the first streamed event with text), TPOT is (E2E - TTFT) /
// (N_out - 1) per request with N_out the server's usage.completion_tokens
// (the number of text events when the server reports no usage), ITL are the
// gaps between consecutive text events pooled over requests, and E2E is the
// time to the last generated token. Every time is taken on the client's
// monotonic clock at the arrival of the SSE event. Send-based figures count
// from the moment the request was handed to the HTTP client; plan-based ones
// (open loop only) from the moment the arrival process planned it, so that
// queueing behind a stalled server shows (coordinated omission, as wrk2).
type Load struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:8000/v1" (no credentials).
	URL string `json:"url"`
	// Endpoint is the API path measured: "/completions" or "/chat/completions" under URL.
	Endpoint string `json:"endpoint"`
	// Server is the server's HTTP Server header, when it sends one (e.g. "llama.cpp").
	Server string `json:"server,omitempty"`
	// Workload describes the requests sent.
	Workload LoadWorkload `json:"workload"`
	// SLO is the service-level objective goodput counts against; nil when none was given.
	SLO *LoadSLO `json:"slo,omitempty"`
	// Points holds one entry per load point measured, in the order run.
	Points []LoadPoint `json:"points"`
	// Sweep is the result of a sweep for the highest rate holding the SLO; nil without --sweep.
	Sweep *LoadSweep `json:"sweep,omitempty"`
	// RecordsFile is the per-request JSONL file written beside the report (base name), "" when none.
	RecordsFile string `json:"records_file,omitempty"`
}

// LoadWorkload describes the requests of a load run.
type LoadWorkload struct {
	// Source is "random" (random token ids of the lengths below) or "dataset".
	Source string `json:"source"`
	// Dataset is the JSONL dataset file, when Source is "dataset".
	Dataset string `json:"dataset,omitempty"`
	// PromptFormat is "token_ids" (the prompt sent as a list of token ids, so the
	// server sees exactly the length asked) or "text".
	PromptFormat string `json:"prompt_format"`
	// InputLenMin and InputLenMax bound the prompt lengths in tokens (uniform; equal when fixed).
	InputLenMin int `json:"input_len_min"`
	InputLenMax int `json:"input_len_max"`
	// OutputLenMin and OutputLenMax bound the output lengths asked (max_tokens), uniform; equal when fixed.
	OutputLenMin int `json:"output_len_min"`
	OutputLenMax int `json:"output_len_max"`
	// PrefixLen is the number of prompt tokens shared within a prefix group (0 = none).
	PrefixLen int `json:"prefix_len"`
	// PrefixGroups is the number of distinct shared prefixes (requests go round-robin).
	PrefixGroups int `json:"prefix_groups"`
	// IgnoreEOS is true when requests asked the server to ignore EOS (ignore_eos, min_tokens).
	IgnoreEOS bool `json:"ignore_eos"`
	// Temperature is the sampling temperature sent with each request (0 =
	// greedy); nil when none was sent and the server chose (schema 1.5).
	Temperature *float64 `json:"temperature,omitempty"`
	// Seed seeds the prompts, the lengths and the arrival process.
	Seed int64 `json:"seed"`
}

// LoadSLO is a service-level objective: a request is good when it succeeded
// with the output length asked and meets every limit set (0 = no limit).
type LoadSLO struct {
	// TTFTMs is the largest TTFT of a good request, in ms (from the planned send in open loop).
	TTFTMs float64 `json:"ttft_ms"`
	// TPOTMs is the largest TPOT of a good request, in ms.
	TPOTMs float64 `json:"tpot_ms"`
	// E2EMs is the largest E2E latency of a good request, in ms (from the planned send in open loop).
	E2EMs float64 `json:"e2e_ms"`
	// MinAttainment is the fraction of requests (0..1) that must be good for a sweep point to hold.
	MinAttainment float64 `json:"min_attainment"`
}

// Load point arrival processes.
const (
	ArrivalClosed   = "closed"   // Concurrency requests always in flight, each sent when one ends
	ArrivalPoisson  = "poisson"  // open loop, gamma-distributed gaps (burstiness 1: Poisson)
	ArrivalConstant = "constant" // open loop, equal gaps of 1/RequestRate
)

// LoadPoint is one load setting measured: warm-up excluded, every count and
// statistic over the measured requests only.
type LoadPoint struct {
	// Arrival is "closed", "poisson" or "constant".
	Arrival string `json:"arrival"`
	// Concurrency is the closed loop's requests in flight, or the open loop's cap on them (0 = no cap).
	Concurrency int `json:"concurrency"`
	// RequestRate is the planned open-loop rate in requests/s; 0 in closed loop.
	RequestRate float64 `json:"request_rate"`
	// Burstiness is the gamma shape of the gaps (1 = Poisson, < 1 burstier); 0 unless Arrival is "poisson".
	Burstiness float64 `json:"burstiness"`
	// Warmup is the number of warm-up requests sent first and not counted.
	Warmup int `json:"warmup"`
	// Requests is the number of measured requests sent.
	Requests int `json:"requests"`
	// Completed is the number of measured requests that returned a complete stream.
	Completed int `json:"completed"`
	// Failed is Requests - Completed: HTTP errors, timeouts, broken streams, bad responses.
	Failed int `json:"failed"`
	// Errors counts the failures, and the requests of the wrong length, by class.
	Errors []LoadError `json:"errors"`
	// PromptLenMismatches counts completed requests whose usage.prompt_tokens differs from the prompt sent.
	PromptLenMismatches int `json:"prompt_len_mismatches"`
	// OutputLenMismatches counts completed requests whose output length differs from max_tokens asked.
	OutputLenMismatches int `json:"output_len_mismatches"`
	// DurationS is the measured wall time in s: first measured send (or plan) to last measured end.
	DurationS float64 `json:"duration_s"`
	// RequestsPerS is completed requests / DurationS.
	RequestsPerS float64 `json:"requests_per_s"`
	// OutputTokensPerS is the generated tokens of completed requests / DurationS.
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
	// TotalTokensPerS is prompt plus generated tokens of completed requests / DurationS.
	TotalTokensPerS float64 `json:"total_tokens_per_s"`
	// GoodputRequestsPerS is good requests (see LoadSLO) / DurationS; RequestsPerS when no SLO is set.
	GoodputRequestsPerS float64 `json:"goodput_requests_per_s"`
	// SLOAttainment is good requests / Requests (0..1); 1 minus the failure share when no SLO is set.
	SLOAttainment float64 `json:"slo_attainment"`
	// TTFT is per completed request, from its send, in ms.
	TTFT Summary `json:"ttft_ms"`
	// TPOT is per completed request with at least two tokens, in ms.
	TPOT Summary `json:"tpot_ms"`
	// ITL is the gaps between text events pooled over completed requests, in ms.
	// Its samples are not stored (they are not independent; the records file has them).
	ITL Summary `json:"itl_ms"`
	// E2E is per completed request, from its send to its last token, in ms.
	E2E Summary `json:"e2e_ms"`
	// TTFTFromPlan is TTFT counted from the planned send time; nil in closed loop.
	TTFTFromPlan *Summary `json:"ttft_from_plan_ms,omitempty"`
	// E2EFromPlan is E2E counted from the planned send time; nil in closed loop.
	E2EFromPlan *Summary `json:"e2e_from_plan_ms,omitempty"`
	// ServerView is the server's own timings beside the client's; nil when the server reports none.
	ServerView *LoadServerView `json:"server_view,omitempty"`
	// Client is the load generator's check on itself.
	Client LoadClient `json:"client"`
}

// Load error classes. An HTTP status is its own class, "http_<code>".
const (
	ErrClassTimeout      = "timeout"       // no complete answer within the request timeout
	ErrClassConnection   = "connection"    // the connection failed or was refused
	ErrClassBrokenStream = "broken_stream" // the stream ended before [DONE] or the final usage
	ErrClassBadResponse  = "bad_response"  // a body that is not the OpenAI format
	ErrClassWrongLength  = "wrong_length"  // completed, but completion_tokens differs from max_tokens (not a failure)
	ErrClassWrongPrompt  = "wrong_prompt"  // completed, but prompt_tokens differs from the prompt sent (not a failure)
)

// LoadError is one class of failure or mismatch with its count.
type LoadError struct {
	// Class is "http_<status>", "timeout", "connection", "broken_stream", "bad_response", "wrong_length" or "wrong_prompt".
	Class string `json:"class"`
	// Count is the number of measured requests in the class.
	Count int `json:"count"`
	// Example is the first message seen in the class.
	Example string `json:"example"`
}

// LoadServerView puts the server's own per-request timings (gpt2bench
// serve's server_timing, a Server-Timing header, or llama.cpp's timings)
// beside the client's, over the completed requests that carried them.
type LoadServerView struct {
	// Source is where the timings came from: "server_timing", "Server-Timing header" or "llama.cpp timings".
	Source string `json:"source"`
	// Requests is the number of completed requests with server timings.
	Requests int `json:"requests"`
	// QueueMs is the server's queueing time per request, in ms (n = 0 when not reported).
	QueueMs Summary `json:"queue_ms"`
	// PrefillMs is the server's prompt processing time per request, in ms.
	PrefillMs Summary `json:"prefill_ms"`
	// TTFT is the server's time to first token per request, in ms.
	TTFT Summary `json:"ttft_ms"`
	// ITL is the server's mean inter-token gap per request, in ms.
	ITL Summary `json:"itl_ms"`
	// ClientITL is the client's mean inter-token gap per request over the same requests, in ms.
	ClientITL Summary `json:"client_itl_ms"`
	// TTFTDiffMs is client TTFT minus server TTFT per request (network, HTTP and client overhead).
	TTFTDiffMs Summary `json:"ttft_diff_ms"`
	// ITLDiffMs is client minus server mean inter-token gap per request.
	ITLDiffMs Summary `json:"itl_diff_ms"`
}

// LoadClient is the load generator's check on itself: when it could not
// send on time or used most of its CPU, the point's numbers describe the
// client as much as the server, and ClientBound says so.
type LoadClient struct {
	// SendLag is how late each measured request left against its plan, in ms
	// (open loop), or against the moment a slot freed (closed loop).
	SendLag Summary `json:"send_lag_ms"`
	// CPUSeconds is the user plus system CPU time of the generator during the point.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUShare is CPUSeconds over DurationS times the cores the generator may use (GOMAXPROCS), 0..1.
	CPUShare float64 `json:"cpu_share"`
	// ClientBound is true when the send lag p99 or the CPU share passed its threshold.
	ClientBound bool `json:"client_bound"`
	// Reason says which threshold was passed, "" when not client-bound.
	Reason string `json:"reason,omitempty"`
}

// LoadSweep is the result of a sweep for the highest request rate whose
// SLO attainment holds (as GuideLLM's sweep and DistServe's goodput).
type LoadSweep struct {
	// CapacityRequestsPerS is the completed requests/s of the saturating closed-loop point run first.
	CapacityRequestsPerS float64 `json:"capacity_requests_per_s"`
	// MaxRequestRate is the highest rate tried whose attainment reached LoadSLO.MinAttainment; 0 when none did.
	MaxRequestRate float64 `json:"max_request_rate"`
	// MaxGoodputRequestsPerS is the goodput measured at MaxRequestRate.
	MaxGoodputRequestsPerS float64 `json:"max_goodput_requests_per_s"`
	// Rates lists the rates tried, in the order run (Points holds their measurements).
	Rates []float64 `json:"rates"`
}
