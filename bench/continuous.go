package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/engine"
)

// streamContinuous seeds the prompts of the continuous mode.
const streamContinuous = 4 << 32

// continuousRequest is one measured request of the continuous mode.
type continuousRequest struct {
	start  time.Time   // submission (planned arrival in an open loop)
	tokens []time.Time // when the engine sampled each token
	err    error
}

// stepTotals accumulates the engine's steps while requests are measured.
type stepTotals struct {
	mu                      sync.Mutex
	on                      bool
	steps                   int64
	rows                    []float64
	prefill, decode         int64
	preempt                 int64
	queried, hit            int64
	fwd, schedule, sampling time.Duration
}

func (s *stepTotals) add(st engine.StepStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.on {
		return
	}
	s.steps++
	s.rows = append(s.rows, float64(st.Rows))
	s.prefill += int64(st.PrefillRows)
	s.decode += int64(st.DecodeRows)
	s.preempt += int64(st.Preemptions)
	s.queried += int64(st.PrefixQueried)
	s.hit += int64(st.PrefixHit)
	s.fwd += st.Forward
	s.schedule += st.Schedule
	s.sampling += st.Sample
}

func (s *stepTotals) set(on bool) {
	s.mu.Lock()
	s.on = on
	s.mu.Unlock()
}

// continuous runs requests of T prompt tokens and OutputLen new tokens
// through the continuous-batching engine in process: a closed loop of c
// workers (each sends its next request when the last one ends), or, with
// rate > 0, an open loop of Poisson arrivals at rate requests/s. Warm-up
// requests (Warmup per worker, or per 8 requests of an open loop) run
// first and are not counted. Each request's latency counts from its
// submission, in an open loop from its planned arrival.
func (b *runner) continuous(ctx context.Context, T, c int, rate float64) (report.Throughput, error) {
	if b.env.NewContinuous == nil {
		return report.Throughput{}, ErrNoRaggedStep
	}
	N := b.opts.OutputLen
	measured := c * b.opts.Runs
	warm := c * b.opts.Warmup
	title := fmt.Sprintf("through. continuous %d", c)
	if rate > 0 {
		measured = rateRequests * b.opts.Runs
		warm = min(b.opts.Warmup, 1) * rateRequests
		title = fmt.Sprintf("through. continuous %g req/s", rate)
	}
	b.start(title, warm+measured)
	defer b.finish()

	var totals stepTotals
	cfg := b.opts.Engine
	cfg.OnStep = totals.add
	cfg.MaxSeqLen = T + N // an automatic cache holds what these requests need, not the full context
	e, err := b.env.NewContinuous(cfg)
	if err != nil {
		return report.Throughput{}, err
	}
	defer e.Close()
	prompts := b.prompts(streamContinuous+uint64(c)<<16+uint64(rate*1000)<<24, warm+measured, T)
	req := func(i int) engine.Request {
		return engine.Request{Prompt: prompts[i], MaxTokens: N, IgnoreEOS: true}
	}
	var mu sync.Mutex // guards the progress
	step := func() {
		mu.Lock()
		b.step()
		mu.Unlock()
	}
	// Warm-up: every request at once, unmeasured.
	if warm > 0 {
		res := make([]continuousRequest, warm)
		var wg sync.WaitGroup
		for i := range warm {
			wg.Go(func() {
				res[i] = runContinuous(ctx, e, req(i), time.Now())
				step()
			})
		}
		wg.Wait()
		for _, r := range res {
			if r.err != nil {
				if err := ctx.Err(); err != nil {
					return report.Throughput{}, err
				}
				return report.Throughput{}, fmt.Errorf("warm-up: %w", r.err)
			}
		}
	}
	totals.set(true)
	reqs := make([]continuousRequest, measured)
	var wg sync.WaitGroup
	if rate > 0 {
		gaps := rand.New(rand.NewPCG(uint64(b.opts.Seed), streamContinuous))
		next := time.Now()
		for i := range measured {
			if i > 0 {
				next = next.Add(time.Duration(gaps.ExpFloat64() / rate * float64(time.Second)))
			}
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
			if ctx.Err() != nil {
				reqs = reqs[:i]
				break
			}
			planned := next // latency counts from the plan, not from when the goroutine runs
			wg.Go(func() {
				reqs[i] = runContinuous(ctx, e, req(warm+i), planned)
				step()
			})
		}
	} else {
		for w := range c {
			wg.Go(func() {
				for j := range b.opts.Runs {
					i := w*b.opts.Runs + j
					if ctx.Err() != nil {
						reqs[i].err = ctx.Err()
						continue
					}
					reqs[i] = runContinuous(ctx, e, req(warm+i), time.Now())
					step()
				}
			})
		}
	}
	wg.Wait()
	totals.set(false)
	if err := ctx.Err(); err != nil {
		return report.Throughput{}, err
	}
	t := continuousStats(c, rate, T, N, reqs)
	t.Engine = totals.report(e.Config())
	return t, nil
}

// rateRequests is the number of measured requests of an open-loop
// continuous run per measured run (Options.Runs).
const rateRequests = 8

// ErrNoRaggedStep is returned for the continuous mode on a backend that
// the continuous-batching engine does not run on.
var ErrNoRaggedStep = errors.New("bench: the continuous-batching engine runs its ragged steps on the cpu backend only (not yet on this one); drop --continuous or use --backend cpu")

// runContinuous submits one request and waits for its tokens.
func runContinuous(ctx context.Context, e *engine.Engine, r engine.Request, start time.Time) continuousRequest {
	out := continuousRequest{start: start, tokens: make([]time.Time, 0, r.MaxTokens)}
	s, err := e.Submit(ctx, r)
	if err != nil {
		out.err = err
		return out
	}
	for tok := range s.Tokens() {
		out.tokens = append(out.tokens, tok.Time)
	}
	res := s.Result()
	switch {
	case res.Err != nil:
		out.err = res.Err
	case len(out.tokens) != r.MaxTokens:
		out.err = fmt.Errorf("bench: request ended %s after %d tokens, want %d", res.Reason, len(out.tokens), r.MaxTokens)
	}
	return out
}

// continuousStats turns the measured requests into a report.Throughput:
// the phase lasts from the first submission to the last token; rates
// count successful requests; TTFT, TPOT and E2E are per request.
func continuousStats(c int, rate float64, T, N int, reqs []continuousRequest) report.Throughput {
	t := report.Throughput{Mode: report.ModeContinuous, Concurrency: c, BatchSize: 1, InputLen: T, OutputLen: N, RequestRate: rate}
	var first, last time.Time
	var ttft, tpot, itl, e2e []float64
	ok := 0
	for _, r := range reqs {
		t.Requests++
		if first.IsZero() || r.start.Before(first) {
			first = r.start
		}
		if r.err != nil || len(r.tokens) == 0 {
			t.Failed++
			continue
		}
		end := r.tokens[len(r.tokens)-1]
		if end.After(last) {
			last = end
		}
		ok++
		ttft = append(ttft, ms(r.tokens[0].Sub(r.start)))
		e2e = append(e2e, ms(end.Sub(r.start)))
		if n := len(r.tokens); n > 1 {
			tpot = append(tpot, ms(end.Sub(r.tokens[0]))/float64(n-1))
			for i := 1; i < n; i++ {
				itl = append(itl, ms(r.tokens[i].Sub(r.tokens[i-1])))
			}
		}
	}
	unit := func(s report.Summary, u string) *report.Summary {
		s.SampleUnit = u
		return &s
	}
	t.Latency = *unit(report.Summarize(e2e), report.UnitRequest)
	t.TTFT = unit(report.Summarize(ttft), report.UnitRequest)
	t.TPOT = unit(report.Summarize(tpot), report.UnitRequest)
	t.ITL = unit(report.Summarize(itl), report.UnitTokenGap)
	if d := last.Sub(first); d > 0 {
		t.DurationS = d.Seconds()
		t.RequestsPerS = float64(ok) / t.DurationS
		t.OutputTokensPerS = float64(ok*N) / t.DurationS
		t.TotalTokensPerS = float64(ok*(T+N)) / t.DurationS
	}
	return t
}

// report summarises the steps of the measured window.
func (s *stepTotals) report(cfg engine.Config) *report.EngineSteps {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := report.Summarize(s.rows)
	rs.SampleUnit = "step"
	out := &report.EngineSteps{
		MaxNumSeqs: cfg.MaxNumSeqs, MaxNumBatchedTokens: cfg.MaxNumBatchedTokens, KVCacheBytes: cfg.KVCacheBytes,
		BlockSize: cfg.BlockSize, PrefixCache: !cfg.NoPrefixCache,
		Steps: s.steps, RowsPerStep: rs, PrefillRows: s.prefill, DecodeRows: s.decode, Preemptions: s.preempt,
		PrefixQueriedTokens: s.queried, PrefixHitTokens: s.hit,
	}
	if total := s.fwd + s.schedule + s.sampling; total > 0 {
		out.ForwardShare = s.fwd.Seconds() / total.Seconds()
		out.ScheduleShare = s.schedule.Seconds() / total.Seconds()
		out.SampleShare = s.sampling.Seconds() / total.Seconds()
	}
	return out
}

// continuousModes lists the closed-loop concurrencies of the continuous
// mode, without repeats.
func continuousModes(o Options) []int {
	var out []int
	for _, c := range o.Continuous {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
