package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// Point is one load setting to measure.
type Point struct {
	// Arrival is report.ArrivalClosed, ArrivalPoisson or ArrivalConstant.
	Arrival string
	// Concurrency is the closed loop's requests in flight, or the open loop's cap (0 = no cap).
	Concurrency int
	// Rate is the open loop's planned requests/s.
	Rate float64
	// Burstiness is the gamma shape of Poisson gaps (1 = Poisson).
	Burstiness float64
	// Requests bounds the measured requests; 0 = bounded by Duration only.
	Requests int
	// Duration bounds the time new measured requests are sent; 0 = bounded by Requests only.
	Duration time.Duration
	// Warmup is the number of requests sent first (closed loop) and never counted.
	Warmup int
}

// Bounds on a point.
const (
	// MaxRequests bounds Point.Requests and the requests a duration-bounded point may send.
	MaxRequests = 1 << 20
	// pointStride separates the workload indices of consecutive points
	// (warm-up and measured requests of one point stay below it).
	pointStride = 2 * MaxRequests
	// MaxInFlight bounds the requests in flight of an open loop with no cap.
	MaxInFlight = 10000
)

// Check returns an error naming the first bad setting of p.
func (p Point) Check() error {
	switch p.Arrival {
	case report.ArrivalClosed:
		if p.Concurrency < 1 || p.Concurrency > MaxInFlight {
			return fmt.Errorf("concurrency %d: want 1 to %d", p.Concurrency, MaxInFlight)
		}
	case report.ArrivalPoisson, report.ArrivalConstant:
		if _, err := NewGaps(p.Arrival, p.Rate, max(p.Burstiness, 1e-300), 0); err != nil {
			return err
		}
		if p.Concurrency < 0 || p.Concurrency > MaxInFlight {
			return fmt.Errorf("concurrency cap %d: want 0 (none) to %d", p.Concurrency, MaxInFlight)
		}
	default:
		return fmt.Errorf("arrival %q: want closed, poisson or constant", p.Arrival)
	}
	switch {
	case p.Requests < 0 || p.Requests > MaxRequests:
		return fmt.Errorf("requests %d: want 0 to %d", p.Requests, MaxRequests)
	case p.Duration < 0:
		return fmt.Errorf("duration %v is negative", p.Duration)
	case p.Requests == 0 && p.Duration == 0:
		return errors.New("no bound: give a number of requests or a duration")
	case p.Warmup < 0 || p.Warmup > MaxRequests:
		return fmt.Errorf("warm-up %d: want 0 to %d", p.Warmup, MaxRequests)
	}
	return nil
}

// Options are what every point of a run shares.
type Options struct {
	Client   *Client
	Workload Workload
	// SLO, when not nil, defines a good request for goodput.
	SLO *report.LoadSLO
	// Seed seeds the arrival process (the workload has its own).
	Seed int64
	// Progress, when not nil, counts requests as they go (for a progress line).
	Progress *Progress
	// LagThreshold marks a point client-bound when the send lag p99 passes it; 0 means DefaultLagThreshold.
	LagThreshold time.Duration
	// CPUThreshold marks a point client-bound when the generator's CPU share passes it; 0 means DefaultCPUThreshold.
	CPUThreshold float64
}

// Client self-check defaults.
const (
	DefaultLagThreshold = 5 * time.Millisecond
	DefaultCPUThreshold = 0.9
)

// Progress counts the requests of the running point; safe for concurrent use.
type Progress struct {
	Done, InFlight, Failed, Tokens atomic.Int64
}

// PointResult is one measured point: its report entry and every request's record.
type PointResult struct {
	Point   report.LoadPoint
	Records []Record // warm-up first, then measured, in index order
	// Server is the first Server response header seen, "" when none.
}

// RunPoint sends p's warm-up requests (closed loop at p's concurrency, at
// least 1), then its measured requests, and summarises them. index is the
// point's place in the report. When ctx ends, RunPoint returns what was
// measured so far with ctx's error.
func RunPoint(ctx context.Context, o Options, p Point, index int) (PointResult, error) {
	if err := p.Check(); err != nil {
		return PointResult{}, err
	}
	if o.Client == nil || o.Workload == nil {
		return PointResult{}, errors.New("loadgen: no client or workload")
	}
	// Each point draws requests of its own: workload indices from
	// index*pointStride on. A server with a prefix cache (vLLM, llama.cpp,
	// gpt2bench serve) would otherwise serve a later point's prompts, the
	// same ones, from the cache an earlier point filled.
	base := index * pointStride
	var warm []Record
	var err error
	if p.Warmup > 0 {
		wp := Point{Arrival: report.ArrivalClosed, Concurrency: max(1, min(p.Concurrency, p.Warmup)), Requests: p.Warmup}
		if p.Concurrency == 0 {
			wp.Concurrency = min(p.Warmup, 8)
		}
		warm, err = closedLoop(ctx, o, wp, base, nil)
		for i := range warm {
			warm[i].Warmup, warm[i].Point = true, index
		}
		if err != nil {
			return PointResult{Records: warm}, err
		}
	}
	cpu0 := cpuTime()
	var recs []Record
	if p.Arrival == report.ArrivalClosed {
		recs, err = closedLoop(ctx, o, p, base+p.Warmup, o.Progress)
	} else {
		recs, err = openLoop(ctx, o, p, base+p.Warmup, o.Progress)
	}
	cpu := cpuTime() - cpu0
	for i := range recs {
		recs[i].Point = index
	}
	res := PointResult{Records: append(warm, recs...)}
	lag, cpuMax := o.thresholds()
	res.Point = Summarize(p, recs, o.SLO, cpu, lag, cpuMax)
	return res, err
}

func (o Options) thresholds() (time.Duration, float64) {
	lag, cpu := o.LagThreshold, o.CPUThreshold
	if lag == 0 {
		lag = DefaultLagThreshold
	}
	if cpu == 0 {
		cpu = DefaultCPUThreshold
	}
	return lag, cpu
}

// send runs one request into rec, with progress accounting.
func send(ctx context.Context, o Options, idx int, rec *Record, pr *Progress) error {
	rec.Index = idx
	if pr != nil {
		pr.InFlight.Add(1)
	}
	err := o.Client.Do(ctx, o.Workload.Request(idx), rec)
	if pr != nil {
		pr.InFlight.Add(-1)
		if err == nil {
			pr.Done.Add(1)
			if rec.Failed {
				pr.Failed.Add(1)
			} else {
				pr.Tokens.Add(int64(rec.outputTokens()))
			}
		}
	}
	return err
}

// closedLoop keeps p.Concurrency requests in flight until p's bounds, with
// workload indices from first. It returns the records sent, in index order.
func closedLoop(ctx context.Context, o Options, p Point, first int, pr *Progress) ([]Record, error) {
	limit := p.Requests
	if limit == 0 {
		limit = MaxRequests
	}
	recs := make([]Record, 0, min(limit, 1<<16))
	var (
		mu       sync.Mutex
		next     int
		firstErr error
	)
	start := time.Now()
	var deadline time.Time
	if p.Duration > 0 {
		deadline = start.Add(p.Duration)
	}
	// take hands out the next index, or false when a bound is reached.
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= limit || firstErr != nil || ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return 0, false
		}
		next++
		return next - 1, true
	}
	var wg sync.WaitGroup
	results := make([][]Record, p.Concurrency)
	for w := range p.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			free := time.Now()
			for {
				i, ok := take()
				if !ok {
					return
				}
				rec := Record{planned: free}
				if err := send(ctx, o, first+i, &rec, pr); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				results[w] = append(results[w], rec)
				free = rec.end
			}
		}()
	}
	wg.Wait()
	for _, rs := range results {
		recs = append(recs, rs...)
	}
	sortByIndex(recs)
	for i := range recs {
		recs[i].finish(start)
	}
	return recs, firstErr
}

// openLoop sends requests at the planned instants of p's arrival process,
// each in its own goroutine, at most p.Concurrency (or MaxInFlight) in
// flight; a request waiting for a slot still counts from its plan.
func openLoop(ctx context.Context, o Options, p Point, first int, pr *Progress) ([]Record, error) {
	gaps, err := NewGaps(p.Arrival, p.Rate, p.Burstiness, o.Seed+int64(first))
	if err != nil {
		return nil, err
	}
	limit := p.Requests
	if limit == 0 {
		limit = MaxRequests
	}
	slots := p.Concurrency
	if slots == 0 {
		slots = MaxInFlight
	}
	sem := make(chan struct{}, slots)
	recs := make([]*Record, 0, min(limit, 1<<16))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	planned := start
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
loop:
	for i := 0; i < limit; i++ {
		if i > 0 {
			planned = planned.Add(gaps.Next())
		}
		if p.Duration > 0 && planned.Sub(start) >= p.Duration {
			break
		}
		if d := time.Until(planned); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				break loop
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
		rec := &Record{planned: planned}
		recs = append(recs, rec)
		wg.Add(1)
		go func(idx int) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				rec.Index = idx
				mu.Lock()
				if firstErr == nil {
					firstErr = ctx.Err()
				}
				mu.Unlock()
				return
			}
			rec.slot = time.Now()
			err := send(ctx, o, idx, rec, pr)
			<-sem
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(first + i)
	}
	wg.Wait()
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		if r.sent.IsZero() {
			continue // never sent: cancelled while waiting
		}
		r.finish(start)
		out = append(out, *r)
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

func sortByIndex(recs []Record) {
	slices.SortFunc(recs, func(a, b Record) int { return a.Index - b.Index })
}

// Summarize makes the report entry of point p from its measured records
// (warm-up excluded), the generator's CPU time during them, and the
// client-bound thresholds.
func Summarize(p Point, recs []Record, slo *report.LoadSLO, cpu time.Duration, lagMax time.Duration, cpuMax float64) report.LoadPoint {
	lp := report.LoadPoint{
		Arrival: p.Arrival, Concurrency: p.Concurrency, Warmup: p.Warmup, Requests: len(recs),
		Errors: []report.LoadError{},
	}
	if p.Arrival != report.ArrivalClosed {
		lp.RequestRate = p.Rate
		if p.Arrival == report.ArrivalPoisson {
			lp.Burstiness = p.Burstiness
		}
	}
	var (
		ttft, tpot, itl, e2e, ttftPlan, e2ePlan, lag []float64
		begin, end                                   time.Time
		outTok, inTok, good                          int
		classes                                      = map[string]*report.LoadError{}
		order                                        []string
	)
	count := func(class, msg string) {
		e, ok := classes[class]
		if !ok {
			e = &report.LoadError{Class: class, Example: msg}
			classes[class] = e
			order = append(order, class)
		}
		e.Count++
	}
	var sv serverAcc
	for i := range recs {
		r := &recs[i]
		t0 := r.planned
		if r.sent.Before(t0) || t0.IsZero() {
			t0 = r.sent
		}
		if begin.IsZero() || t0.Before(begin) {
			begin = t0
		}
		if r.end.After(end) {
			end = r.end
		}
		ready := r.planned
		if r.slot.After(ready) {
			ready = r.slot
		}
		if !r.sent.IsZero() && !ready.IsZero() {
			lag = append(lag, math.Max(0, float64(r.sent.Sub(ready))/1e6))
		}
		if r.Failed {
			count(r.Class, r.Err)
			continue
		}
		lp.Completed++
		out := r.outputTokens()
		outTok += out
		if r.PromptTokens >= 0 {
			inTok += r.PromptTokens
		} else {
			inTok += r.InputLen
		}
		wrongLen := out != r.OutputLen
		if wrongLen {
			lp.OutputLenMismatches++
			count(report.ErrClassWrongLength, fmt.Sprintf("%d tokens generated, %d asked", out, r.OutputLen))
		}
		if r.InputLen > 0 && r.PromptTokens >= 0 && r.PromptTokens != r.InputLen {
			lp.PromptLenMismatches++
			count(report.ErrClassWrongPrompt, fmt.Sprintf("server counted %d prompt tokens, %d sent", r.PromptTokens, r.InputLen))
		}
		ttft = append(ttft, r.TTFTMs)
		e2e = append(e2e, r.E2EMs)
		if out > 1 && r.Events > 1 {
			tpot = append(tpot, r.TPOTMs)
		}
		itl = append(itl, r.ITLMs...)
		if p.Arrival != report.ArrivalClosed {
			ttftPlan = append(ttftPlan, r.TTFTFromPlanMs)
			e2ePlan = append(e2ePlan, r.E2EFromPlanMs)
		}
		if !wrongLen && meets(r, slo, p.Arrival != report.ArrivalClosed) {
			good++
		}
		sv.add(r)
	}
	lp.Failed = lp.Requests - lp.Completed
	for _, c := range order {
		lp.Errors = append(lp.Errors, *classes[c])
	}
	if !begin.IsZero() && end.After(begin) {
		lp.DurationS = end.Sub(begin).Seconds()
		lp.RequestsPerS = float64(lp.Completed) / lp.DurationS
		lp.OutputTokensPerS = float64(outTok) / lp.DurationS
		lp.TotalTokensPerS = float64(outTok+inTok) / lp.DurationS
		lp.GoodputRequestsPerS = float64(good) / lp.DurationS
	}
	if lp.Requests > 0 {
		lp.SLOAttainment = float64(good) / float64(lp.Requests)
	}
	lp.TTFT, lp.TPOT, lp.E2E = perRequest(ttft), perRequest(tpot), perRequest(e2e)
	lp.ITL = report.Summarize(itl)
	lp.ITL.SampleUnit = report.UnitTokenGap
	lp.ITL.Samples = []float64{} // pooled gaps are not independent samples; the records keep them
	if p.Arrival != report.ArrivalClosed {
		a, b := perRequest(ttftPlan), perRequest(e2ePlan)
		lp.TTFTFromPlan, lp.E2EFromPlan = &a, &b
	}
	lp.ServerView = sv.view()
	lp.Client.SendLag = perRequest(lag)
	lp.Client.CPUSeconds = cpu.Seconds()
	if lp.DurationS > 0 {
		lp.Client.CPUShare = lp.Client.CPUSeconds / (lp.DurationS * float64(runtime.GOMAXPROCS(0)))
	}
	lagMs := float64(lagMax) / 1e6
	switch {
	case lp.Client.SendLag.N > 0 && lp.Client.SendLag.P99 > lagMs:
		lp.Client.ClientBound = true
		lp.Client.Reason = fmt.Sprintf("send lag p99 %.2f ms > %.2f ms: the generator could not send on time", lp.Client.SendLag.P99, lagMs)
	case lp.Client.CPUShare > cpuMax:
		lp.Client.ClientBound = true
		lp.Client.Reason = fmt.Sprintf("generator CPU %.0f%% of GOMAXPROCS > %.0f%%", 100*lp.Client.CPUShare, 100*cpuMax)
	}
	return lp
}

// meets reports whether a completed request meets slo (true without one);
// open-loop latencies count from the plan.
func meets(r *Record, slo *report.LoadSLO, open bool) bool {
	if slo == nil {
		return true
	}
	ttft, e2e := r.TTFTMs, r.E2EMs
	if open {
		ttft, e2e = r.TTFTFromPlanMs, r.E2EFromPlanMs
	}
	return (slo.TTFTMs <= 0 || ttft <= slo.TTFTMs) &&
		(slo.TPOTMs <= 0 || r.TPOTMs <= slo.TPOTMs) &&
		(slo.E2EMs <= 0 || e2e <= slo.E2EMs)
}

// serverAcc gathers the server timings of completed requests.
type serverAcc struct {
	source                                       string
	n                                            int
	queue, prefill, ttft, itl, cITL, dTTFT, dITL []float64
}

func (s *serverAcc) add(r *Record) {
	st := r.Server
	if st == nil {
		return
	}
	if s.source == "" {
		s.source = st.Source
	}
	s.n++
	if st.QueueMs != nil {
		s.queue = append(s.queue, *st.QueueMs)
	}
	if st.PrefillMs != nil {
		s.prefill = append(s.prefill, *st.PrefillMs)
	}
	if st.TTFTMs != nil {
		s.ttft = append(s.ttft, *st.TTFTMs)
		s.dTTFT = append(s.dTTFT, r.TTFTMs-*st.TTFTMs)
	}
	if st.MeanITLMs != nil && len(r.ITLMs) > 0 {
		var sum float64
		for _, g := range r.ITLMs {
			sum += g
		}
		c := sum / float64(len(r.ITLMs))
		s.itl = append(s.itl, *st.MeanITLMs)
		s.cITL = append(s.cITL, c)
		s.dITL = append(s.dITL, c-*st.MeanITLMs)
	}
}

func (s *serverAcc) view() *report.LoadServerView {
	if s.n == 0 {
		return nil
	}
	return &report.LoadServerView{Source: s.source, Requests: s.n,
		QueueMs: perRequest(s.queue), PrefillMs: perRequest(s.prefill),
		TTFT: perRequest(s.ttft), ITL: perRequest(s.itl), ClientITL: perRequest(s.cITL),
		TTFTDiffMs: perRequest(s.dTTFT), ITLDiffMs: perRequest(s.dITL)}
}

// perRequest summarises one sample per request: independent samples.
func perRequest(samples []float64) report.Summary {
	s := report.Summarize(samples)
	s.SampleUnit = report.UnitRequest
	return s
}
