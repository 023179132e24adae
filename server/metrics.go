package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gpt2bench/gpt2bench/engine"
)

// prefix starts every metric of ours: vLLM's names with "vllm:" replaced,
// so that a dashboard or query for one works on the other.
const prefix = "gpt2bench:"

// Histogram buckets, in seconds: vLLM's, with finer low buckets for a CPU's
// millisecond steps.
var (
	ttftBuckets    = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560}
	itlBuckets     = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80}
	phaseBuckets   = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680}
	stepTokBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}
	reqTokBuckets  = prometheus.ExponentialBuckets(1, 2, 15) // 1 .. 16384 tokens
)

// metrics are a server's Prometheus metrics, in its own registry.
type metrics struct {
	reg *prometheus.Registry

	http          *prometheus.CounterVec // by route and status code
	success       *prometheus.CounterVec // by finish reason
	ttft          prometheus.Histogram
	itl           prometheus.Histogram
	e2e           prometheus.Histogram
	queue         prometheus.Histogram
	prefill       prometheus.Histogram
	decode        prometheus.Histogram
	inference     prometheus.Histogram
	promptTokens  prometheus.Histogram
	genTokens     prometheus.Histogram
	stepTokens    prometheus.Histogram
	stepForward   prometheus.Histogram
	stepPrefill   prometheus.Counter
	stepDecodeRow prometheus.Counter
}

// newMetrics registers the server's metrics; engine-wide gauges and
// counters are read from Engine.Stats at scrape time.
func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	stats := func() engine.Stats {
		if e := s.Engine(); e != nil {
			return e.Stats()
		}
		return engine.Stats{}
	}
	gauge := func(name, help string, f func(engine.Stats) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: prefix + name, Help: help}, func() float64 { return f(stats()) }))
	}
	counter := func(name, help string, f func(engine.Stats) float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: prefix + name, Help: help}, func() float64 { return f(stats()) }))
	}
	gauge("num_requests_running", "Sequences in the engine's running batch.", func(st engine.Stats) float64 { return float64(st.Running) })
	gauge("num_requests_waiting", "Requests waiting to run (including preempted ones).", func(st engine.Stats) float64 { return float64(st.Waiting) })
	gauge("kv_cache_usage_perc", "Share of KV-cache blocks in use, 0..1.", engine.Stats.KVUsage)
	gauge("kv_cache_blocks_total", "KV-cache blocks in the pool.", func(st engine.Stats) float64 { return float64(st.BlocksTotal) })
	gauge("prefix_cache_blocks", "Full KV blocks findable in the prefix cache (in use or free and not yet evicted).", func(st engine.Stats) float64 { return float64(st.PrefixCachedBlocks) })
	counter("prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", func(st engine.Stats) float64 { return float64(st.PrefixQueriedTokens) })
	counter("prefix_cache_hits_total", "Prompt tokens found in the prefix cache.", func(st engine.Stats) float64 { return float64(st.PrefixHitTokens) })
	counter("prompt_tokens_total", "Prompt tokens run through the model (recomputed ones included).", func(st engine.Stats) float64 { return float64(st.PromptTokens) })
	counter("generation_tokens_total", "Tokens generated.", func(st engine.Stats) float64 { return float64(st.GenerationTokens) })
	counter("num_preemptions_total", "Sequences preempted (to be recomputed) for lack of KV blocks.", func(st engine.Stats) float64 { return float64(st.Preemptions) })
	counter("engine_steps_total", "Engine steps run.", func(st engine.Stats) float64 { return float64(st.Steps) })

	hist := func(name, help string, b []float64) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: prefix + name, Help: help, Buckets: b})
		reg.MustRegister(h)
		return h
	}
	m := &metrics{reg: reg}
	m.http = prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "http_requests_total", Help: "HTTP responses by route and status code."}, []string{"route", "code"})
	m.success = prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "request_success_total", Help: "Completion choices ended, by finish reason (stop, length, cancelled, error)."}, []string{"finished_reason"})
	reg.MustRegister(m.http, m.success)
	for _, r := range engine.FinishReasons() {
		m.success.WithLabelValues(string(r)) // present at 0
	}
	m.ttft = hist("time_to_first_token_seconds", "Time from arrival in the engine to the first token.", ttftBuckets)
	m.itl = hist("inter_token_latency_seconds", "Time between consecutive tokens of a request, as the engine sampled them.", itlBuckets)
	m.e2e = hist("e2e_request_latency_seconds", "Time from arrival in the engine to the last token.", phaseBuckets)
	m.queue = hist("request_queue_time_seconds", "Time from arrival to the first scheduled step.", phaseBuckets)
	m.prefill = hist("request_prefill_time_seconds", "Time from the first scheduled step to the first token.", phaseBuckets)
	m.decode = hist("request_decode_time_seconds", "Time from the first token to the last.", phaseBuckets)
	m.inference = hist("request_inference_time_seconds", "Time from the first scheduled step to the last token.", phaseBuckets)
	m.promptTokens = hist("request_prompt_tokens", "Prompt tokens per request.", reqTokBuckets)
	m.genTokens = hist("request_generation_tokens", "Tokens generated per request.", reqTokBuckets)
	m.stepTokens = hist("iteration_tokens_total", "Tokens run through the model per engine step (decodes and prompt chunks).", stepTokBuckets)
	m.stepForward = hist("step_forward_seconds", "Time of each engine step's forward pass.", itlBuckets)
	m.stepPrefill = prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "step_prefill_rows_total", Help: "Rows of prompt chunks in engine steps."})
	m.stepDecodeRow = prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "step_decode_rows_total", Help: "Rows of decoding sequences in engine steps."})
	reg.MustRegister(m.stepPrefill, m.stepDecodeRow)
	return m
}

// handler serves the registry in Prometheus' text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil, Registry: m.reg})
}

// observeStep records one engine step (called on the engine's goroutine).
func (m *metrics) observeStep(st engine.StepStats) {
	m.stepTokens.Observe(float64(st.Rows))
	m.stepForward.Observe(st.Forward.Seconds())
	m.stepPrefill.Add(float64(st.PrefillRows))
	m.stepDecodeRow.Add(float64(st.DecodeRows))
}

// observeChoice records one ended choice: its finish reason, and for a
// choice that completed (stop or length) its latencies and token counts.
func (m *metrics) observeChoice(reason string, t engine.Timings, finish time.Time, promptTokens, outTokens int, gaps []time.Duration) {
	m.success.WithLabelValues(reason).Inc()
	if reason != string(engine.FinishStop) && reason != string(engine.FinishLength) {
		return
	}
	sec := func(a, b time.Time) float64 {
		if a.IsZero() || b.IsZero() {
			return 0
		}
		return a.Sub(b).Seconds()
	}
	m.ttft.Observe(t.TTFT().Seconds())
	m.queue.Observe(t.Queue().Seconds())
	m.prefill.Observe(t.Prefill().Seconds())
	m.decode.Observe(sec(finish, t.FirstToken))
	m.e2e.Observe(sec(finish, t.Arrival))
	m.inference.Observe(sec(finish, t.FirstScheduled))
	m.promptTokens.Observe(float64(promptTokens))
	m.genTokens.Observe(float64(outTokens))
	for _, g := range gaps {
		m.itl.Observe(g.Seconds())
	}
}
