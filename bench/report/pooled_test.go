package report

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestComparePooledFalsePositives: reports of the same build whose
// processes differ (each report's samples share an offset, as the runs of
// one process on a shared machine do: scripts/false-positive.sh measured
// 36% of rows significant there). Compare of one report a side calls
// those differences p < alpha far more often than alpha (so it calls nothing
// significant); ComparePooled,
// one sample per report, no more often than alpha allows.
func TestComparePooledFalsePositives(t *testing.T) {
	const (
		experiments = 30
		perSide     = 5
		alpha       = 0.05
	)
	rng := rand.New(rand.NewPCG(5, 6))
	seed := uint64(100)
	side := func() []*Report {
		var rs []*Report
		for range perSide {
			seed++
			rs = append(rs, fakeReport(seed, 1+0.05*rng.NormFloat64())) // this process's speed
		}
		return rs
	}
	var tested, sig, tested1, sig1 int
	for range experiments {
		a, b := side(), side()
		c, err := ComparePooled(a, b, CompareOptions{Alpha: alpha})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range c.Rows {
			if d.NA != perSide || d.NB != perSide {
				t.Fatalf("%s %s: n = %d+%d, want one sample per report (%d)", d.Group, d.Metric, d.NA, d.NB, perSide)
			}
			if minPValue(d.NA, d.NB) < alpha {
				tested++
				if d.Significant {
					sig++
				}
			}
		}
		one, err := compareRuns(a[0], b[0], CompareOptions{Alpha: alpha}) // what Compare's p says
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range one.Rows {
			if !math.IsNaN(d.P) && minPValue(d.NA, d.NB) < alpha {
				tested1++
				if d.Significant {
					sig1++
				}
			}
		}
	}
	// The rows of one comparison share their reports, so they are not
	// independent: allow a wide margin over alpha, but far below what one
	// report a side gives.
	rate, rate1 := float64(sig)/float64(tested), float64(sig1)/float64(tested1)
	t.Logf("false-positive rate: %d of %d rows (%.1f%%) pooled over %d reports a side; %d of %d (%.1f%%) one report a side",
		sig, tested, 100*rate, perSide, sig1, tested1, 100*rate1)
	if rate > 2*alpha {
		t.Errorf("pooled comparisons: %.1f%% of rows significant, want about alpha (%v)", 100*rate, alpha)
	}
	if rate1 < 4*alpha {
		t.Errorf("one report a side: %.1f%% significant; the simulation no longer shows why reports are pooled", 100*rate1)
	}
}

// TestComparePooled: a real 20% slowdown is found across reports; rows
// carry one sample per report; a side's reports must share settings;
// an incomplete report on either side is named; one report a side is
// Compare, with the note saying what its test cannot see.
func TestComparePooled(t *testing.T) {
	var base, slow []*Report
	for i := range 5 {
		base = append(base, fakeReport(uint64(10+i), 1))
		slow = append(slow, fakeReport(uint64(20+i), 1.2))
	}
	c, err := ComparePooled(base, slow, CompareOptions{Threshold: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if c.ReportsA != 5 || c.ReportsB != 5 || !strings.HasPrefix(c.A, "5 reports: ") {
		t.Errorf("sides: %d and %d reports, named %q", c.ReportsA, c.ReportsB, c.A)
	}
	regs := c.Regressions()
	if len(regs) == 0 {
		t.Fatal("a 20% slowdown in every report was not found")
	}
	for _, d := range regs {
		if d.DeltaPct < 10 && d.DeltaPct > -10 {
			t.Errorf("%s %s: regression of %.1f%%", d.Group, d.Metric, d.DeltaPct)
		}
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "n=5+5") || strings.Contains(buf.String(), OneProcessNote) {
		t.Errorf("pooled comparison output:\n%s", buf.String())
	}

	other := fakeReport(30, 1)
	other.ModelName = "gpt2-medium"
	if _, err := ComparePooled(base, append(slow[:4:4], other), CompareOptions{}); err == nil || !strings.Contains(err.Error(), "different settings") {
		t.Errorf("a new side of mixed models: err = %v", err)
	}
	broken := fakeReport(31, 1)
	broken.ReportName, broken.Incomplete, broken.IncompleteReason = "cut", true, "interrupted"
	c, err = ComparePooled(append(base[:4:4], broken), slow, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.IncompleteA != "cut: interrupted" || c.IncompleteB != "" {
		t.Errorf("incomplete: %q, %q", c.IncompleteA, c.IncompleteB)
	}

	c, err = ComparePooled(base[:1], slow[:1], CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	WriteComparison(&buf, c)
	if !strings.Contains(buf.String(), "note: "+OneProcessNote) || len(c.Regressions()) != 0 {
		t.Errorf("one report a side: no note on what the test cannot see:\n%s", buf.String())
	}
	if _, err := ComparePooled(nil, slow, CompareOptions{}); err == nil {
		t.Error("an empty side was accepted")
	}
}
