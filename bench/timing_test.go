package bench

import (
	"math"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// statTol is the float64 tolerance of hand-computed statistics (exact
// decimal inputs, a few roundings).
const statTol = 1e-9

func timeline(start time.Time, offsetsMs ...float64) RunTiming {
	rt := RunTiming{Start: start}
	for _, o := range offsetsMs {
		rt.Tokens = append(rt.Tokens, start.Add(time.Duration(o*float64(time.Millisecond))))
	}
	return rt
}

func near(a, b float64) bool { return math.Abs(a-b) <= statTol*max(1, math.Abs(b)) }

func TestRunTimingDefinitions(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// Tokens at 100, 110, 130, 160 ms: TTFT 100, E2E 160, TPOT (160-100)/3 = 20,
	// ITL 10, 20, 30.
	rt := timeline(t0, 100, 110, 130, 160)
	if got := ms(rt.TTFT()); got != 100 {
		t.Errorf("TTFT = %v ms, want 100", got)
	}
	if got := ms(rt.E2E()); got != 160 {
		t.Errorf("E2E = %v ms, want 160", got)
	}
	tpot, ok := rt.TPOT()
	if !ok || ms(tpot) != 20 {
		t.Errorf("TPOT = %v ms (%v), want 20", ms(tpot), ok)
	}
	itl := rt.ITL()
	want := []float64{10, 20, 30}
	if len(itl) != len(want) {
		t.Fatalf("ITL has %d gaps, want %d", len(itl), len(want))
	}
	for i, g := range itl {
		if ms(g) != want[i] {
			t.Errorf("ITL[%d] = %v ms, want %v", i, ms(g), want[i])
		}
	}
	one := timeline(t0, 50)
	if _, ok := one.TPOT(); ok {
		t.Error("TPOT of a 1-token run is defined, want undefined")
	}
	if len(one.ITL()) != 0 {
		t.Error("ITL of a 1-token run is not empty")
	}
}

func TestLatencyStats(t *testing.T) {
	t0 := time.Unix(1000, 0)
	runs := []RunTiming{
		timeline(t0, 100, 110, 130, 160), // TTFT 100, E2E 160, TPOT 20, ITL 10 20 30
		timeline(t0, 200, 220, 240, 260), // TTFT 200, E2E 260, TPOT 20, ITL 20 20 20
		timeline(t0, 150, 160, 170, 240), // TTFT 150, E2E 240, TPOT 30, ITL 10 10 70
	}
	l := LatencyStats(64, 4, runs)
	if l.Runs != 3 || l.InputLen != 64 || l.OutputLen != 4 {
		t.Fatalf("runs/input/output = %d/%d/%d, want 3/64/4", l.Runs, l.InputLen, l.OutputLen)
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{"ttft mean", l.TTFT.Mean, 150},
		{"ttft std (sample)", l.TTFT.Std, 50}, // deviations -50 50 0: sqrt(5000/2)
		{"ttft p50", l.TTFT.P50, 150},
		{"ttft p90", l.TTFT.P90, 190}, // rank 1.8 of 100 150 200
		{"ttft p95", l.TTFT.P95, 195},
		{"ttft p99", l.TTFT.P99, 199},
		{"ttft min", l.TTFT.Min, 100},
		{"ttft max", l.TTFT.Max, 200},
		{"e2e mean", l.E2E.Mean, 220},
		{"tpot mean", l.TPOT.Mean, 70.0 / 3},
		{"tpot p50", l.TPOT.P50, 20},
		{"itl n", float64(l.ITL.N), 9},
		{"itl mean", l.ITL.Mean, 210.0 / 9},
		{"itl p50", l.ITL.P50, 20},
		{"itl p90", l.ITL.P90, 38}, // sorted 10 10 10 10 20 20 20 30 70: rank 7.2 -> 30 + 0.2*40
		{"itl max", l.ITL.Max, 70},
		{"prefill tok/s run 1", l.PrefillTokensPerS.Samples[0], 640}, // 64 tokens / 0.1 s
		{"decode tok/s run 1", l.DecodeTokensPerS.Samples[0], 50},    // 3 tokens / 0.06 s
		{"decode tok/s run 3", l.DecodeTokensPerS.Samples[2], 3 / 0.09},
		{"itl run medians n", float64(l.ITLRunMedian.N), 3}, // one per run
		{"itl run median 1", l.ITLRunMedian.Samples[0], 20},
		{"itl run median 3", l.ITLRunMedian.Samples[2], 10},
	}
	units := map[string]string{"ttft": l.TTFT.SampleUnit, "tpot": l.TPOT.SampleUnit, "e2e": l.E2E.SampleUnit,
		"itl": l.ITL.SampleUnit, "itl run median": l.ITLRunMedian.SampleUnit, "decode": l.DecodeTokensPerS.SampleUnit}
	for name, u := range units {
		want := report.UnitRun
		if name == "itl" {
			want = report.UnitTokenGap
		}
		if u != want {
			t.Errorf("%s sample unit %q, want %q", name, u, want)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !near(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestLatencyStatsOneToken(t *testing.T) {
	l := LatencyStats(8, 1, []RunTiming{timeline(time.Unix(0, 0), 40)})
	if l.TTFT.Mean != 40 || l.E2E.Mean != 40 {
		t.Errorf("TTFT, E2E = %v, %v, want 40, 40", l.TTFT.Mean, l.E2E.Mean)
	}
	if l.TPOT.N != 0 || l.ITL.N != 0 || l.DecodeTokensPerS.N != 0 {
		t.Errorf("TPOT/ITL/decode have %d/%d/%d samples, want none for one output token", l.TPOT.N, l.ITL.N, l.DecodeTokensPerS.N)
	}
}

func TestThroughputStats(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(msec float64) time.Time { return t0.Add(time.Duration(msec * float64(time.Millisecond))) }
	reqs := []request{
		{start: at(0), end: at(1000), seqs: 1},
		{start: at(500), end: at(2000), seqs: 1},
		{start: at(1000), end: at(1500), seqs: 1, err: errTest},
	}
	tp := throughputStats("concurrent", 2, 1, 10, 20, reqs)
	tests := []struct {
		name      string
		got, want float64
	}{
		{"requests", float64(tp.Requests), 3},
		{"failed", float64(tp.Failed), 1},
		{"duration", tp.DurationS, 2},
		{"req/s", tp.RequestsPerS, 1},          // 2 ok / 2 s
		{"out tok/s", tp.OutputTokensPerS, 20}, // 2*20 / 2
		{"total tok/s", tp.TotalTokensPerS, 30},
		{"latency mean", tp.Latency.Mean, 1250},
		{"latency n", float64(tp.Latency.N), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !near(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	if tp.Latency.SampleUnit != report.UnitRequest {
		t.Errorf("unit %q, want %q", tp.Latency.SampleUnit, report.UnitRequest)
	}
}

// TestThroughputStatsBatched checks a batched generation is one latency
// sample (its B sequences share start and end: copies would not be
// independent), while requests and rates count sequences.
func TestThroughputStatsBatched(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(msec float64) time.Time { return t0.Add(time.Duration(msec * float64(time.Millisecond))) }
	reqs := []request{
		{start: at(0), end: at(1000), seqs: 4},
		{start: at(1000), end: at(2200), seqs: 4},
		{start: at(2200), end: at(3000), seqs: 4},
	}
	tp := throughputStats(report.ModeBatched, 1, 4, 10, 20, reqs)
	if tp.Requests != 12 || !near(tp.OutputTokensPerS, 12*20/3.0) {
		t.Errorf("requests %d, out tok/s %v; want 12 sequences, 80", tp.Requests, tp.OutputTokensPerS)
	}
	if tp.Latency.N != 3 || tp.Latency.SampleUnit != report.UnitBatch {
		t.Errorf("latency n %d unit %q, want 3 samples of unit %q", tp.Latency.N, tp.Latency.SampleUnit, report.UnitBatch)
	}
}
