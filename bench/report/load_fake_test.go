package report

import (
	"math/rand/v2"
	"time"
)

// fakeLoadReport builds a fully populated `gpt2bench load` report: three
// closed-loop points, a sweep of three Poisson rates, server timings and a
// client-bound point, deterministic for a seed. slowdown scales every time.
func fakeLoadReport(seed uint64, slowdown float64) *Report {
	rng := rand.New(rand.NewPCG(seed, 7))
	noisy := func(v, rel float64) float64 { return v * (1 + rel*rng.NormFloat64()) }
	r := fakeReport(seed, slowdown)
	r.SchemaVersion = "1.1" // the version that added load; fixed so the goldens do not follow later minors
	r.ReportName = "gpt2_20260128_180000"
	r.Timestamp = time.Date(2026, 1, 28, 18, 0, 0, 0, time.UTC)
	r.Latency, r.Memory, r.Throughput, r.Profile, r.Quality, r.Targets, r.Skipped = nil, nil, nil, nil, nil, nil, nil
	r.SystemInfo.Backend = "http"
	r.Metadata = Metadata{Device: "http", Warmup: 4, Runs: 1, Seed: 1, DType: "",
		CommandLine: []string{"gpt2bench", "load", "--url", "http://127.0.0.1:8000/v1", "--concurrency", "1,2,4"}}
	const in, out, n = 128, 32, 40
	l := &Load{
		URL: "http://127.0.0.1:8000/v1", Endpoint: "/completions", Server: "gpt2bench",
		Workload: LoadWorkload{Source: "random", Dataset: "", PromptFormat: "token_ids",
			InputLenMin: in, InputLenMax: in, OutputLenMin: out, OutputLenMax: out,
			PrefixLen: 64, PrefixGroups: 4, IgnoreEOS: true, Seed: 1, Temperature: new(0.0)},
		SLO:         &LoadSLO{TTFTMs: 500, TPOTMs: 50, E2EMs: 10000, MinAttainment: 0.9},
		RecordsFile: "gpt2_20260128_180000.requests.jsonl",
	}
	point := func(arrival string, conc int, rate float64) LoadPoint {
		load := float64(conc)
		if rate > 0 {
			load = rate / 2
		}
		var ttft, tpot, e2e, itl, plan, plane, lag, sq, sp, st, si, ci, dt, di []float64
		for range n {
			t := noisy(slowdown*(60+25*load), 0.1)
			g := noisy(slowdown*(20+3*load), 0.05)
			ttft = append(ttft, t)
			tpot = append(tpot, g)
			e2e = append(e2e, t+g*(out-1))
			for range 4 {
				itl = append(itl, noisy(g, 0.1))
			}
			w := 0.0
			if rate > 0 {
				w = noisy(2*load, 0.5)
				plan = append(plan, t+w)
				plane = append(plane, t+w+g*(out-1))
			}
			lag = append(lag, noisy(0.08, 0.3))
			sq = append(sq, noisy(1+load, 0.2))
			sp = append(sp, t-2-load)
			st = append(st, t-1.5)
			si = append(si, g-0.05)
			ci = append(ci, g)
			dt = append(dt, 1.5)
			di = append(di, 0.05)
		}
		dur := noisy(slowdown*float64(n)*(60+25*load+20*(out-1))/1000/max(load, 1), 0.01)
		p := LoadPoint{
			Arrival: arrival, Concurrency: conc, RequestRate: rate, Warmup: 4,
			Requests: n, Completed: n - 1, Failed: 1,
			Errors: []LoadError{
				{Class: "http_503", Count: 1, Example: "HTTP 503: server overloaded"},
				{Class: ErrClassWrongLength, Count: 2, Example: "completion_tokens 31, asked 32"},
			},
			OutputLenMismatches: 2, DurationS: dur,
			RequestsPerS: float64(n-1) / dur, OutputTokensPerS: float64((n-1)*out) / dur,
			TotalTokensPerS: float64((n-1)*(in+out)) / dur, GoodputRequestsPerS: float64(n-4) / dur,
			SLOAttainment: float64(n-4) / n,
			TTFT:          Summarize(ttft), TPOT: Summarize(tpot), E2E: Summarize(e2e),
			ITL: Summarize(itl),
			ServerView: &LoadServerView{Source: "server_timing", Requests: n - 1,
				QueueMs: Summarize(sq), PrefillMs: Summarize(sp), TTFT: Summarize(st), ITL: Summarize(si),
				ClientITL: Summarize(ci), TTFTDiffMs: Summarize(dt), ITLDiffMs: Summarize(di)},
			Client: LoadClient{SendLag: Summarize(lag), CPUSeconds: 0.2, CPUShare: 0.02},
		}
		p.ITL.Samples, p.ITL.SampleUnit = []float64{}, UnitTokenGap
		for _, s := range []*Summary{&p.TTFT, &p.TPOT, &p.E2E, &p.Client.SendLag} {
			s.SampleUnit = UnitRequest
		}
		if rate > 0 {
			p.Burstiness = 1
			sp, se := Summarize(plan), Summarize(plane)
			sp.SampleUnit, se.SampleUnit = UnitRequest, UnitRequest
			p.TTFTFromPlan, p.E2EFromPlan = &sp, &se
		}
		return p
	}
	for _, c := range []int{1, 2, 4} {
		l.Points = append(l.Points, point(ArrivalClosed, c, 0))
	}
	l.Points[2].Client.ClientBound, l.Points[2].Client.Reason = true, "send lag p99 12.0 ms > 10 ms"
	l.Sweep = &LoadSweep{CapacityRequestsPerS: l.Points[2].RequestsPerS, Rates: []float64{2, 4, 8}}
	for _, rate := range l.Sweep.Rates {
		l.Points = append(l.Points, point(ArrivalPoisson, 0, rate))
	}
	l.Sweep.MaxRequestRate, l.Sweep.MaxGoodputRequestsPerS = 4, l.Points[4].GoodputRequestsPerS
	r.Load = l
	return r
}
