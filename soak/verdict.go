package soak

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// DefaultThresholds are the growth per hour above which a resource leaks
// (the low end of the slope's 95% interval must pass it, and the fitted
// growth must pass DefaultMinGrowth). They are set
// well above what a clean gpt2bench serve does under a steady load (flat
// within noise after its warm-up) and well below a real leak's rate: a
// goroutine or fd per request, or a few KB per request, grows by thousands
// per hour at one request per second.
//
//	rss                 64 MiB/h   the runtime returns freed pages lazily: RSS wanders more than the heap
//	heap_inuse          32 MiB/h   includes garbage not yet swept
//	heap_live           16 MiB/h   marked live by the last GC: the steadiest memory figure
//	goroutines          60/h       one a minute
//	open_fds            60/h       one a minute
//	kv_blocks_used      16/h       blocks held by sequences (a block never returned)
//	prefix_cache_blocks 16/h       bounded by the pool: it fills during the warm-up, then stays
var DefaultThresholds = map[string]float64{
	ResRSS:          64 << 20,
	ResHeapInUse:    32 << 20,
	ResHeapLive:     16 << 20,
	ResGoroutines:   60,
	ResOpenFDs:      60,
	ResKVBlocksUsed: 16,
	ResPrefixBlocks: 16,
}

// DefaultMinGrowth is the least fitted growth over the samples judged
// that a leak needs, besides its slope: a soak of a minute cannot tell a
// slope from the one-time growth of pools, caches and connection buffers
// (a burst of a hundred connections leaves a few MiB until the next GC
// cycles), so on short soaks this gate decides; on long ones the slope
// does. A leak of 4 KB and a goroutine per request at 40 requests/s grows
// the live heap by 8 MiB and the goroutines by 2000 in 50 s.
var DefaultMinGrowth = map[string]float64{
	ResRSS:          16 << 20,
	ResHeapInUse:    8 << 20,
	ResHeapLive:     4 << 20,
	ResGoroutines:   16,
	ResOpenFDs:      8,
	ResKVBlocksUsed: 8,
	ResPrefixBlocks: 8,
}

// minLeakSamples is the fewest samples a leak verdict is given on.
const minLeakSamples = 10

// minDriftSamples is the fewest requests on each side for a drift verdict.
const minDriftSamples = 8

// leakVerdict regresses values on times (seconds) and judges them against
// threshold (units per hour).
func leakVerdict(name, unit string, times, values []float64, threshold, minGrowth float64) report.SoakLeak {
	l := report.SoakLeak{Resource: name, Unit: unit, N: len(times), ThresholdPerHour: threshold, MinGrowth: minGrowth, Verdict: report.VerdictInsufficient}
	n := len(times)
	if n < minLeakSamples {
		return l
	}
	x := make([]float64, n)
	for i, t := range times {
		x[i] = t / 3600 // hours: the slope is per hour
	}
	alpha, beta := stat.LinearRegression(x, values, nil, false)
	// residual variance and the lag-1 autocorrelation of the residuals
	var sse, lag, sxx float64
	mx := stat.Mean(x, nil)
	prev := 0.0
	for i := range n {
		e := values[i] - (alpha + beta*x[i])
		sse += e * e
		if i > 0 {
			lag += e * prev
		}
		prev = e
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	neff := float64(n)
	if sse > 0 {
		if r := lag / sse; r > 0 {
			neff = float64(n) * (1 - r) / (1 + r)
		}
	}
	neff = math.Max(3, math.Min(float64(n), neff))
	se := 0.0
	if sxx > 0 {
		// OLS standard error, inflated by n/n_eff for the correlated residuals
		se = math.Sqrt(sse/float64(n-2)/sxx) * math.Sqrt(float64(n)/neff)
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: neff - 2}.Quantile(0.975)
	l.NEff = neff
	l.SlopePerHour = beta
	l.CILowPerHour, l.CIHighPerHour = beta-t*se, beta+t*se
	l.First, l.Last = alpha+beta*x[0], alpha+beta*x[n-1]
	l.Verdict = report.VerdictPass
	if l.CILowPerHour > threshold && l.Last-l.First > minGrowth {
		l.Verdict = report.VerdictLeak
	}
	return l
}

// driftVerdict compares the first samples of a latency metric with the last.
func driftVerdict(metric string, first, last []float64, alpha, threshold, minDeltaMs float64) report.SoakDrift {
	d := report.SoakDrift{Metric: metric, FirstN: len(first), LastN: len(last), Alpha: alpha, Threshold: threshold, MinDeltaMs: minDeltaMs, P: 1,
		Verdict: report.VerdictInsufficient}
	if len(first) < minDriftSamples || len(last) < minDriftSamples {
		return d
	}
	d.FirstP50, d.LastP50 = report.Percentile(first, 50), report.Percentile(last, 50)
	if d.FirstP50 > 0 {
		d.Ratio = d.LastP50 / d.FirstP50
	}
	d.P, _ = report.MannWhitneyU(first, last)
	d.Verdict = report.VerdictPass
	if d.P < alpha && d.Ratio > 1+threshold && d.LastP50-d.FirstP50 > minDeltaMs {
		d.Verdict = report.VerdictDrift
	}
	return d
}

// median returns the median of xs (0 when empty); xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return report.Percentile(xs, 50)
}
