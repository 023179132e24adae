package report

import (
	"math"
	"math/rand/v2"
	"time"
)

// unitSummary is Summarize with the unit of a sample.
func unitSummary(v []float64, unit string) Summary {
	s := Summarize(v)
	s.SampleUnit = unit
	return s
}

// fakeReport builds a realistic, fully populated report of GPT-2 (124M) on an
// 8-core AVX2 machine, deterministic for a given seed. It drives the golden
// files, plots, HTML and compare tests. slowdown scales every time (1 = none).
func fakeReport(seed uint64, slowdown float64) *Report {
	rng := rand.New(rand.NewPCG(seed, 42))
	noisy := func(v, rel float64) float64 { return v * (1 + rel*rng.NormFloat64()) }
	const runs, outLen = 10, 32

	r := &Report{
		SchemaVersion: SchemaVersion,
		ReportName:    "gpt2_20260128_170152",
		ModelName:     "gpt2",
		Timestamp:     time.Date(2026, 1, 28, 17, 1, 52, 0, time.UTC),
		SystemInfo: SystemInfo{
			OS: "linux", Arch: "amd64", Kernel: "6.8.0-45-generic", GoVersion: "go1.26.0",
			CPUModel: "AMD EPYC 7B13 64-Core Processor", Cores: 8, GOMAXPROCS: 8,
			MemoryBytes: 32 << 30, CPUFeatures: []string{"avx2", "fma", "f16c"},
			Backend: "cpu-avx2", CUDA: CUDAInfo{Available: false},
			ToolVersion: "v0.1.0", GitCommit: "3f2c1a9",
		},
		Metadata: Metadata{
			Device: "cpu", Quick: false, Warmup: 2, Runs: runs, Seed: 1,
			CommandLine:   []string{"gpt2bench", "bench", "--model", "gpt2", "--runs", "10"},
			RandomWeights: false, DType: "float32",
		},
	}

	for _, in := range []int{32, 128, 512} {
		var ttft, tpot, itl, itlMed, e2e, pre, dec []float64
		for range runs {
			t := noisy(slowdown*(4+0.42*float64(in)+0.00012*float64(in*in)), 0.04)
			var gaps []float64
			for k := 0; k < outLen-1; k++ {
				g := noisy(slowdown*(21.5+0.004*float64(in+k)), 0.05)
				if k%12 == 11 {
					g += 1.5 // a GC cycle now and then
				}
				gaps = append(gaps, g)
			}
			var sum float64
			for _, g := range gaps {
				sum += g
			}
			ttft = append(ttft, t)
			e2e = append(e2e, t+sum)
			tpot = append(tpot, sum/float64(outLen-1))
			itl = append(itl, gaps...)
			itlMed = append(itlMed, Percentile(gaps, 50))
			pre = append(pre, float64(in)/(t/1000))
			dec = append(dec, float64(outLen-1)/(sum/1000))
		}
		med := unitSummary(itlMed, UnitRun)
		r.Latency = append(r.Latency, Latency{
			InputLen: in, OutputLen: outLen, Runs: runs,
			TTFT: unitSummary(ttft, UnitRun), TPOT: unitSummary(tpot, UnitRun), ITL: unitSummary(itl, UnitTokenGap),
			ITLRunMedian: &med, E2E: unitSummary(e2e, UnitRun),
			PrefillTokensPerS: unitSummary(pre, UnitRun), DecodeTokensPerS: unitSummary(dec, UnitRun),
			GCCycles: int64(runs * 3), GCPauseMs: 0.41 * float64(runs),
		})
	}
	r.Skipped = []Skipped{{Phase: "latency", InputLen: 1024, Reason: "input 1024 + output 32 tokens exceed context 1024"}}

	const params = 124439808
	const C, L, maxT = 768, 12, 1024
	for _, in := range []int{128, 512} {
		kvAnalytic := int64(2 * L * (in + outLen) * C * 4)
		r.Memory = append(r.Memory, Memory{
			InputLen: in, OutputLen: outLen, BatchSize: 1, ParamCount: params,
			WeightsBytes:           map[string]int64{"float32": params * 4},
			LoadPeakRSSBytes:       548 << 20,
			LoadHeapDeltaBytes:     params*4 + 3<<20,
			InferencePeakRSSBytes:  548<<20 + 2*L*maxT*C*4 + int64(in)*40<<10,
			HeapInUseBytes:         params*4 + 2*L*maxT*C*4 + 6<<20,
			InferencePeakHeapBytes: params*4 + 2*L*maxT*C*4 + 9<<20,
			KVCacheAnalyticBytes:   kvAnalytic,
			KVCacheAllocatedBytes:  2 * L * maxT * C * 4,
			AllocsPerToken:         0, BytesPerToken: 0,
			GCCycles: 2, GCPauseTotalMs: 0.23,
		})
	}

	tp := func(mode string, conc, batch int, tokS, latMs float64) Throughput {
		n := 16 * max(conc, batch) // sequences served
		unit := UnitRequest
		if mode == ModeBatched {
			unit = UnitBatch
		}
		lat := make([]float64, 16*conc) // one per request; a batched generation is one
		for i := range lat {
			lat[i] = noisy(slowdown*latMs, 0.05)
		}
		var runsTokS []float64
		for range 5 {
			runsTokS = append(runsTokS, noisy(tokS/slowdown, 0.03))
		}
		dur := float64(n*outLen) / (tokS / slowdown)
		rs := unitSummary(runsTokS, UnitRepetition)
		return Throughput{
			Mode: mode, Concurrency: conc, BatchSize: batch, InputLen: 128, OutputLen: outLen,
			Requests: n, Failed: 0, DurationS: dur,
			RequestsPerS: float64(n) / dur, OutputTokensPerS: tokS / slowdown,
			TotalTokensPerS: float64(n*(128+outLen)) / dur,
			Latency:         unitSummary(lat, unit), OutputTokensPerSRuns: &rs,
		}
	}
	r.Throughput = []Throughput{
		tp(ModeSingle, 1, 1, 41.2, 777),
		tp(ModeConcurrent, 2, 1, 63.0, 1016),
		tp(ModeConcurrent, 4, 1, 78.5, 1630),
		tp(ModeConcurrent, 8, 1, 83.1, 3080),
		tp(ModeBatched, 1, 2, 74.9, 854),
		tp(ModeBatched, 1, 4, 131.0, 977),
		tp(ModeBatched, 1, 8, 205.3, 1247),
		tp(ModeBatched, 1, 16, 268.8, 1905),
		continuousTP(8, 0, 196.0, 1390, slowdown, noisy),
		continuousTP(0, 4, 150.2, 1100, slowdown, noisy),
	}

	r.Profile = fakeProfile(slowdown)
	r.Quality = &Quality{DType: "float16", Reference: "float32", Tokens: 512,
		MaxAbsLogitError: 0.0123, Top1Agreement: 0.998, MeanKL: 2.1e-6, Perplexity: 29.41, ReferencePerplexity: 29.40}
	r.Targets = []Target{
		{Name: "TTFT p50 at 128", Metric: "latency[input_len=128].ttft_ms.p50", Op: "<", Threshold: 2000, Value: r.Latency[1].TTFT.P50, Unit: "ms", Pass: true},
		{Name: "decode tok/s mean at 128", Metric: "latency[input_len=128].decode_tokens_per_s.mean", Op: ">", Threshold: 50, Value: r.Latency[1].DecodeTokensPerS.Mean, Unit: "tok/s", Pass: false},
	}
	return r
}

// fakeProfile places GPT-2's ops on a roofline for a 128-token prefill and
// 32 decode steps.
func fakeProfile(slowdown float64) *Profile {
	const C, L, V, T, steps = 768, 12, 50257, 128, 32
	m := MachineLimits{MemBandwidthGBPerS1Core: 12.5, MemBandwidthGBPerSAll: 38.0,
		PeakGFLOPPerS1Core: 98.0, PeakGFLOPPerSAll: 760.0, Method: "measured"}
	at := time.Date(2026, 1, 27, 9, 30, 0, 0, time.UTC)
	m.MeasuredAt, m.Spread = &at, 0.042
	type op struct {
		name         string
		flops, bytes func(n, ctx int) float64 // per call, n rows, ctx attended positions
		eff          float64                  // fraction of the roofline reached
	}
	lin := func(k, mm int) (func(n, ctx int) float64, func(n, ctx int) float64) {
		return func(n, _ int) float64 { return 2 * float64(n*k*mm) },
			func(n, _ int) float64 { return 4 * float64(k*mm+n*k+n*mm) }
	}
	elem := func(f float64) (func(n, ctx int) float64, func(n, ctx int) float64) {
		return func(n, _ int) float64 { return f * float64(n*C) },
			func(n, _ int) float64 { return 8 * float64(n*C) }
	}
	qkvF, qkvB := lin(C, 3*C)
	prF, prB := lin(C, C)
	fcF, fcB := lin(C, 4*C)
	mpF, mpB := lin(4*C, C)
	lnF, lnB := elem(8)
	gF, gB := elem(12)
	gF4 := func(n, c int) float64 { return 4 * gF(n, c) }
	gB4 := func(n, c int) float64 { return 4 * gB(n, c) }
	attF := func(n, ctx int) float64 { return 4 * float64(n*ctx*C) }
	attB := func(n, ctx int) float64 { return 4 * float64(n*C*2+2*ctx*C) }
	headF, headB := lin(C, V)
	embF := func(n, _ int) float64 { return float64(n * C) }
	embB := func(n, _ int) float64 { return 12 * float64(n*C) }
	layerOps := []op{
		{"ln_1", lnF, lnB, 0.35}, {"qkv", qkvF, qkvB, 0.7}, {"attention", attF, attB, 0.3},
		{"attn_proj", prF, prB, 0.7}, {"ln_2", lnF, lnB, 0.35}, {"mlp_fc", fcF, fcB, 0.75},
		{"gelu", gF4, gB4, 0.4}, {"mlp_proj", mpF, mpB, 0.75},
	}
	outer := []op{{"embedding", embF, embB, 0.2}, {"ln_f", lnF, lnB, 0.35}, {"lm_head", headF, headB, 0.8}}

	p := &Profile{InputLen: T, OutputLen: steps, Threads: 8, Machine: m}
	add := func(phase string, layer int, o op, n, calls int) {
		var fl, by float64
		for c := 0; c < calls; c++ {
			ctx := T
			if phase == PhaseDecode {
				ctx = T + c
			}
			fl += o.flops(n, ctx)
			by += o.bytes(n, ctx)
		}
		ai := fl / by
		roof := math.Min(m.PeakGFLOPPerSAll, ai*m.MemBandwidthGBPerSAll) // GFLOP/s
		ms := fl / (roof * o.eff * 1e6) * slowdown
		bound := BoundMemory
		if ai > m.PeakGFLOPPerSAll/m.MemBandwidthGBPerSAll {
			bound = BoundCompute
		}
		gfs := fl / (ms * 1e6)
		p.Ops = append(p.Ops, OpProfile{Phase: phase, Layer: layer, Op: o.name, TotalMs: ms, Calls: int64(calls),
			FLOPs: int64(fl), Bytes: int64(by), GFLOPPerS: gfs, GBPerS: by / (ms * 1e6), Bound: bound, ShareOfPeak: gfs / roof})
	}
	for _, ph := range []struct {
		name     string
		n, calls int
	}{{PhasePrefill, T, 1}, {PhaseDecode, 1, steps}} {
		add(ph.name, -1, outer[0], ph.n, ph.calls)
		for l := 0; l < L; l++ {
			for _, o := range layerOps {
				add(ph.name, l, o, ph.n, ph.calls)
			}
		}
		add(ph.name, -1, outer[1], ph.n, ph.calls)
		add(ph.name, -1, outer[2], ph.n, ph.calls)
	}
	tot := map[string]float64{}
	for _, o := range p.Ops {
		tot[o.Phase] += o.TotalMs
		p.TotalMs += o.TotalMs
	}
	for i := range p.Ops {
		p.Ops[i].Share = p.Ops[i].TotalMs / tot[p.Ops[i].Phase]
	}
	p.OverheadMs = 0.03 * p.TotalMs
	p.TotalMs += p.OverheadMs
	p.Phases = []PhaseProfile{
		{Phase: PhasePrefill, Steps: 1, StepMs: tot[PhasePrefill] * 1.001, Coverage: 0.999, GFLOPPerS: 540, GBPerS: 10.4,
			Bound: BoundCompute, BandwidthShare: 0.27, PeakShare: 0.71, SchedLatencyP99Ms: 0.05},
		{Phase: PhaseDecode, Steps: steps - 1, StepMs: tot[PhaseDecode] * 1.002, Coverage: 0.998, GFLOPPerS: 14.1, GBPerS: 28.4,
			Bound: BoundMemory, BandwidthShare: 0.747, PeakShare: 0.019, GCCycles: 1, GCPauseMs: 0.21, SchedLatencyP99Ms: 0.33},
	}
	p.Tail = []TailToken{{Token: 17, ITLMs: 24.9, ExcessMs: 2.9, GCPauses: 1, GCPauseMs: 0.21}, {Token: 5, ITLMs: 23.1, ExcessMs: 1.1}}
	return p
}

// continuousTP is a continuous-mode entry: 16 requests per worker (or 32
// at a request rate), with per-request TTFT and TPOT, pooled ITL and the
// engine's steps.
func continuousTP(conc int, rate, tokS, latMs, slowdown float64, noisy func(v, rel float64) float64) Throughput {
	n := 32
	if conc > 0 {
		n = 16 * conc
	}
	const outLen = 64
	var lat, ttft, tpot, itl []float64
	for range n {
		lat = append(lat, noisy(slowdown*latMs, 0.05))
		ttft = append(ttft, noisy(slowdown*180, 0.2))
		tpot = append(tpot, noisy(slowdown*19, 0.05))
	}
	for range 4 * outLen {
		itl = append(itl, noisy(slowdown*19, 0.1))
	}
	s := func(v []float64, unit string) *Summary { x := unitSummary(v, unit); return &x }
	rows := unitSummary([]float64{8, 8, 136, 8, 7, 8}, "step")
	dur := float64(n*outLen) / (tokS / slowdown)
	return Throughput{
		Mode: ModeContinuous, Concurrency: conc, BatchSize: 1, InputLen: 128, OutputLen: outLen, RequestRate: rate,
		Requests: n, DurationS: dur, RequestsPerS: float64(n) / dur, OutputTokensPerS: tokS / slowdown,
		TotalTokensPerS: float64(n*(128+outLen)) / dur, Latency: unitSummary(lat, UnitRequest),
		TTFT: s(ttft, UnitRequest), TPOT: s(tpot, UnitRequest), ITL: s(itl, UnitTokenGap),
		Engine: &EngineSteps{MaxNumSeqs: 16, MaxNumBatchedTokens: 256, KVCacheBytes: 1207959552, BlockSize: 32, PrefixCache: true,
			Steps: 1100, RowsPerStep: rows, PrefillRows: int64(n * 128), DecodeRows: int64(n * (outLen - 1)),
			PrefixQueriedTokens: int64(n * 96), ForwardShare: 0.987, ScheduleShare: 0.002, SampleShare: 0.011},
	}
}
