package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gpt2bench/gpt2bench/bench/report"
)

// Gaps draws the gaps between the planned send times of an open-loop point.
type Gaps interface {
	// Next returns the gap before the next request.
	Next() time.Duration
}

// NewGaps returns the gaps of arrival ("poisson" or "constant") at rate
// requests/s. Poisson gaps are gamma-distributed with shape burstiness and
// scale 1/(rate*burstiness), as vLLM's bench serve draws them: mean 1/rate
// whatever the burstiness, coefficient of variation 1/sqrt(burstiness)
// (burstiness 1 is a Poisson process, below 1 burstier, above 1 steadier).
// Constant gaps are all 1/rate. The same seed draws the same gaps.
func NewGaps(arrival string, rate, burstiness float64, seed int64) (Gaps, error) {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil, fmt.Errorf("request rate %v must be a positive number of requests/s", rate)
	}
	switch arrival {
	case report.ArrivalConstant:
		return constantGaps(time.Duration(float64(time.Second) / rate)), nil
	case report.ArrivalPoisson:
		if !(burstiness > 0) || math.IsInf(burstiness, 0) {
			return nil, fmt.Errorf("burstiness %v must be positive (1 = Poisson, < 1 burstier)", burstiness)
		}
		g := distuv.Gamma{Alpha: burstiness, Beta: rate * burstiness, Src: rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)}
		return gammaGaps{g}, nil
	}
	return nil, fmt.Errorf("arrival %q has no gaps; want poisson or constant", arrival)
}

type constantGaps time.Duration

func (c constantGaps) Next() time.Duration { return time.Duration(c) }

type gammaGaps struct{ g distuv.Gamma }

func (g gammaGaps) Next() time.Duration { return time.Duration(g.g.Rand() * float64(time.Second)) }
