package report

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

const pTol = 1e-9 // p-values are closed-form; only rounding differs

func TestMannWhitneyU(t *testing.T) {
	tests := []struct {
		name  string
		x, y  []float64
		wantP float64
		wantU float64
	}{
		// scipy.stats.mannwhitneyu([19,22,16,29,24], [20,11,17,12]) (scipy docs):
		// U=17, exact p = 2*7/126 = 0.1111...
		{"scipy docs exact", []float64{19, 22, 16, 29, 24}, []float64{20, 11, 17, 12}, 14.0 / 126, 17},
		// Complete separation, 3 vs 3: 2/C(6,3) = 0.1; 4 vs 4: 2/70.
		{"separated 3v3", []float64{1, 2, 3}, []float64{4, 5, 6}, 0.1, 0},
		{"separated 4v4", []float64{4, 5, 6, 7}, []float64{0, 1, 2, 3}, 2.0 / 70, 16},
		// Ties -> normal approximation with tie and continuity correction:
		// ranks 1,2,3.5,5.5 for x: U=2; σ² = 16/12·(9 - 12/56); z = 5.5/σ = 1.60696;
		// p = erfc(z/√2) = 0.10806337293756862 (scipy method="asymptotic" agrees).
		{"ties normal", []float64{1, 2, 3, 4}, []float64{3, 4, 5, 6}, 0.10806337293756862, 2},
		{"all equal", []float64{5, 5, 5}, []float64{5, 5}, 1, 3},
		{"identical samples", []float64{1, 2, 3}, []float64{1, 2, 3}, 1, 4.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, u := MannWhitneyU(tc.x, tc.y)
			if math.Abs(p-tc.wantP) > pTol {
				t.Errorf("p = %.17g, want %.17g", p, tc.wantP)
			}
			if u != tc.wantU {
				t.Errorf("U = %v, want %v", u, tc.wantU)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		if p, _ := MannWhitneyU(nil, []float64{1}); !math.IsNaN(p) {
			t.Errorf("p = %v, want NaN", p)
		}
	})
	t.Run("large n uses normal approximation", func(t *testing.T) {
		// scipy docs, method="asymptotic": 0.11134688653314041. Repeating each
		// value 11 times... would add ties; instead check the normal path
		// directly through 51 distinct values shifted (no ties, n > 50)
		// is symmetric and in (0, 1).
		var x, y []float64
		for i := range 51 {
			x = append(x, float64(i))
			y = append(y, float64(i)+0.5)
		}
		p, u := MannWhitneyU(x, y)
		// U_x = Σ_j #{i > j+0.5} = Σ_{k=0}^{50} k = 1275 = n1·n2/2 - 25.5
		if u != 1275 {
			t.Errorf("U = %v, want 1275", u)
		}
		// μ = 1300.5, σ² = 51·51·103/12; z = (25.5-0.5)/σ
		sigma := math.Sqrt(51 * 51 * 103.0 / 12)
		want := math.Erfc(25 / sigma / math.Sqrt2)
		if math.Abs(p-want) > pTol {
			t.Errorf("p = %v, want %v", p, want)
		}
	})
}

func TestMinPValue(t *testing.T) {
	tests := []struct {
		n1, n2 int
		want   float64
	}{{3, 3, 0.1}, {4, 4, 2.0 / 70}, {5, 4, 2.0 / 126}, {1, 10, 2.0 / 11}, {0, 3, 1}}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("n1=%d/n2=%d", tc.n1, tc.n2), func(t *testing.T) {
			if got := minPValue(tc.n1, tc.n2); math.Abs(got-tc.want) > pTol {
				t.Errorf("minPValue(%d, %d) = %v, want %v", tc.n1, tc.n2, got, tc.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	base := fakeReport(1, 1)
	t.Run("self is ~ everywhere", func(t *testing.T) {
		c, err := Compare(base, base, CompareOptions{Threshold: 0.05})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Rows) == 0 {
			t.Fatal("no rows")
		}
		for _, d := range c.Rows {
			if d.Verdict() != "~" || d.Significant || d.Regression {
				t.Errorf("%s %s: verdict %s, p %v", d.Group, d.Metric, d.Verdict(), d.P)
			}
		}
		if len(c.Regressions()) != 0 || len(c.SystemDiffs) != 0 {
			t.Errorf("regressions %v, system diffs %v", c.Regressions(), c.SystemDiffs)
		}
	})
	t.Run("20% slowdown is flagged", func(t *testing.T) {
		// Five reports a side (five processes): one sample per report.
		var bases, slows []*Report
		for i := range 5 {
			bases = append(bases, fakeReport(uint64(100+i), 1))
			slows = append(slows, fakeReport(uint64(200+i), 1.2)) // different noise, 20% slower
		}
		c, err := ComparePooled(bases, slows, CompareOptions{Threshold: 0.05})
		if err != nil {
			t.Fatal(err)
		}
		regs := c.Regressions()
		found := map[string]bool{}
		for _, d := range regs {
			found[d.Metric] = true
			if d.Better == LowerIsBetter && d.DeltaPct < 10 || d.Better == HigherIsBetter && d.DeltaPct > -10 {
				t.Errorf("%s %s: delta %.1f%% is not a ~20%% slowdown", d.Group, d.Metric, d.DeltaPct)
			}
		}
		for _, m := range []string{"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "decode_tokens_per_s", "request_latency_ms", "output_tokens_per_s"} {
			if !found[m] {
				t.Errorf("no regression flagged for %s", m)
			}
		}
		// The reverse direction is an improvement, never a regression.
		back, err := ComparePooled(slows, bases, CompareOptions{Threshold: 0.05})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(back.Regressions()); n != 0 {
			t.Errorf("speed-up reported %d regressions", n)
		}
		// A threshold above the change hides it.
		high, err := ComparePooled(bases, slows, CompareOptions{Threshold: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(high.Regressions()); n != 0 {
			t.Errorf("threshold 50%%: %d regressions, want 0", n)
		}
		// One report a side: p on the runs, but nothing significant, and
		// every tested row says why.
		one, err := Compare(bases[0], slows[0], CompareOptions{Threshold: 0.05})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(one.Regressions()); n != 0 {
			t.Errorf("one report a side: %d regressions, want none called significant", n)
		}
		for _, d := range one.Rows {
			if d.Metric == "ttft_ms" && (d.P >= 0.05 || d.Note != OneProcessNote || d.Verdict() != "~") {
				t.Errorf("%s ttft_ms: p %v, note %q, verdict %s; want p < 0.05 on the runs, ~ and the one-process note", d.Group, d.P, d.Note, d.Verdict())
			}
		}
	})
	t.Run("too few samples is ~", func(t *testing.T) {
		a, b := fakeReport(1, 1), fakeReport(2, 2)
		for _, r := range []*Report{a, b} {
			r.Latency = r.Latency[:1]
			r.Latency[0].TTFT = Summarize(r.Latency[0].TTFT.Samples[:3])
			r.Throughput = nil
		}
		c, err := Compare(a, b, CompareOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d := c.Rows[0]
		if d.Metric != "ttft_ms" || d.Verdict() != "~" || !strings.Contains(d.Note, "need >= 4 samples each") {
			t.Errorf("row %+v, want ~ with a need-more-samples note", d)
		}
	})
	t.Run("different settings refused", func(t *testing.T) {
		other := fakeReport(1, 1)
		other.ModelName = "gpt2-medium"
		other.Metadata.DType = "float16"
		other.SystemInfo.CPUModel = "Intel Xeon"
		_, err := Compare(base, other, CompareOptions{})
		if !errors.Is(err, ErrSettingsDiffer) {
			t.Fatalf("err = %v, want ErrSettingsDiffer", err)
		}
		for _, s := range []string{`model_name "gpt2" vs "gpt2-medium"`, `dtype "float32" vs "float16"`, "force"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not mention %q", err, s)
			}
		}
		c, err := Compare(base, other, CompareOptions{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.SettingDiffs) != 2 || len(c.SystemDiffs) != 1 || c.SystemDiffs[0].Field != "cpu_model" {
			t.Errorf("setting diffs %v, system diffs %v", c.SettingDiffs, c.SystemDiffs)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []CompareOptions{{Alpha: 1.5}, {Alpha: -0.1}, {Threshold: -1}} {
			if _, err := Compare(base, base, o); err == nil {
				t.Errorf("options %+v accepted", o)
			}
		}
	})
}

func TestWriteComparisonGolden(t *testing.T) {
	var a, b []*Report
	for i := range 5 {
		a = append(a, fakeReport(uint64(1+2*i), 1))
		b = append(b, fakeReport(uint64(2+2*i), 1.2))
	}
	c, err := ComparePooled(a, b, CompareOptions{Threshold: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "compare.txt", buf.Bytes())
}

// TestCompareFalsePositiveRate runs the experiment of issue 17 on
// simulated same-build runs: two reports of the same distribution (each
// run has its own offset, as on a real machine, and its gaps vary around
// it), compared many times at alpha 0.05. On the per-run samples compare
// tests, significance must come no more often than alpha allows; on the
// pooled token gaps it would come far more often, which is why compare
// never tests them.
func TestCompareFalsePositiveRate(t *testing.T) {
	const (
		experiments = 400
		runs, gaps  = 10, 31
		alpha       = 0.05
	)
	rng := rand.New(rand.NewPCG(17, 1))
	side := func() *Latency {
		var med, pooled, ttft []float64
		for range runs {
			offset := 20 * (1 + 0.03*rng.NormFloat64()) // this run's speed
			var g []float64
			for range gaps {
				g = append(g, offset*(1+0.02*rng.NormFloat64()))
			}
			pooled = append(pooled, g...)
			med = append(med, Percentile(g, 50))
			ttft = append(ttft, 40*(1+0.05*rng.NormFloat64()))
		}
		m := unitSummary(med, UnitRun)
		return &Latency{InputLen: 32, OutputLen: gaps + 1, Runs: runs, ITL: unitSummary(pooled, UnitTokenGap), ITLRunMedian: &m, TTFT: unitSummary(ttft, UnitRun)}
	}
	var sig, sigPooled, sigTTFT int
	for range experiments {
		a, b := side(), side()
		if d := compareSummary("g", "itl_ms", LowerIsBetter, itlSummary(a), itlSummary(b), alpha); d.Significant {
			sig++
		}
		if d := compareSummary("g", "ttft_ms", LowerIsBetter, &a.TTFT, &b.TTFT, alpha); d.Significant {
			sigTTFT++
		}
		if p, _ := MannWhitneyU(a.ITL.Samples, b.ITL.Samples); p < alpha {
			sigPooled++ // what a test on pooled gaps would say
		}
	}
	// Binomial(400, 0.05): mean 20, sd 4.4; 4 sd above is 37.
	limit := int(experiments*alpha + 4*math.Sqrt(experiments*alpha*(1-alpha)))
	t.Logf("false positives in %d same-distribution comparisons at alpha %v: itl (per-run medians) %d, ttft %d; pooled gaps would give %d",
		experiments, alpha, sig, sigTTFT, sigPooled)
	if sig > limit || sigTTFT > limit {
		t.Errorf("false positives itl %d, ttft %d of %d: more than alpha allows (limit %d)", sig, sigTTFT, experiments, limit)
	}
	if sigPooled <= limit {
		t.Errorf("pooled gaps gave %d false positives of %d: the simulation no longer shows why they are not tested", sigPooled, experiments)
	}
}

// TestCompareIndependentSamples checks compare tests only independent
// samples, also on reports written before schema 1.1: pooled ITL gaps are
// never tested, and a batched generation's latency, once written once per
// sequence, counts once.
func TestCompareIndependentSamples(t *testing.T) {
	old, err := Read("testdata/v1.0_report.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compare(old, old, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]MetricDelta{}
	for _, d := range c.Rows {
		rows[d.Group+" "+d.Metric] = d
	}
	itl := rows["input=32/output=32 itl_ms"]
	if !math.IsNaN(itl.P) || itl.Significant || !strings.Contains(itl.Note, "not independent") {
		t.Errorf("v1.0 pooled ITL: p %v, note %q; want no test and a note", itl.P, itl.Note)
	}
	b8 := rows["mode=batched/conc=1/batch=8/input=128/output=32 request_latency_ms"]
	if b8.NA != 16 || b8.NB != 16 {
		t.Errorf("v1.0 batch 8 request latency: n = %d+%d, want 16+16 (128 copies folded to one per generation)", b8.NA, b8.NB)
	}
	cur := fakeReport(1, 1)
	c, err = Compare(cur, cur, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Rows {
		if d.Metric == "itl_ms" && (d.NA != 10 || d.Note != OneProcessNote) {
			t.Errorf("%s itl_ms: n %d, note %q; want the 10 per-run medians tested", d.Group, d.NA, d.Note)
		}
	}
}

func TestCompareIncomplete(t *testing.T) {
	a, b := fakeReport(1, 1), fakeReport(2, 1)
	b.Incomplete, b.IncompleteReason = true, "interrupted during the throughput phase"
	c, err := Compare(a, b, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Incomplete() || c.IncompleteB != b.IncompleteReason || c.IncompleteA != "" {
		t.Errorf("incomplete a %q b %q", c.IncompleteA, c.IncompleteB)
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "warning: new report is incomplete: interrupted during the throughput phase") {
		t.Errorf("comparison does not warn:\n%s", buf.String())
	}
}
