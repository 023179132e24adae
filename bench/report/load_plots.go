package report

import (
	"fmt"
	"slices"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one line of a load chart.
type series struct {
	label  string
	xys    plotter.XYs
	dashed bool
}

// linesChart draws series as lines with points over a shared x axis; nil
// when no series has two points.
func linesChart(name, title, xlabel, ylabel string, logX bool, ss []series) (chart, error) {
	p := newPlot(title, xlabel, ylabel)
	var all plotter.XYs
	n := 0
	for i, s := range ss {
		if len(s.xys) < 2 {
			continue
		}
		xys := slices.Clone(s.xys)
		sort.SliceStable(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return chart{}, err
		}
		line.Color, pts.Color = colorAt(i), colorAt(i)
		line.Width = vg.Points(1.5)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		pts.Shape = draw.CircleGlyph{}
		p.Add(line, pts)
		p.Legend.Add(s.label, line, pts)
		all = append(all, xys...)
		n++
	}
	if n == 0 {
		return chart{}, nil
	}
	if logX && all[0].X > 0 {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = intTicks(all)
	}
	p.Y.Min = 0
	return sideLegend(chart{name: name, title: title, p: p, w: 20 * vg.Centimeter, h: 10 * vg.Centimeter}), nil
}

// loadCharts plots a load report: TTFT and TPOT against concurrency (closed
// loop) and against the offered rate (open loop, with the plan-based p99),
// output throughput against each, the goodput curve against the offered
// rate, and the empirical CDFs of TTFT and E2E per point.
func loadCharts(r *Report) ([]chart, error) {
	if r.Load == nil {
		return nil, nil
	}
	var closed, open []LoadPoint
	for _, p := range r.Load.Points {
		if p.Arrival == ArrivalClosed {
			closed = append(closed, p)
		} else {
			open = append(open, p)
		}
	}
	xConc := func(p LoadPoint) float64 { return float64(p.Concurrency) }
	xRate := func(p LoadPoint) float64 { return p.RequestRate }
	pts := func(ps []LoadPoint, x func(LoadPoint) float64, y func(LoadPoint) (float64, bool)) plotter.XYs {
		var out plotter.XYs
		for _, p := range ps {
			if v, ok := y(p); ok {
				out = append(out, plotter.XY{X: x(p), Y: v})
			}
		}
		return out
	}
	stat := func(get func(LoadPoint) *Summary, v func(*Summary) float64) func(LoadPoint) (float64, bool) {
		return func(p LoadPoint) (float64, bool) {
			s := get(p)
			if s == nil || s.N == 0 {
				return 0, false
			}
			return v(s), true
		}
	}
	p50 := func(s *Summary) float64 { return s.P50 }
	p99 := func(s *Summary) float64 { return s.P99 }
	ttft := func(p LoadPoint) *Summary { return &p.TTFT }
	tpot := func(p LoadPoint) *Summary { return &p.TPOT }
	ttftPlan := func(p LoadPoint) *Summary { return p.TTFTFromPlan }
	value := func(f func(LoadPoint) float64) func(LoadPoint) (float64, bool) {
		return func(p LoadPoint) (float64, bool) { return f(p), true }
	}

	type spec struct {
		name, title, xlabel, ylabel string
		logX                        bool
		ss                          []series
	}
	var specs []spec
	if len(closed) >= 2 {
		specs = append(specs,
			spec{"load_ttft_vs_concurrency", "TTFT vs concurrency (closed loop)", "concurrent requests", "TTFT (ms)", true, []series{
				{"p50", pts(closed, xConc, stat(ttft, p50)), false}, {"p99", pts(closed, xConc, stat(ttft, p99)), true}}},
			spec{"load_tpot_vs_concurrency", "TPOT vs concurrency (closed loop)", "concurrent requests", "TPOT (ms/token)", true, []series{
				{"p50", pts(closed, xConc, stat(tpot, p50)), false}, {"p99", pts(closed, xConc, stat(tpot, p99)), true}}},
			spec{"load_throughput_vs_concurrency", "Output throughput vs concurrency (closed loop)", "concurrent requests", "output tokens/s", true, []series{
				{"output tok/s", pts(closed, xConc, value(func(p LoadPoint) float64 { return p.OutputTokensPerS })), false}}},
		)
	}
	if len(open) >= 2 {
		specs = append(specs,
			spec{"load_ttft_vs_rate", "TTFT vs request rate (open loop)", "offered rate (requests/s)", "TTFT (ms)", false, []series{
				{"p50 from send", pts(open, xRate, stat(ttft, p50)), false}, {"p99 from send", pts(open, xRate, stat(ttft, p99)), false},
				{"p99 from plan", pts(open, xRate, stat(ttftPlan, p99)), true}}},
			spec{"load_tpot_vs_rate", "TPOT vs request rate (open loop)", "offered rate (requests/s)", "TPOT (ms/token)", false, []series{
				{"p50", pts(open, xRate, stat(tpot, p50)), false}, {"p99", pts(open, xRate, stat(tpot, p99)), true}}},
			spec{"load_goodput", "Goodput vs request rate (open loop)", "offered rate (requests/s)", "requests/s", false, []series{
				{"completed req/s", pts(open, xRate, value(func(p LoadPoint) float64 { return p.RequestsPerS })), false},
				{"goodput req/s (meeting the SLO)", pts(open, xRate, value(func(p LoadPoint) float64 { return p.GoodputRequestsPerS })), false},
				{"offered", pts(open, xRate, value(func(p LoadPoint) float64 { return p.RequestRate })), true}}},
		)
	}
	var out []chart
	for _, s := range specs {
		c, err := linesChart(s.name, s.title, s.xlabel, s.ylabel, s.logX, s.ss)
		if err != nil {
			return nil, err
		}
		if c.p != nil {
			out = append(out, c)
		}
	}
	for _, cdf := range []struct {
		name, title, xlabel string
		get                 func(LoadPoint) []float64
	}{
		{"load_ttft_cdf", "TTFT distribution per load point (empirical CDF, from send)", "TTFT (ms)", func(p LoadPoint) []float64 { return p.TTFT.Samples }},
		{"load_e2e_cdf", "End-to-end latency per load point (empirical CDF, from plan in open loop)", "E2E (ms)", func(p LoadPoint) []float64 {
			if p.E2EFromPlan != nil {
				return p.E2EFromPlan.Samples
			}
			return p.E2E.Samples
		}},
	} {
		p := newPlot(cdf.title, cdf.xlabel, "fraction of requests ≤ x")
		n := 0
		for i, lp := range r.Load.Points {
			s := cdf.get(lp)
			if len(s) == 0 {
				continue
			}
			line, err := plotter.NewLine(ecdf(s))
			if err != nil {
				return nil, err
			}
			line.Color = colorAt(i)
			line.Width = vg.Points(1.5)
			p.Add(line)
			p.Legend.Add(fmt.Sprintf("%s (n=%d)", loadShape(lp), len(s)), line)
			n++
		}
		if n == 0 {
			continue
		}
		p.Y.Min, p.Y.Max = 0, 1
		out = append(out, sideLegend(chart{name: cdf.name, title: cdf.title, p: p, w: 20 * vg.Centimeter, h: 10 * vg.Centimeter}))
	}
	return out, nil
}
