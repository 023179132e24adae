package report

import (
	"math"
	"slices"
)

// exactLimit is the largest sample size for which MannWhitneyU computes the
// exact distribution of U (when there are no ties), as benchstat does.
const exactLimit = 50

// MannWhitneyU returns the two-sided p-value of the Mann-Whitney U test of
// whether x and y come from the same distribution, and U for x (the number
// of pairs with x_i > y_j, ties counting 1/2). Like benchstat and
// scipy.stats.mannwhitneyu: without ties and with both samples of at most 50
// values, p is exact (2·P(U ≤ min(U_x, U_y)), capped at 1); otherwise it is
// the normal approximation with tie correction and continuity correction.
// p is 1 when all values are equal, NaN when a sample is empty.
func MannWhitneyU(x, y []float64) (p, u float64) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return math.NaN(), math.NaN()
	}
	type obs struct {
		v     float64
		fromX bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	// Rank sum of x with mid-ranks for ties; tie term Σ(t³ - t).
	var r1, tieTerm float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		t := float64(j - i)
		mid := float64(i+1+j) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].fromX {
				r1 += mid
			}
		}
		if t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		i = j
	}
	u1 := r1 - float64(n1*(n1+1))/2
	u2 := float64(n1*n2) - u1
	if u1 == u2 {
		return 1, u1
	}
	if !ties && n1 <= exactLimit && n2 <= exactLimit {
		p = 2 * uCDF(int(math.Round(math.Min(u1, u2))), n1, n2)
		return math.Min(p, 1), u1
	}
	n := float64(n1 + n2)
	mu := float64(n1*n2) / 2
	sigma := math.Sqrt(float64(n1*n2) / 12 * ((n + 1) - tieTerm/(n*(n-1))))
	if sigma == 0 {
		return 1, u1
	}
	d := math.Abs(u1-mu) - 0.5 // continuity correction toward the mean
	if d < 0 {
		d = 0
	}
	p = math.Erfc(d / sigma / math.Sqrt2) // 2·(1-Φ(z))
	return math.Min(p, 1), u1
}

// uCDF is P(U ≤ u) for U of samples of sizes n1, n2 without ties, from the
// count of arrangements with each U: c(u; m, n) = c(u-n; m-1, n) + c(u; m, n-1).
func uCDF(u, n1, n2 int) float64 {
	if u < 0 {
		return 0
	}
	maxU := n1 * n2
	if u >= maxU {
		return 1
	}
	// freq[m][k] is the number of arrangements of m x's and n y's with U = k,
	// rolled over n = 0..n2.
	freq := make([][]float64, n1+1)
	for m := range freq {
		freq[m] = make([]float64, maxU+1)
		freq[m][0] = 1 // n = 0: only U = 0
	}
	for n := 1; n <= n2; n++ {
		// c(u; m, n) = c(u-n; m-1, n) + c(u; m, n-1): the largest value is an
		// x (beating all n y's) or a y. Iterate m upward so freq[m-1] already
		// holds (m-1, n).
		for m := 1; m <= n1; m++ {
			row, prev := freq[m], freq[m-1] // row holds (m, n-1); updated in place
			for k := n; k <= maxU; k++ {
				row[k] += prev[k-n]
			}
		}
		// m = 0 stays [1 0 0 ...]
	}
	var below, total float64
	for k, c := range freq[n1] {
		total += c
		if k <= u {
			below += c
		}
	}
	return below / total
}

// minPValue is the smallest two-sided p-value the exact test can give for
// samples of sizes n1, n2: 2 / C(n1+n2, n1). When it exceeds alpha no
// difference can ever be significant (benchstat's "need more samples").
func minPValue(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	// log C(n1+n2, n1)
	lg := func(k int) float64 { v, _ := math.Lgamma(float64(k + 1)); return v }
	logC := lg(n1+n2) - lg(n1) - lg(n2)
	return math.Min(1, 2*math.Exp(-logC))
}
