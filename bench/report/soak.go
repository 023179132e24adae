package report

// Soak is the section `gpt2bench soak` writes (schema 1.4): one server run
// under a steady load for a long time, its resources sampled every
// SampleIntervalS, its latency and throughput per window of WindowS, faults
// injected on a schedule, and verdicts on leaks, latency drift and errors,
// each with its evidence. Absent in other reports.
//
// Leak: each resource's ordinary least-squares slope over the samples after
// the warm-up (samples inside a fault's window excluded), with a two-sided
// 95% confidence interval from Student's t on an effective sample size
// corrected for the samples' lag-1 autocorrelation; a resource leaks when
// the interval's lower end is above its threshold (growth per hour) and it
// grew by more than its minimum over the samples judged.
// Drift: the per-request TTFT, ITL and E2E of the first windows against the
// last ones (after the warm-up, requests sent during faults excluded),
// Mann-Whitney U; a metric drifts when p < Alpha and the last median is
// more than Threshold and MinDeltaMs above the first. Error budget: requests that failed
// outside the faults' windows, against a fraction of the requests.
type Soak struct {
	// Target is "in-process" (gpt2bench's server on loopback in the soak's
	// own process) or "url" (any OpenAI-compatible server).
	Target string `json:"target"`
	// URL is the server's base URL, e.g. "http://127.0.0.1:8000/v1".
	URL string `json:"url"`
	// PID is the server's process read from /proc with --pid; 0 when none.
	PID int `json:"pid,omitempty"`
	// Sources name where the resources came from: "runtime" (the soak's own
	// process), "/metrics" (the server's Prometheus metrics), "/proc/PID".
	Sources []string `json:"sources"`
	// Workload describes the requests sent.
	Workload LoadWorkload `json:"workload"`
	// Arrival is "closed" (Concurrency requests in flight) or "poisson" (RequestRate, at most Concurrency in flight when > 0).
	Arrival     string  `json:"arrival"`
	Concurrency int     `json:"concurrency"`
	RequestRate float64 `json:"request_rate,omitempty"`
	// DurationS is the soak asked for, ElapsedS the time it ran (shorter when interrupted).
	DurationS float64 `json:"duration_s"`
	ElapsedS  float64 `json:"elapsed_s"`
	// WarmupS is the start left out of the leak and drift verdicts.
	WarmupS float64 `json:"warmup_s"`
	// SampleIntervalS is the time between resource samples, WindowS the width of a latency window.
	SampleIntervalS float64 `json:"sample_interval_s"`
	WindowS         float64 `json:"window_s"`
	// Requests counts the load's requests that ended; Failed those that failed (during faults or not).
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
	// SampleTimesS are the resource samples' times in seconds from the start.
	SampleTimesS []float64 `json:"sample_times_s"`
	// InFault marks the samples inside a fault's window (left out of the leak regression).
	InFault []bool `json:"in_fault"`
	// Resources are the sampled series, one value per sample time.
	Resources []SoakSeries `json:"resources"`
	// Windows are the latency and throughput of each window, in time order.
	Windows []SoakWindow `json:"windows"`
	// Faults are the faults injected, in time order.
	Faults []SoakFault `json:"faults"`
	// Leaks holds one verdict per resource with a threshold.
	Leaks []SoakLeak `json:"leaks"`
	// Drift holds one verdict per latency metric.
	Drift []SoakDrift `json:"drift"`
	// ErrorBudget is the error-budget verdict.
	ErrorBudget SoakErrorBudget `json:"error_budget"`
	// Pass is true when every verdict passed (leaks, drift, error budget, faults).
	Pass bool `json:"pass"`
	// Failures say, one line each, which verdicts failed.
	Failures []string `json:"failures,omitempty"`
	// RecordsFile is the per-request JSONL file written beside the report (base name).
	RecordsFile string `json:"records_file,omitempty"`
}

// SoakSeries is one sampled resource.
type SoakSeries struct {
	// Name is the resource: rss, heap_inuse, heap_live, goroutines, open_fds,
	// kv_blocks_used, prefix_cache_blocks, gc_cycles, gc_pause_ms, ...
	Name string `json:"name"`
	// Unit is "bytes", "count" or "ms".
	Unit string `json:"unit"`
	// Cumulative is true for counters (gc_cycles, gc_pause_ms): plots show their rate per second.
	Cumulative bool `json:"cumulative,omitempty"`
	// Values holds one value per sample time; NaN cannot be stored, so a
	// missing reading repeats the previous one.
	Values []float64 `json:"values"`
}

// SoakWindow is one window of the soak: the requests that ended in it.
type SoakWindow struct {
	// StartS and EndS bound the window in seconds from the start.
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Requests ended in the window, Failed of them failed.
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
	// RequestsPerS and OutputTokensPerS are the completed requests and their tokens over the window.
	RequestsPerS     float64 `json:"requests_per_s"`
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
	// TTFT, ITL and E2E are percentiles of the window's completed requests (ITL pooled), ms.
	TTFT Percentiles `json:"ttft_ms"`
	ITL  Percentiles `json:"itl_ms"`
	E2E  Percentiles `json:"e2e_ms"`
}

// Percentiles are p50, p90 and p99 of n samples (0 when n is 0).
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// Fault kinds of a soak.
const (
	FaultDisconnect  = "disconnect"   // clients drop streams after their first token
	FaultMalformed   = "malformed"    // bodies that are not a request
	FaultOverContext = "over_context" // prompts longer than the context
	FaultBurst       = "burst"        // more requests at once than the queue holds
	FaultRestart     = "restart"      // drain the server and start it again (in-process only)
)

// SoakFault is one injected fault and what came of it.
type SoakFault struct {
	// Kind is one of the Fault constants.
	Kind string `json:"kind"`
	// StartS and EndS bound the fault (its requests sent and answered), in seconds from the start.
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Sent is the number of fault requests sent.
	Sent int `json:"sent"`
	// Outcomes counts their outcomes: "ok", "disconnected", "http_400", "http_429", ...
	Outcomes map[string]int `json:"outcomes"`
	// Expected says what a pass needs, e.g. "every request 400 with an error body".
	Expected string `json:"expected"`
	// RecoveredS is how long after EndS the resources were back at their
	// level before the fault; -1 when they were not within the settle time.
	RecoveredS float64 `json:"recovered_s"`
	// Pass is true when the outcomes were as expected and the resources recovered.
	Pass bool `json:"pass"`
	// Detail explains a failure (or gives figures), "" when none.
	Detail string `json:"detail,omitempty"`
}

// Verdicts of a soak's checks.
const (
	VerdictPass         = "pass"
	VerdictLeak         = "leak"
	VerdictDrift        = "drift"
	VerdictOverBudget   = "over_budget"
	VerdictInsufficient = "insufficient_data" // too few samples to judge: not a failure
)

// SoakLeak is the leak verdict of one resource.
type SoakLeak struct {
	// Resource names the series (SoakSeries.Name), Unit its unit.
	Resource string `json:"resource"`
	Unit     string `json:"unit"`
	// N is the samples regressed, NEff the effective sample size after the autocorrelation correction.
	N    int     `json:"n"`
	NEff float64 `json:"n_eff"`
	// SlopePerHour is the OLS slope in units per hour, with its 95% confidence interval.
	SlopePerHour  float64 `json:"slope_per_hour"`
	CILowPerHour  float64 `json:"ci_low_per_hour"`
	CIHighPerHour float64 `json:"ci_high_per_hour"`
	// ThresholdPerHour is the growth per hour above which a resource leaks.
	ThresholdPerHour float64 `json:"threshold_per_hour"`
	// First and Last are the fitted values at the first and last regressed samples.
	First float64 `json:"first"`
	Last  float64 `json:"last"`
	// MinGrowth is the least fitted growth (Last - First) a leak needs: a
	// short soak cannot tell a slope of less from the one-time growth of
	// pools, caches and connection buffers.
	MinGrowth float64 `json:"min_growth"`
	// Verdict is "pass", "leak" (CILowPerHour > ThresholdPerHour and
	// Last - First > MinGrowth) or "insufficient_data".
	Verdict string `json:"verdict"`
}

// SoakDrift is the drift verdict of one latency metric.
type SoakDrift struct {
	// Metric is "ttft_ms", "itl_ms" or "e2e_ms".
	Metric string `json:"metric"`
	// FirstN and LastN are the per-request samples compared (ITL: each request's median gap).
	FirstN int `json:"first_n"`
	LastN  int `json:"last_n"`
	// FirstP50 and LastP50 are their medians, Ratio LastP50/FirstP50.
	FirstP50 float64 `json:"first_p50"`
	LastP50  float64 `json:"last_p50"`
	Ratio    float64 `json:"ratio"`
	// P is Mann-Whitney's two-sided p-value.
	P float64 `json:"p"`
	// Alpha, Threshold and MinDeltaMs are the gates: drift when P < Alpha,
	// Ratio > 1 + Threshold and LastP50 - FirstP50 > MinDeltaMs (changes
	// under a millisecond are the scheduler's noise, not the server's).
	Alpha      float64 `json:"alpha"`
	Threshold  float64 `json:"threshold"`
	MinDeltaMs float64 `json:"min_delta_ms"`
	// Verdict is "pass", "drift" or "insufficient_data".
	Verdict string `json:"verdict"`
}

// SoakErrorBudget is the error-budget verdict.
type SoakErrorBudget struct {
	// Requests counts the load's requests; Failed those failed outside any fault's window.
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
	// FailedDuringFaults failed inside a fault's window (shown, not counted against the budget
	// when their class is a clear error: an HTTP status or a refused connection).
	FailedDuringFaults int `json:"failed_during_faults"`
	// ByClass counts the failures outside the faults by class (report.LoadError's classes).
	ByClass map[string]int `json:"by_class,omitempty"`
	// Budget is the largest share of failed requests that passes, Used the share measured.
	Budget float64 `json:"budget"`
	Used   float64 `json:"used"`
	// Verdict is "pass" or "over_budget".
	Verdict string `json:"verdict"`
}
