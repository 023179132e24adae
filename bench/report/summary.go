package report

import (
	"math"
	"slices"
)

// Summarize computes the Summary of samples: n, mean, sample standard
// deviation (divisor n-1; 0 when n < 2), min, max and the percentiles 50, 90,
// 95, 99 with linear interpolation between closest ranks, as numpy.percentile's
// default method. Samples keeps a copy of the input in its order, less any
// NaN or infinite values, which are dropped (JSON cannot hold them). An empty
// input gives a zero Summary with an empty, non-nil Samples.
func Summarize(samples []float64) Summary {
	s := Summary{Samples: make([]float64, 0, len(samples))}
	for _, v := range samples {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s.Samples = append(s.Samples, v)
		}
	}
	sorted := slices.Clone(s.Samples)
	n := len(sorted)
	s.N = n
	if n == 0 {
		return s
	}
	slices.Sort(sorted)
	var sum float64
	for _, v := range sorted {
		sum += v
	}
	s.Mean = sum / float64(n)
	if n > 1 {
		var ss float64
		for _, v := range sorted {
			d := v - s.Mean
			ss += d * d
		}
		s.Std = math.Sqrt(ss / float64(n-1))
	}
	s.Min, s.Max = sorted[0], sorted[n-1]
	s.P50 = percentileSorted(sorted, 50)
	s.P90 = percentileSorted(sorted, 90)
	s.P95 = percentileSorted(sorted, 95)
	s.P99 = percentileSorted(sorted, 99)
	return s
}

// Percentile returns percentile p (0..100) of samples with numpy's default
// linear interpolation: the value at rank p/100*(n-1) of the sorted samples,
// interpolated between its two neighbours. It returns NaN for no samples.
func Percentile(samples []float64, p float64) float64 {
	if len(samples) == 0 {
		return math.NaN()
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return percentileSorted(sorted, p)
}

// percentileSorted is Percentile on sorted, non-empty samples.
func percentileSorted(sorted []float64, p float64) float64 {
	p = min(max(p, 0), 100)
	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, len(sorted)-1)
	frac := rank - float64(lo)
	return sorted[lo] + frac*(sorted[hi]-sorted[lo])
}
