package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// soakCharts plots a soak's time series, each with the faults marked as
// vertical lines (one colour per kind) and the warm-up's end as a grey
// line: memory (RSS, Go heap in use and live), goroutines and open file
// descriptors, KV blocks in use and prefix-cache blocks, GC cycles and
// pause per second, TTFT/ITL/E2E percentiles per window, and throughput per
// window.
func soakCharts(r *Report) ([]chart, error) {
	s := r.Soak
	if s == nil || len(s.SampleTimesS) < 2 && len(s.Windows) < 2 {
		return nil, nil
	}
	// time axis in s, min or h, whichever keeps the numbers small
	scale, unit := 1.0, "s"
	switch end := s.ElapsedS; {
	case end > 3*3600:
		scale, unit = 1.0/3600, "h"
	case end > 600:
		scale, unit = 1.0/60, "min"
	}
	xlabel := fmt.Sprintf("time since start (%s)", unit)
	byName := map[string]SoakSeries{}
	for _, sr := range s.Resources {
		byName[sr.Name] = sr
	}
	// series of a resource, divided by div; a counter becomes its rate per second
	resource := func(name string, div float64) plotter.XYs {
		sr, ok := byName[name]
		if !ok || len(sr.Values) != len(s.SampleTimesS) {
			return nil
		}
		var out plotter.XYs
		for i, t := range s.SampleTimesS {
			v := sr.Values[i]
			if sr.Cumulative {
				if i == 0 {
					continue
				}
				dt := t - s.SampleTimesS[i-1]
				if dt <= 0 {
					continue
				}
				v = (v - sr.Values[i-1]) / dt
			}
			out = append(out, plotter.XY{X: t * scale, Y: v / div})
		}
		return out
	}
	window := func(f func(SoakWindow) (float64, bool)) plotter.XYs {
		var out plotter.XYs
		for _, w := range s.Windows {
			if v, ok := f(w); ok {
				out = append(out, plotter.XY{X: (w.StartS + w.EndS) / 2 * scale, Y: v})
			}
		}
		return out
	}
	pct := func(get func(SoakWindow) Percentiles, p99 bool) plotter.XYs {
		return window(func(w SoakWindow) (float64, bool) {
			x := get(w)
			if x.N == 0 {
				return 0, false
			}
			if p99 {
				return x.P99, true
			}
			return x.P50, true
		})
	}
	ttft := func(w SoakWindow) Percentiles { return w.TTFT }
	itl := func(w SoakWindow) Percentiles { return w.ITL }
	e2e := func(w SoakWindow) Percentiles { return w.E2E }
	const mib = 1 << 20
	specs := []struct {
		name, title, ylabel string
		ss                  []series
	}{
		{"soak_memory", "Memory over the soak", "MiB", []series{
			{"RSS", resource("rss", mib), false}, {"Go heap in use", resource("heap_inuse", mib), false}, {"Go heap live", resource("heap_live", mib), true}}},
		{"soak_goroutines_fds", "Goroutines and open file descriptors", "count", []series{
			{"goroutines", resource("goroutines", 1), false}, {"open fds", resource("open_fds", 1), false}}},
		{"soak_kv", "KV-cache blocks", "blocks", []series{
			{"in use", resource("kv_blocks_used", 1), false}, {"in the prefix cache", resource("prefix_cache_blocks", 1), true}}},
		{"soak_gc", "Garbage collection", "per second", []series{
			{"GC cycles/s", resource("gc_cycles", 1), false}, {"GC pause ms/s", resource("gc_pause_ms", 1), true}}},
		{"soak_latency", "TTFT and E2E per window", "ms", []series{
			{"TTFT p50", pct(ttft, false), false}, {"TTFT p99", pct(ttft, true), true},
			{"E2E p50", pct(e2e, false), false}, {"E2E p99", pct(e2e, true), true}}},
		{"soak_itl", "Inter-token latency per window", "ms", []series{
			{"ITL p50", pct(itl, false), false}, {"ITL p99", pct(itl, true), true}}},
		{"soak_throughput", "Throughput per window", "per second", []series{
			{"output tokens/s", window(func(w SoakWindow) (float64, bool) { return w.OutputTokensPerS, true }), false},
			{"requests/s", window(func(w SoakWindow) (float64, bool) { return w.RequestsPerS, true }), true}}},
	}
	var out []chart
	for _, sp := range specs {
		c, err := timeChart(sp.name, sp.title, xlabel, sp.ylabel, sp.ss, s, scale)
		if err != nil {
			return nil, err
		}
		if c.p != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// faultColors gives each fault kind its colour in every soak plot.
var faultColors = map[string]color.RGBA{
	FaultDisconnect: {204, 121, 167, 255}, FaultMalformed: {230, 159, 0, 255}, FaultOverContext: {86, 180, 233, 255},
	FaultBurst: {214, 39, 40, 255}, FaultRestart: {0, 0, 0, 255},
}

// timeChart draws series over time (lines, no glyphs: a day has thousands
// of samples) with the faults and the warm-up's end marked; nil when no
// series has two points.
func timeChart(name, title, xlabel, ylabel string, ss []series, s *Soak, scale float64) (chart, error) {
	p := newPlot(title, xlabel, ylabel)
	n := 0
	ymax := 0.0
	for i, sr := range ss {
		if len(sr.xys) < 2 {
			continue
		}
		line, err := plotter.NewLine(sr.xys)
		if err != nil {
			return chart{}, err
		}
		line.Color = colorAt(i)
		line.Width = vg.Points(1.2)
		if sr.dashed {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(line)
		p.Legend.Add(sr.label, line)
		for _, xy := range sr.xys {
			ymax = math.Max(ymax, xy.Y)
		}
		n++
	}
	if n == 0 {
		return chart{}, nil
	}
	if ymax <= 0 {
		ymax = 1
	}
	ymax *= 1.05
	vline := func(x float64, c color.Color, dashed bool) (*plotter.Line, error) {
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax}})
		if err != nil {
			return nil, err
		}
		l.Color = c
		l.Width = vg.Points(0.8)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		}
		return l, nil
	}
	if s.WarmupS > 0 {
		l, err := vline(s.WarmupS*scale, color.Gray{Y: 150}, true)
		if err != nil {
			return chart{}, err
		}
		p.Add(l)
		p.Legend.Add("end of warm-up", l)
	}
	seen := map[string]bool{}
	for _, f := range s.Faults {
		c, ok := faultColors[f.Kind]
		if !ok {
			c = color.RGBA{127, 127, 127, 255}
		}
		l, err := vline(f.StartS*scale, c, false)
		if err != nil {
			return chart{}, err
		}
		p.Add(l)
		if !seen[f.Kind] {
			seen[f.Kind] = true
			p.Legend.Add("fault: "+f.Kind, l)
		}
	}
	p.Y.Min, p.Y.Max = 0, ymax
	p.X.Min = 0
	return sideLegend(chart{name: name, title: title, p: p, w: 20 * vg.Centimeter, h: 9 * vg.Centimeter}), nil
}
