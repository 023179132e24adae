package loadgen

import (
	"fmt"
	"math"
	"testing"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// TestGapsStatistics draws 10,000 gaps without sending anything and checks
// their mean (1/rate) and coefficient of variation (1/sqrt(burstiness)).
// Tolerances: the standard error of the mean of 10,000 gamma gaps is
// CV/100 of the mean (1.4% at burstiness 0.5), so 5% is over 3.5 sigma;
// the CV's own sampling error is about 1-3% at n = 10,000, so 8% is wide.
func TestGapsStatistics(t *testing.T) {
	const n = 10000
	const meanTol, cvTol = 0.05, 0.08
	for _, tc := range []struct {
		arrival string
		rate, b float64
		wantCV  float64
		seed    int64
	}{
		{report.ArrivalPoisson, 10, 1, 1, 1},
		{report.ArrivalPoisson, 10, 0.5, math.Sqrt2, 2},
		{report.ArrivalPoisson, 250, 1, 1, 3},
		{report.ArrivalPoisson, 250, 0.5, math.Sqrt2, 4},
		{report.ArrivalPoisson, 3, 4, 0.5, 5},
		{report.ArrivalConstant, 10, 0, 0, 6},
	} {
		t.Run(fmt.Sprintf("%s/rate=%g/burstiness=%g", tc.arrival, tc.rate, tc.b), func(t *testing.T) {
			g, err := NewGaps(tc.arrival, tc.rate, tc.b, tc.seed)
			if err != nil {
				t.Fatal(err)
			}
			var sum, sumSq float64
			for range n {
				s := g.Next().Seconds()
				sum += s
				sumSq += s * s
			}
			mean := sum / n
			std := math.Sqrt((sumSq - n*mean*mean) / (n - 1))
			cv := std / mean
			if want := 1 / tc.rate; math.Abs(mean-want)/want > meanTol {
				t.Errorf("mean gap %.6f s, want %.6f s within %.0f%%", mean, want, meanTol*100)
			}
			if tc.wantCV == 0 {
				if cv > 1e-6 {
					t.Errorf("constant gaps have CV %g, want 0", cv)
				}
				return
			}
			if math.Abs(cv-tc.wantCV)/tc.wantCV > cvTol {
				t.Errorf("CV %.4f, want %.4f within %.0f%%", cv, tc.wantCV, cvTol*100)
			}
		})
	}
}

func TestGapsDeterministic(t *testing.T) {
	a, _ := NewGaps(report.ArrivalPoisson, 5, 0.7, 42)
	b, _ := NewGaps(report.ArrivalPoisson, 5, 0.7, 42)
	for i := range 100 {
		if x, y := a.Next(), b.Next(); x != y {
			t.Fatalf("gap %d: %v vs %v with the same seed", i, x, y)
		}
	}
}

func TestGapsErrors(t *testing.T) {
	for _, tc := range []struct {
		arrival string
		rate, b float64
	}{
		{report.ArrivalPoisson, 0, 1}, {report.ArrivalPoisson, -1, 1}, {report.ArrivalPoisson, math.Inf(1), 1},
		{report.ArrivalPoisson, 1, 0}, {report.ArrivalPoisson, 1, math.NaN()}, {report.ArrivalClosed, 1, 1},
	} {
		if _, err := NewGaps(tc.arrival, tc.rate, tc.b, 1); err == nil {
			t.Errorf("NewGaps(%q, %v, %v): no error", tc.arrival, tc.rate, tc.b)
		}
	}
}
