package bench

import (
	"context"
	"fmt"
	"runtime/trace"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/model"
)

// RunTiming is the timeline of one generation: its start and the arrival
// time of each generated token.
type RunTiming struct {
	Start  time.Time
	Tokens []time.Time // [N_out] when token i was available (monotonic clock)
}

// ms converts a duration to float64 milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// TTFT returns the time to first token: Tokens[0] - Start.
func (r RunTiming) TTFT() time.Duration { return r.Tokens[0].Sub(r.Start) }

// E2E returns the end-to-end latency: Tokens[N_out-1] - Start.
func (r RunTiming) E2E() time.Duration { return r.Tokens[len(r.Tokens)-1].Sub(r.Start) }

// TPOT returns the time per output token after the first,
// (E2E - TTFT) / (N_out - 1), and false when N_out < 2.
func (r RunTiming) TPOT() (time.Duration, bool) {
	n := len(r.Tokens)
	if n < 2 {
		return 0, false
	}
	return (r.E2E() - r.TTFT()) / time.Duration(n-1), true
}

// ITL returns every gap between consecutive tokens: Tokens[i] - Tokens[i-1]
// for i = 1..N_out-1.
func (r RunTiming) ITL() []time.Duration {
	if len(r.Tokens) < 2 {
		return nil
	}
	gaps := make([]time.Duration, len(r.Tokens)-1)
	for i := range gaps {
		gaps[i] = r.Tokens[i+1].Sub(r.Tokens[i])
	}
	return gaps
}

// summarize is report.Summarize with the unit of a sample recorded.
func summarize(samples []float64, unit string) report.Summary {
	s := report.Summarize(samples)
	s.SampleUnit = unit
	return s
}

// LatencyStats summarises the measured runs of one input length (all with
// the same number of tokens) into a report.Latency, using the definitions
// in the package documentation. ITL pools the gaps of every run (unit
// "token gap": for percentiles, not for tests); ITLRunMedian and every
// other metric have one sample per run. Runs with no tokens are ignored.
func LatencyStats(inputLen, outputLen int, runs []RunTiming) report.Latency {
	var ttft, tpot, itl, itlMed, e2e, prefill, decode []float64
	n := 0
	for _, r := range runs {
		if len(r.Tokens) == 0 {
			continue
		}
		n++
		t, e := r.TTFT(), r.E2E()
		ttft = append(ttft, ms(t))
		e2e = append(e2e, ms(e))
		if t > 0 {
			prefill = append(prefill, float64(inputLen)/t.Seconds())
		}
		if p, ok := r.TPOT(); ok {
			tpot = append(tpot, ms(p))
			if d := e - t; d > 0 {
				decode = append(decode, float64(len(r.Tokens)-1)/d.Seconds())
			}
		}
		gaps := r.ITL()
		for _, g := range gaps {
			itl = append(itl, ms(g))
		}
		if len(gaps) > 0 {
			itlMed = append(itlMed, report.Percentile(itl[len(itl)-len(gaps):], 50))
		}
	}
	med := summarize(itlMed, report.UnitRun)
	return report.Latency{
		InputLen:          inputLen,
		OutputLen:         outputLen,
		Runs:              n,
		TTFT:              summarize(ttft, report.UnitRun),
		TPOT:              summarize(tpot, report.UnitRun),
		ITL:               summarize(itl, report.UnitTokenGap),
		ITLRunMedian:      &med,
		E2E:               summarize(e2e, report.UnitRun),
		PrefillTokensPerS: summarize(prefill, report.UnitRun),
		DecodeTokensPerS:  summarize(decode, report.UnitRun),
	}
}

// timedGenerate runs one generation of exactly n tokens per sequence on be
// (EOS ignored) and returns its timeline. Timestamps are taken in OnToken,
// right after each token is sampled; onToken, if set, runs after the
// timestamp (memory sampling). tr, if set, receives the sampling op.
func timedGenerate(ctx context.Context, be model.Backend, prompts [][]int32, n int, seed int64, onToken func(step int), tr model.Tracer) (RunTiming, error) {
	rt := RunTiming{Tokens: make([]time.Time, 0, n)}
	opts := model.GenerateOptions{
		MaxNewTokens: n,
		Sampling:     model.SampleOptions{Seed: uint64(seed)}, // greedy: the cost of sampling without its variance
		StopAtEOS:    false,
		Tracer:       tr,
		OnToken: func(step int, _ []int32) error {
			rt.Tokens = append(rt.Tokens, time.Now())
			if onToken != nil {
				onToken(step)
			}
			return nil
		},
	}
	if trace.IsEnabled() { // under --trace, each generation is its own task
		var task *trace.Task
		ctx, task = trace.NewTask(ctx, "bench: generation")
		defer task.End()
	}
	rt.Start = time.Now()
	out, err := model.Generate(ctx, be, prompts, opts)
	if err != nil {
		return rt, err
	}
	if len(rt.Tokens) != n || len(out) == 0 || len(out[0]) != n {
		return rt, fmt.Errorf("bench: generation returned %d tokens, want exactly %d", len(rt.Tokens), n)
	}
	return rt, nil
}
