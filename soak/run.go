package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/loadgen"
)

// Options configure a soak. Zero durations take the automatic values
// documented on each field.
type Options struct {
	// Client is the load's client; Model must be set.
	Client loadgen.ClientOptions
	// Workload gives the requests; Vocab bounds the ids of the faults' prompts.
	Workload loadgen.Workload
	Vocab    int
	// Concurrency is the closed loop's requests in flight; with Rate > 0
	// (open loop, Poisson arrivals) the cap on them (0: none).
	Concurrency int
	Rate        float64
	Seed        int64
	// Duration is the time requests are sent (then the ones in flight
	// finish, for at most DrainTimeout).
	Duration time.Duration
	// Warmup is left out of the leak and drift verdicts; 0: Duration/6
	// within [5s, 10m].
	Warmup time.Duration
	// SampleInterval is the time between resource samples; 0: Duration/120 within [1s, 5s].
	SampleInterval time.Duration
	// Window is the width of a latency window; 0: Duration/60 within [SampleInterval, 10m].
	Window time.Duration
	// Samplers read the resources; none: client-side figures only.
	Samplers []Sampler
	// Server, when set, is the in-process server: the target of the restart fault.
	Server *InProcess
	// Faults are the kinds injected (report.Fault* constants), in turn
	// every FaultInterval after the warm-up; restart happens once, half-way.
	// FaultInterval 0: (Duration-Warmup)/10 within [3s, 15m].
	Faults        []string
	FaultInterval time.Duration
	// FaultSettle bounds the wait for the resources to return to their
	// level before a fault; 0: 30s.
	FaultSettle time.Duration
	// DrainTimeout bounds the restart's drain and the end's wait for
	// requests in flight; 0: 60s.
	DrainTimeout time.Duration
	// BurstSize is the burst fault's requests sent at once (more than the
	// server's queue and running batch); ContextLen the context the
	// over-context fault exceeds.
	BurstSize  int
	ContextLen int
	// Thresholds override DefaultThresholds per resource (growth per
	// hour), MinGrowth DefaultMinGrowth (growth over the samples judged).
	Thresholds, MinGrowth map[string]float64
	// DriftAlpha, DriftThreshold and DriftMinMs gate drift (0: 0.01,
	// 0.25 and 1 ms; a negative DriftMinMs is 0); ErrorBudget is the
	// largest share of failed requests (0: 0.001).
	DriftAlpha, DriftThreshold, DriftMinMs, ErrorBudget float64
	// Records, if set, receives each request's loadgen.Record as a JSON
	// line as soon as it ends. The soak itself keeps only a compact
	// summary of each request (about 100 bytes), so that in process its
	// own bookkeeping does not look like the server's leak.
	Records io.Writer
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// Defaults of Options.
const (
	DefaultFaultSettle    = 30 * time.Second
	DefaultDrainTimeout   = 60 * time.Second
	DefaultDriftAlpha     = 0.01
	DefaultDriftThreshold = 0.25
	DefaultDriftMinMs     = 1.0
	DefaultErrorBudget    = 0.001
)

// failureBackoff is how long a closed-loop worker waits after a failed request.
const failureBackoff = 100 * time.Millisecond

// AllFaults lists the fault kinds in the order they are injected.
var AllFaults = []string{report.FaultDisconnect, report.FaultMalformed, report.FaultOverContext, report.FaultBurst, report.FaultRestart}

func clampDur(d, lo, hi time.Duration) time.Duration { return max(lo, min(hi, d)) }

// withDefaults fills the automatic values and checks o.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Workload == nil:
		return o, errors.New("soak: no workload")
	case o.Duration <= 0:
		return o, fmt.Errorf("soak: duration %v, want > 0", o.Duration)
	case o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0):
		return o, fmt.Errorf("soak: request rate %v, want >= 0", o.Rate)
	case o.Rate == 0 && o.Concurrency < 1:
		return o, fmt.Errorf("soak: concurrency %d, want >= 1 in a closed loop", o.Concurrency)
	case o.Warmup < 0 || o.SampleInterval < 0 || o.Window < 0 || o.FaultInterval < 0 || o.FaultSettle < 0 || o.DrainTimeout < 0:
		return o, errors.New("soak: durations must be >= 0")
	}
	if o.Warmup == 0 {
		o.Warmup = clampDur(o.Duration/6, 5*time.Second, 10*time.Minute)
	}
	if o.Warmup >= o.Duration {
		return o, fmt.Errorf("soak: warm-up %v leaves nothing of the %v soak to judge; shorten it", o.Warmup, o.Duration)
	}
	if o.SampleInterval == 0 {
		o.SampleInterval = clampDur(o.Duration/120, time.Second, 5*time.Second)
	}
	if o.Window == 0 {
		o.Window = clampDur(o.Duration/60, o.SampleInterval, 10*time.Minute)
	}
	if o.FaultInterval == 0 {
		o.FaultInterval = clampDur((o.Duration-o.Warmup)/10, 3*time.Second, 15*time.Minute)
	}
	if o.FaultSettle == 0 {
		o.FaultSettle = DefaultFaultSettle
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.DriftAlpha == 0 {
		o.DriftAlpha = DefaultDriftAlpha
	}
	if o.DriftThreshold == 0 {
		o.DriftThreshold = DefaultDriftThreshold
	}
	switch {
	case o.DriftMinMs == 0:
		o.DriftMinMs = DefaultDriftMinMs
	case o.DriftMinMs < 0:
		o.DriftMinMs = 0
	}
	if o.ErrorBudget == 0 {
		o.ErrorBudget = DefaultErrorBudget
	}
	if o.BurstSize == 0 {
		o.BurstSize = 256
	}
	if o.ContextLen == 0 {
		o.ContextLen = 1024
	}
	if o.Vocab == 0 {
		o.Vocab = 50257
	}
	th := maps.Clone(DefaultThresholds)
	maps.Copy(th, o.Thresholds)
	o.Thresholds = th
	mg := maps.Clone(DefaultMinGrowth)
	maps.Copy(mg, o.MinGrowth)
	o.MinGrowth = mg
	for _, f := range o.Faults {
		if !slices.Contains(AllFaults, f) {
			return o, fmt.Errorf("soak: unknown fault %q; want %s", f, strings.Join(AllFaults, ", "))
		}
		if f == report.FaultRestart && o.Server == nil {
			return o, errors.New("soak: the restart fault needs the in-process server; drop it with --url")
		}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o, nil
}

// run is one soak in progress.
type run struct {
	o      Options
	start  time.Time
	parent context.Context // the caller's: its end is an interruption

	mu      sync.Mutex
	reqs    []reqStat     // every request that ended, compact
	enc     *json.Encoder // onto Options.Records
	encErr  error
	times   []float64            // sample times, s
	vals    map[string][]float64 // resource -> values
	order   []string             // resources present, in resourceOrder
	faults  []report.SoakFault
	errOnce map[string]bool // samplers whose error was logged
}

// reqStat is what the soak keeps of one request.
type reqStat struct {
	sentS, endS    float64   // from the start
	ttft, e2e, itl float32   // ms; itl is the request's median gap
	gaps           []float32 // ms, for the windows' pooled ITL
	tokens         int32
	class          string
	failed         bool
}

// statOf compacts a record.
func statOf(rec *loadgen.Record) reqStat {
	st := reqStat{sentS: rec.SentMs / 1e3, endS: rec.EndMs / 1e3, ttft: float32(rec.TTFTMs), e2e: float32(rec.E2EMs),
		itl: float32(median(rec.ITLMs)), tokens: int32(max(rec.CompletionTokens, 0)), class: rec.Class, failed: rec.Failed}
	if len(rec.ITLMs) > 0 {
		st.gaps = make([]float32, len(rec.ITLMs))
		for i, g := range rec.ITLMs {
			st.gaps[i] = float32(g)
		}
	}
	return st
}

// Run soaks the server: load for o.Duration, resources every
// o.SampleInterval, faults on their schedule, then the verdicts. It
// returns the soak section (and writes every request's record to
// o.Records). When ctx ends early it returns what was measured with ctx's
// error; an error writing the records is returned after the soak.
func Run(ctx context.Context, o Options) (*report.Soak, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	client, err := loadgen.NewClient(o.Client)
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer client.Close()
	r := &run{o: o, parent: ctx, vals: map[string][]float64{}, errOnce: map[string]bool{}}
	if o.Records != nil {
		r.enc = json.NewEncoder(o.Records)
	}
	r.start = time.Now()
	deadline := r.start.Add(o.Duration)
	sendCtx, stopSending := context.WithDeadline(ctx, deadline)
	defer stopSending()
	reqCtx, cancelReqs := context.WithCancel(ctx)
	defer cancelReqs()

	r.sample(ctx)
	var bg sync.WaitGroup
	samplingDone := make(chan struct{})
	bg.Add(1)
	go func() { // resources
		defer bg.Done()
		t := time.NewTicker(o.SampleInterval)
		defer t.Stop()
		for {
			select {
			case <-samplingDone:
				return
			case <-t.C:
				r.sample(ctx)
			}
		}
	}()
	bg.Add(1)
	go func() { // progress
		defer bg.Done()
		every := max(o.Window, o.Duration/20)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-sendCtx.Done():
				return
			case <-t.C:
				r.progress()
			}
		}
	}()
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		r.runFaults(sendCtx, reqCtx)
	}()

	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		r.load(sendCtx, reqCtx, client)
	}()
	<-sendCtx.Done()
	// requests in flight finish, for at most DrainTimeout
	drain := time.NewTimer(o.DrainTimeout)
	select {
	case <-loadDone:
	case <-drain.C:
		o.Logf("soak: requests still in flight after the %v drain timeout; cancelling them\n", o.DrainTimeout)
		cancelReqs()
		<-loadDone
	}
	drain.Stop()
	<-faultsDone
	r.sample(ctx)
	close(samplingDone)
	bg.Wait()
	elapsed := time.Since(r.start)
	s := r.section(elapsed)
	if ctx.Err() != nil {
		return s, ctx.Err()
	}
	if r.encErr != nil {
		return s, fmt.Errorf("soak: records: %w", r.encErr)
	}
	return s, nil
}

// load sends the requests until sendCtx ends: a closed loop of
// Concurrency workers, or Poisson arrivals at Rate.
func (r *run) load(sendCtx, reqCtx context.Context, client *loadgen.Client) {
	var (
		wg   sync.WaitGroup
		next int
		nmu  sync.Mutex
	)
	index := func() int {
		nmu.Lock()
		defer nmu.Unlock()
		next++
		return next - 1
	}
	one := func(planned time.Time) (failed bool) {
		i := index()
		rec, err := client.Send(reqCtx, r.o.Workload.Request(i), planned, r.start)
		rec.Index = i
		switch {
		case err == nil:
		case r.parent.Err() != nil:
			return false // interrupted (Ctrl-C): not the server's doing
		case reqCtx.Err() != nil:
			rec.Class, rec.Err, rec.Failed = "incomplete", fmt.Sprintf("still running when the soak ended and its %v drain timeout passed", r.o.DrainTimeout), true
		default:
			rec.Class, rec.Err, rec.Failed = "client", err.Error(), true
		}
		st := statOf(&rec)
		r.mu.Lock()
		r.reqs = append(r.reqs, st)
		if r.enc != nil && r.encErr == nil {
			r.encErr = r.enc.Encode(&rec)
		}
		r.mu.Unlock()
		return rec.Failed
	}
	if r.o.Rate == 0 {
		for range r.o.Concurrency {
			wg.Go(func() {
				pause := time.NewTimer(0)
				defer pause.Stop()
				free := time.Now()
				for sendCtx.Err() == nil {
					if one(free) {
						// a worker whose request failed waits before the
						// next, as a client would: a refused connection
						// (a restart) or a 429 answers in microseconds,
						// and a closed loop would spin thousands of times
						pause.Reset(failureBackoff)
						select {
						case <-sendCtx.Done():
						case <-pause.C:
						}
					}
					free = time.Now()
				}
			})
		}
		wg.Wait()
		return
	}
	gaps, err := loadgen.NewGaps(report.ArrivalPoisson, r.o.Rate, 1, r.o.Seed)
	if err != nil {
		r.o.Logf("soak: %v\n", err)
		return
	}
	slots := r.o.Concurrency
	if slots <= 0 {
		slots = loadgen.MaxInFlight
	}
	sem := make(chan struct{}, slots)
	planned := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		planned = planned.Add(gaps.Next())
		if !planned.Before(r.start.Add(r.o.Duration)) {
			break
		}
		timer.Reset(time.Until(planned))
		select {
		case <-sendCtx.Done():
		case <-timer.C:
		}
		if sendCtx.Err() != nil {
			break
		}
		due := planned
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-reqCtx.Done():
				return
			}
			defer func() { <-sem }()
			one(due)
		})
	}
	wg.Wait()
}

// sample reads every sampler once and appends the values.
func (r *run) sample(ctx context.Context) {
	t := time.Since(r.start).Seconds()
	vals := r.read(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.times) == 0 {
		for _, name := range resourceOrder {
			if _, ok := vals[name]; ok {
				r.order = append(r.order, name)
			}
		}
	}
	if len(r.order) == 0 {
		return
	}
	r.times = append(r.times, t)
	for _, name := range r.order {
		v, ok := vals[name]
		if !ok { // a missing reading repeats the previous one
			if prev := r.vals[name]; len(prev) > 0 {
				v = prev[len(prev)-1]
			}
		}
		r.vals[name] = append(r.vals[name], v)
	}
}

// read returns the merged values of every sampler.
func (r *run) read(ctx context.Context) map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.o.Samplers {
		v, err := s.Sample(ctx)
		if err != nil {
			r.mu.Lock()
			first := !r.errOnce[s.Source()]
			r.errOnce[s.Source()] = true
			r.mu.Unlock()
			if first {
				r.o.Logf("soak: warning: sampling %s: %v (further errors of it not shown)\n", s.Source(), err)
			}
		}
		for k, x := range v {
			if _, set := out[k]; !set && !math.IsNaN(x) && !math.IsInf(x, 0) {
				out[k] = x
			}
		}
	}
	return out
}

// progress logs one line: time, requests, the last window's figures and the resources.
func (r *run) progress() {
	el := time.Since(r.start)
	r.mu.Lock()
	n, failed, tok := len(r.reqs), 0, 0
	var ttft []float64
	from := el.Seconds() - r.o.Window.Seconds()
	for i := range r.reqs {
		rq := &r.reqs[i]
		if rq.failed {
			failed++
			continue
		}
		if rq.endS >= from {
			tok += int(rq.tokens)
			ttft = append(ttft, float64(rq.ttft))
		}
	}
	var res []string
	for _, name := range []string{ResRSS, ResHeapLive, ResGoroutines, ResKVBlocksUsed} {
		if v := r.vals[name]; len(v) > 0 {
			res = append(res, fmt.Sprintf("%s %s", name, fmtValue(v[len(v)-1], resourceUnit[name])))
		}
	}
	r.mu.Unlock()
	line := fmt.Sprintf("soak %s/%s: %d requests (%d failed), last %v: %.1f output tok/s",
		el.Truncate(time.Second), r.o.Duration, n, failed, r.o.Window, float64(tok)/r.o.Window.Seconds())
	if len(ttft) > 0 {
		line += fmt.Sprintf(", TTFT p50 %.1f ms", median(ttft))
	}
	if len(res) > 0 {
		line += "; " + strings.Join(res, ", ")
	}
	r.o.Logf("%s\n", line)
}

// fmtValue formats a resource value for a log line.
func fmtValue(v float64, unit string) string {
	if unit == "bytes" {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmt.Sprintf("%.0f", v)
}

// section builds the report's soak section from what was measured.
func (r *run) section(elapsed time.Duration) *report.Soak {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.o
	sort.SliceStable(r.reqs, func(a, b int) bool { return r.reqs[a].sentS < r.reqs[b].sentS })
	s := &report.Soak{
		Target: "url", URL: o.Client.BaseURL, Workload: workloadInfo(o), Arrival: report.ArrivalClosed, Concurrency: o.Concurrency,
		DurationS: o.Duration.Seconds(), ElapsedS: elapsed.Seconds(), WarmupS: o.Warmup.Seconds(),
		SampleIntervalS: o.SampleInterval.Seconds(), WindowS: o.Window.Seconds(),
		SampleTimesS: slices.Clone(r.times), Faults: slices.Clone(r.faults),
	}
	if o.Server != nil {
		s.Target = "in-process"
	}
	if o.Rate > 0 {
		s.Arrival, s.RequestRate = report.ArrivalPoisson, o.Rate
	}
	for _, sm := range o.Samplers {
		s.Sources = append(s.Sources, sm.Source())
		if p, ok := sm.(ProcSampler); ok && p.PID != 0 {
			s.PID = p.PID
		}
	}
	// samples inside a fault's window
	inFault := func(t float64) bool {
		for _, f := range r.faults {
			end := f.EndS + o.FaultSettle.Seconds()
			if f.RecoveredS >= 0 {
				end = f.EndS + f.RecoveredS
			}
			if t >= f.StartS && t <= end+o.SampleInterval.Seconds() {
				return true
			}
		}
		return false
	}
	for _, t := range r.times {
		s.InFault = append(s.InFault, inFault(t))
	}
	for _, name := range r.order {
		s.Resources = append(s.Resources, report.SoakSeries{Name: name, Unit: resourceUnit[name], Cumulative: cumulative[name], Values: slices.Clone(r.vals[name])})
	}

	// leaks
	for _, name := range r.order {
		th, ok := o.Thresholds[name]
		if !ok || cumulative[name] {
			continue
		}
		var ts, vs []float64
		for i, t := range r.times {
			if t >= s.WarmupS && !s.InFault[i] {
				ts = append(ts, t)
				vs = append(vs, r.vals[name][i])
			}
		}
		l := leakVerdict(name, resourceUnit[name], ts, vs, th, o.MinGrowth[name])
		s.Leaks = append(s.Leaks, l)
		if l.Verdict == report.VerdictLeak {
			s.Failures = append(s.Failures, fmt.Sprintf("leak: %s grows %s per hour (95%% CI %s to %s; threshold %s)", name,
				fmtValue(l.SlopePerHour, l.Unit), fmtValue(l.CILowPerHour, l.Unit), fmtValue(l.CIHighPerHour, l.Unit), fmtValue(th, l.Unit)))
		}
	}

	// windows
	w := o.Window.Seconds()
	nw := max(1, int(math.Round(elapsed.Seconds()/w))) // a short last piece joins the window before
	type acc struct {
		n, failed, tokens int
		ttft, itl, e2e    []float64
	}
	accs := make([]acc, nw)
	duringFault := func(rq *reqStat) bool {
		a, b := rq.sentS, rq.endS
		for _, f := range r.faults {
			end := f.EndS + 1
			if f.RecoveredS > 0 {
				end += f.RecoveredS
			}
			if b >= f.StartS-0.5 && a <= end {
				return true
			}
		}
		return false
	}
	budget := report.SoakErrorBudget{Budget: o.ErrorBudget, ByClass: map[string]int{}}
	var firstReqs, lastReqs []*reqStat
	for i := range r.reqs {
		rq := &r.reqs[i]
		k := min(max(int(rq.endS/w), 0), nw-1)
		a := &accs[k]
		a.n++
		s.Requests++
		budget.Requests++
		if rq.failed {
			a.failed++
			s.Failed++
			clear := strings.HasPrefix(rq.class, "http_") || rq.class == report.ErrClassConnection
			if clear && duringFault(rq) {
				budget.FailedDuringFaults++
			} else {
				budget.Failed++
				budget.ByClass[rq.class]++
			}
			continue
		}
		a.tokens += int(rq.tokens)
		a.ttft = append(a.ttft, float64(rq.ttft))
		a.e2e = append(a.e2e, float64(rq.e2e))
		for _, g := range rq.gaps {
			a.itl = append(a.itl, float64(g))
		}
	}
	for k := range accs {
		a := &accs[k]
		start, end := float64(k)*w, math.Min(float64(k+1)*w, elapsed.Seconds())
		if k == nw-1 {
			end = elapsed.Seconds()
		}
		span := end - start
		win := report.SoakWindow{StartS: start, EndS: end, Requests: a.n, Failed: a.failed,
			TTFT: percentiles(a.ttft), ITL: percentiles(a.itl), E2E: percentiles(a.e2e)}
		if span > 0 {
			win.RequestsPerS = float64(a.n-a.failed) / span
			win.OutputTokensPerS = float64(a.tokens) / span
		}
		s.Windows = append(s.Windows, win)
	}

	// drift: the first fifth of the windows after the warm-up against the last fifth
	var post []int
	for k, win := range s.Windows {
		if win.StartS >= s.WarmupS && win.EndS-win.StartS >= w/2 {
			post = append(post, k)
		}
	}
	if len(post) >= 2 {
		kk := max(1, len(post)/5)
		firstEnd, lastStart := s.Windows[post[kk-1]].EndS, s.Windows[post[len(post)-kk]].StartS
		firstStart, lastEnd := s.Windows[post[0]].StartS, s.Windows[post[len(post)-1]].EndS
		for i := range r.reqs {
			rq := &r.reqs[i]
			if rq.failed || duringFault(rq) {
				continue
			}
			switch t := rq.endS; {
			case t >= firstStart && t < firstEnd:
				firstReqs = append(firstReqs, rq)
			case t >= lastStart && t <= lastEnd:
				lastReqs = append(lastReqs, rq)
			}
		}
	}
	for _, m := range []struct {
		name string
		get  func(*reqStat) (float64, bool)
	}{
		{"ttft_ms", func(r *reqStat) (float64, bool) { return float64(r.ttft), true }},
		{"itl_ms", func(r *reqStat) (float64, bool) { return float64(r.itl), len(r.gaps) > 0 }},
		{"e2e_ms", func(r *reqStat) (float64, bool) { return float64(r.e2e), true }},
	} {
		pick := func(rs []*reqStat) []float64 {
			var out []float64
			for _, rec := range rs {
				if v, ok := m.get(rec); ok {
					out = append(out, v)
				}
			}
			return out
		}
		d := driftVerdict(m.name, pick(firstReqs), pick(lastReqs), o.DriftAlpha, o.DriftThreshold, o.DriftMinMs)
		s.Drift = append(s.Drift, d)
		if d.Verdict == report.VerdictDrift {
			s.Failures = append(s.Failures, fmt.Sprintf("drift: %s p50 %.3g -> %.3g (x%.2f, p = %.2g)", m.name, d.FirstP50, d.LastP50, d.Ratio, d.P))
		}
	}

	// error budget
	if budget.Requests > 0 {
		budget.Used = float64(budget.Failed) / float64(budget.Requests)
	}
	budget.Verdict = report.VerdictPass
	if budget.Used > budget.Budget {
		budget.Verdict = report.VerdictOverBudget
		s.Failures = append(s.Failures, fmt.Sprintf("error budget: %d of %d requests failed outside the faults (%.2f%%, budget %.2f%%)",
			budget.Failed, budget.Requests, 100*budget.Used, 100*budget.Budget))
	}
	if budget.Requests == 0 {
		budget.Verdict = report.VerdictOverBudget
		s.Failures = append(s.Failures, "error budget: no request ended")
	}
	s.ErrorBudget = budget
	for _, f := range s.Faults {
		if !f.Pass {
			s.Failures = append(s.Failures, fmt.Sprintf("fault %s at %.0f s: %s", f.Kind, f.StartS, f.Detail))
		}
	}
	s.Pass = len(s.Failures) == 0
	return s
}

// percentiles returns p50, p90 and p99 of xs.
func percentiles(xs []float64) report.Percentiles {
	if len(xs) == 0 {
		return report.Percentiles{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return report.Percentiles{N: len(s), P50: report.Percentile(s, 50), P90: report.Percentile(s, 90), P99: report.Percentile(s, 99)}
}

// workloadInfo describes the workload for the report.
func workloadInfo(o Options) report.LoadWorkload {
	d := o.Workload.Describe()
	return report.LoadWorkload{Source: d.Source, Dataset: d.Dataset, PromptFormat: d.PromptFormat,
		InputLenMin: d.InputLenMin, InputLenMax: d.InputLenMax, OutputLenMin: d.OutputLenMin, OutputLenMax: d.OutputLenMax,
		PrefixLen: d.PrefixLen, PrefixGroups: d.PrefixGroups, IgnoreEOS: o.Client.IgnoreEOS, Seed: o.Seed}
}
