package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
)

// Plot formats WritePlots accepts.
const (
	FormatPNG = "png"
	FormatSVG = "svg"
)

// pngDPI is the resolution of PNG plots: sharp on laptop screens and in print.
const pngDPI = 144

// chart is one plot ready to render.
type chart struct {
	name  string // file base name, e.g. "ttft_vs_input"
	title string // caption in HTML
	p     *plot.Plot
	w, h  vg.Length
	// side, when set, is drawn in a column right of the plot instead of
	// inside the data area, for legends too long to fit over the data.
	side *plot.Legend
}

// sideLegend moves p's legend out of the data area into c's side column.
func sideLegend(c chart) chart {
	leg := c.p.Legend
	leg.Top, leg.Left = true, true
	leg.XOffs, leg.YOffs = 0, 0
	c.side = &leg
	c.p.Legend = plot.NewLegend()
	return c
}

// drawChart draws c on canvas dc, with the side legend in a right column.
func drawChart(c chart, dc draw.Canvas) {
	if c.side == nil {
		c.p.Draw(dc)
		return
	}
	r := c.side.Rectangle(dc)
	legW := r.Max.X - r.Min.X + vg.Points(8)
	c.p.Draw(draw.Crop(dc, 0, -legW, 0, 0))
	// align the legend's top with the top of the data area (below the title)
	top := c.p.Title.TextStyle.Height(c.p.Title.Text) + c.p.Title.Padding
	c.side.Draw(draw.Crop(dc, dc.Max.X-dc.Min.X-legW+vg.Points(6), 0, 0, -top))
}

// WritePlots renders every plot the report has data for into dir, once per
// format ("png", "svg"), and returns the paths written, in order. Plots:
// ttft_vs_input and tpot_vs_input (p50 line, p50–p95 band), decode_vs_batch
// and decode_vs_concurrency (output tok/s), ttft_cdf and itl_cdf (empirical
// CDFs of the raw samples), profile_prefill and profile_decode (time per
// layer stacked by op) and roofline (when a profile is present), memory
// (bytes by component), and for a load report load_ttft_vs_concurrency,
// load_tpot_vs_concurrency, load_throughput_vs_concurrency (closed loop),
// load_ttft_vs_rate, load_tpot_vs_rate, load_goodput (open loop), and
// load_ttft_cdf and load_e2e_cdf (one line per point), and for a soak
// soak_memory, soak_goroutines_fds, soak_kv, soak_gc, soak_latency,
// soak_itl and soak_throughput (time series, faults marked). Files are replaced atomically (temporary file, then
// rename), so a reader never sees half a plot.
func WritePlots(dir string, r *Report, formats []string) ([]string, error) {
	if r == nil {
		return nil, fmt.Errorf("report: plots: nil report")
	}
	if len(formats) == 0 {
		formats = []string{FormatPNG}
	}
	for _, f := range formats {
		if f != FormatPNG && f != FormatSVG {
			return nil, fmt.Errorf("report: plot format %q is not supported; use png or svg", f)
		}
	}
	charts, err := buildCharts(r)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: plots: %w", err)
	}
	var paths []string
	for _, c := range charts {
		for _, f := range formats {
			data, err := renderChart(c, f)
			if err != nil {
				return paths, err
			}
			path := filepath.Join(dir, c.name+"."+f)
			if err := atomicfile.WriteBytes(path, data); err != nil {
				return paths, err
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// renderChart draws c as PNG or SVG bytes.
func renderChart(c chart, format string) ([]byte, error) {
	var buf bytes.Buffer
	switch format {
	case FormatPNG:
		cv := vgimg.NewWith(vgimg.UseWH(c.w, c.h), vgimg.UseDPI(pngDPI))
		drawChart(c, draw.New(cv))
		if _, err := (vgimg.PngCanvas{Canvas: cv}).WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("report: render %s.png: %w", c.name, err)
		}
	case FormatSVG:
		cv := vgsvg.NewWith(vgsvg.UseWH(c.w, c.h))
		drawChart(c, draw.New(cv))
		if _, err := cv.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("report: render %s.svg: %w", c.name, err)
		}
	default:
		return nil, fmt.Errorf("report: plot format %q is not supported; use png or svg", format)
	}
	return buf.Bytes(), nil
}

// buildCharts makes every chart r has data for.
func buildCharts(r *Report) ([]chart, error) {
	var out []chart
	builders := []func(*Report) ([]chart, error){
		latencyCharts, throughputCharts, cdfCharts, profileCharts, rooflineCharts, memoryCharts, loadCharts, soakCharts,
	}
	for _, b := range builders {
		cs, err := b(r)
		if err != nil {
			return nil, fmt.Errorf("report: plots: %w", err)
		}
		out = append(out, cs...)
	}
	return out, nil
}

// sansFont is the face of every text in the plots.
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot returns a plot with sans-serif text, a title, axis labels and a grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	for _, s := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		size := s.Size
		*s = sansFont
		s.Size = size
	}
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.Padding = vg.Points(2)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	p.Add(grid)
	return p
}

// niceTicks labels about five ticks at 1, 2, 2.5 or 5 times a power of
// ten (gonum's default labels as few as two: "0" and "250"), with
// unlabelled ticks halfway between.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	step := niceStep(max - min)
	var ticks []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max+step*1e-9; v += step {
		label := strconv.FormatFloat(roundTo(v, step), 'f', -1, 64)
		ticks = append(ticks, plot.Tick{Value: roundTo(v, step), Label: label})
		if h := v + step/2; h <= max {
			ticks = append(ticks, plot.Tick{Value: h})
		}
	}
	if len(ticks) > 0 && ticks[0].Value-step/2 >= min {
		ticks = append(ticks, plot.Tick{Value: ticks[0].Value - step/2})
	}
	return ticks
}

// niceStep is the largest of 1, 2, 2.5, 5 times a power of ten that cuts
// span into at least 4 steps.
func niceStep(span float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(span/4)))
	best := p / 10
	for _, e := range []float64{p / 10, p, p * 10} {
		for _, m := range []float64{1, 2, 2.5, 5} {
			if s := m * e; span/s >= 4 && s > best {
				best = s
			}
		}
	}
	return best
}

// roundTo removes the float error a sum of steps collects (0.30000000000000004).
func roundTo(v, step float64) float64 {
	digits := max(0, 2-int(math.Floor(math.Log10(step))))
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return r
}

// cleanTicks relabels another ticker's major ticks with the shortest
// decimal form: "250" rather than "250.00".
type cleanTicks struct{ plot.Ticker }

// Ticks implements plot.Ticker.
func (t cleanTicks) Ticks(min, max float64) []plot.Tick {
	ticks := t.Ticker.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		v, _ := strconv.ParseFloat(strconv.FormatFloat(ticks[i].Value, 'g', 8, 64), 64)
		ticks[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ticks
}

// palette is a colour-blind-friendly set (Okabe–Ito, then Tableau and
// Kelly's colours of maximum contrast): 18 colours, so that the 16 ops of a
// profile (model.NumOps) each get their own.
var palette = []color.RGBA{
	{0, 114, 178, 255}, {213, 94, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{230, 159, 0, 255}, {86, 180, 233, 255}, {0, 0, 0, 255}, {240, 228, 66, 255},
	{140, 86, 75, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
	{214, 39, 40, 255}, {96, 78, 151, 255}, {152, 223, 138, 255}, {247, 182, 210, 255},
	{101, 69, 34, 255}, {196, 156, 148, 255},
}

func colorAt(i int) color.RGBA { return palette[i%len(palette)] }

// opOrder is the order of GPT-2's ops in a forward step (model.Op): an
// op's colour is its place here, the same in every plot.
var opOrder = []string{"embed", "ln_1", "qkv", "attn_scores", "attn_softmax", "attn_values", "attn_proj",
	"residual_1", "ln_2", "mlp_up", "gelu", "mlp_down", "residual_2", "ln_f", "logits", "sample"}

// opColors gives each op its colour: known ops by opOrder, the same in
// every plot; others (older reports' names, other backends' ops) the
// palette's colours that no op of ops has, in name order (so the same ops
// get the same colours in every plot), so that no two ops of one plot
// share a colour while the palette lasts.
func opColors(ops []string) map[string]color.RGBA {
	out := make(map[string]color.RGBA, len(ops))
	used := make([]bool, len(palette))
	var unknown []string
	for _, op := range ops {
		if _, ok := out[op]; ok {
			continue
		}
		if i := slices.Index(opOrder, op); i >= 0 {
			out[op] = colorAt(i)
			used[i%len(palette)] = true
		} else if !slices.Contains(unknown, op) {
			unknown = append(unknown, op)
		}
	}
	slices.Sort(unknown)
	next := len(opOrder) // the colours after the known ops' first
	for _, op := range unknown {
		for k := 0; k < len(palette) && used[next%len(palette)]; k++ {
			next++
		}
		out[op] = colorAt(next)
		used[next%len(palette)] = true
		next++
	}
	return out
}

// withAlpha returns c with alpha a, premultiplied as color.RGBA requires.
func withAlpha(c color.RGBA, a uint8) color.RGBA {
	f := float64(a) / 255
	return color.RGBA{uint8(float64(c.R) * f), uint8(float64(c.G) * f), uint8(float64(c.B) * f), a}
}

// sortedLatency returns the latency entries by input length.
func sortedLatency(r *Report) []Latency {
	ls := slices.Clone(r.Latency)
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].InputLen < ls[j].InputLen })
	return ls
}

// latencyCharts plots TTFT and TPOT against input length: the p50 line with
// the p50–p95 band shaded.
func latencyCharts(r *Report) ([]chart, error) {
	ls := sortedLatency(r)
	if len(ls) == 0 {
		return nil, nil
	}
	mk := func(name, title, ylabel string, get func(Latency) Summary) (chart, error) {
		p := newPlot(title, "input length (tokens)", ylabel)
		var mid, band plotter.XYs
		var hi plotter.XYs
		for _, l := range ls {
			s := get(l)
			if s.N == 0 {
				continue
			}
			mid = append(mid, plotter.XY{X: float64(l.InputLen), Y: s.P50})
			hi = append(hi, plotter.XY{X: float64(l.InputLen), Y: s.P95})
		}
		if len(mid) == 0 {
			return chart{}, nil
		}
		band = append(band, mid...)
		for i := len(hi) - 1; i >= 0; i-- {
			band = append(band, hi[i])
		}
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return chart{}, err
		}
		poly.Color = withAlpha(colorAt(0), 60)
		poly.LineStyle.Width = 0
		line, pts, err := plotter.NewLinePoints(mid)
		if err != nil {
			return chart{}, err
		}
		line.Color = colorAt(0)
		line.Width = vg.Points(1.5)
		pts.Color = colorAt(0)
		pts.Shape = draw.CircleGlyph{}
		p95, err := plotter.NewLine(hi)
		if err != nil {
			return chart{}, err
		}
		p95.Color = colorAt(0)
		p95.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		p95.Width = vg.Points(0.8)
		p.Add(poly, p95, line, pts)
		p.Legend.Add("p50", line, pts)
		p.Legend.Add("p95 (band: p50–p95)", p95, poly)
		p.Y.Min = 0
		p.X.Min = 0
		return chart{name: name, title: title, p: p, w: 16 * vg.Centimeter, h: 10 * vg.Centimeter}, nil
	}
	var out []chart
	for _, spec := range []struct {
		name, title, ylabel string
		get                 func(Latency) Summary
	}{
		{"ttft_vs_input", "Time to first token vs input length", "TTFT (ms)", func(l Latency) Summary { return l.TTFT }},
		{"tpot_vs_input", "Time per output token vs input length", "TPOT (ms/token)", func(l Latency) Summary { return l.TPOT }},
	} {
		c, err := mk(spec.name, spec.title, spec.ylabel, spec.get)
		if err != nil {
			return nil, err
		}
		if c.p != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// throughputCharts plots output (decode) tokens/s against batch size
// (batched mode) and against concurrency (concurrent mode, with single as
// concurrency 1).
func throughputCharts(r *Report) ([]chart, error) {
	var batch, conc plotter.XYs
	for _, t := range r.Throughput {
		switch t.Mode {
		case ModeBatched:
			batch = append(batch, plotter.XY{X: float64(t.BatchSize), Y: t.OutputTokensPerS})
		case ModeConcurrent:
			conc = append(conc, plotter.XY{X: float64(t.Concurrency), Y: t.OutputTokensPerS})
		case ModeSingle:
			conc = append(conc, plotter.XY{X: 1, Y: t.OutputTokensPerS})
			batch = append(batch, plotter.XY{X: 1, Y: t.OutputTokensPerS})
		}
	}
	var out []chart
	for _, spec := range []struct {
		name, title, xlabel string
		xys                 plotter.XYs
		ci                  int
	}{
		{"decode_vs_batch", "Decode throughput vs batch size", "batch size (sequences per forward pass)", batch, 2},
		{"decode_vs_concurrency", "Decode throughput vs concurrency", "concurrent requests", conc, 1},
	} {
		if len(spec.xys) < 2 {
			continue
		}
		xys := slices.Clone(spec.xys)
		sort.SliceStable(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
		p := newPlot(spec.title, spec.xlabel, "output tokens/s (all requests)")
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, pts.Color = colorAt(spec.ci), colorAt(spec.ci)
		line.Width = vg.Points(1.5)
		pts.Shape = draw.CircleGlyph{}
		p.Add(line, pts) // one series, named by the y axis: no legend to cover the points
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = intTicks(xys)
		p.Y.Min = 0
		out = append(out, chart{name: spec.name, title: spec.title, p: p, w: 16 * vg.Centimeter, h: 10 * vg.Centimeter})
	}
	return out, nil
}

// intTicks labels exactly the x values present (batch sizes 1, 2, 4, ...).
type intTicks plotter.XYs

// Ticks implements plot.Ticker.
func (t intTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	seen := map[float64]bool{}
	for _, xy := range t {
		if xy.X >= min && xy.X <= max && !seen[xy.X] {
			seen[xy.X] = true
			ticks = append(ticks, plot.Tick{Value: xy.X, Label: strconv.FormatFloat(xy.X, 'f', -1, 64)})
		}
	}
	return ticks
}

// cdfCharts plots the empirical CDF of the raw TTFT and ITL samples, one
// line per input length.
func cdfCharts(r *Report) ([]chart, error) {
	ls := sortedLatency(r)
	var out []chart
	for _, spec := range []struct {
		name, title, xlabel string
		get                 func(Latency) Summary
	}{
		{"ttft_cdf", "TTFT distribution (empirical CDF)", "TTFT (ms)", func(l Latency) Summary { return l.TTFT }},
		{"itl_cdf", "Inter-token latency distribution (empirical CDF)", "inter-token latency (ms)", func(l Latency) Summary { return l.ITL }},
	} {
		p := newPlot(spec.title, spec.xlabel, "fraction of samples ≤ x")
		n := 0
		for i, l := range ls {
			s := get(spec.get, l)
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
			p.Legend.Add(fmt.Sprintf("input %d (n=%d)", l.InputLen, len(s)), line)
			n++
		}
		if n == 0 {
			continue
		}
		p.Y.Min, p.Y.Max = 0, 1
		if spec.name == "ttft_cdf" && spread(ls, spec.get) > 8 {
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = logTicks125{}
		}
		out = append(out, sideLegend(chart{name: spec.name, title: spec.title, p: p, w: 20 * vg.Centimeter, h: 10 * vg.Centimeter}))
	}
	return out, nil
}

// logTicks125 puts labelled ticks at 1, 2 and 5 times each power of ten and
// unlabelled ones at the other integers times it, for log axes spanning
// less than a few decades.
type logTicks125 struct{}

// Ticks implements plot.Ticker.
func (logTicks125) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= min {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		base := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// get returns the finite, positive samples of a summary (for log axes).
func get(f func(Latency) Summary, l Latency) []float64 {
	var out []float64
	for _, v := range f(l).Samples {
		if v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// spread is the ratio of the largest to the smallest sample over all entries.
func spread(ls []Latency, f func(Latency) Summary) float64 {
	lo, hi := math.Inf(1), 0.0
	for _, l := range ls {
		for _, v := range get(f, l) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi == 0 {
		return 1
	}
	return hi / lo
}

// ecdf returns the steps of the empirical CDF of samples.
func ecdf(samples []float64) plotter.XYs {
	s := slices.Clone(samples)
	slices.Sort(s)
	n := float64(len(s))
	xys := make(plotter.XYs, 0, 2*len(s))
	for i, v := range s {
		xys = append(xys, plotter.XY{X: v, Y: float64(i) / n}, plotter.XY{X: v, Y: float64(i+1) / n})
	}
	return xys
}

// profileCharts plots, per phase, the time of each layer stacked by op;
// ops outside the blocks form the "other" bar.
func profileCharts(r *Report) ([]chart, error) {
	if r.Profile == nil || len(r.Profile.Ops) == 0 {
		return nil, nil
	}
	var out []chart
	for _, phase := range []string{PhasePrefill, PhaseDecode} {
		var ops []string
		maxLayer := -1
		seen := map[string]bool{}
		byKey := map[string]float64{}
		for _, o := range r.Profile.Ops {
			if o.Phase != phase {
				continue
			}
			if !seen[o.Op] {
				seen[o.Op] = true
				ops = append(ops, o.Op)
			}
			maxLayer = max(maxLayer, o.Layer)
			byKey[o.Op+"\x00"+strconv.Itoa(o.Layer)] += o.TotalMs
		}
		if len(ops) == 0 {
			continue
		}
		// columns: layer 0..maxLayer, then "other" (layer -1)
		names := make([]string, 0, maxLayer+2)
		for l := 0; l <= maxLayer; l++ {
			names = append(names, strconv.Itoa(l))
		}
		names = append(names, "other")
		title := fmt.Sprintf("Time per layer, %s (input %d, %d new tokens)", phase, r.Profile.InputLen, r.Profile.OutputLen)
		p := newPlot(title, "transformer block (other: embedding, final layernorm, lm_head)", "time (ms)")
		w := vg.Points(14)
		if len(names) > 30 {
			w = vg.Points(6)
		}
		var prev *plotter.BarChart
		var bars []*plotter.BarChart
		colors := opColors(ops)
		for _, op := range ops {
			vals := make(plotter.Values, len(names))
			for c := range names {
				layer := c
				if c == len(names)-1 {
					layer = -1
				}
				vals[c] = byKey[op+"\x00"+strconv.Itoa(layer)]
			}
			b, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return nil, err
			}
			b.Color = colors[op]
			b.LineStyle.Width = 0
			if prev != nil {
				b.StackOn(prev)
			}
			prev = b
			bars = append(bars, b)
			p.Add(b)
		}
		for i := len(bars) - 1; i >= 0; i-- { // legend top to bottom as stacked
			p.Legend.Add(ops[i], bars[i])
		}
		p.NominalX(names...)
		p.Legend.Top, p.Legend.Left = true, false
		p.Legend.XOffs = -vg.Points(2)
		p.Y.Min = 0
		p.Y.Max = stackMax(bars) * 1.02
		out = append(out, sideLegend(chart{name: "profile_" + phase, title: title, p: p, w: 24 * vg.Centimeter, h: 12 * vg.Centimeter}))
	}
	return out, nil
}

// stackMax is the tallest stack.
func stackMax(bars []*plotter.BarChart) float64 {
	if len(bars) == 0 {
		return 0
	}
	m := 0.0
	top := bars[len(bars)-1]
	for i := range top.Values {
		m = math.Max(m, top.BarHeight(i))
	}
	return m
}

// rooflineCharts plots each op (summed over layers, one point per phase)
// at its arithmetic intensity and achieved GFLOP/s, under the machine's
// memory-bandwidth and compute ceilings, log-log.
func rooflineCharts(r *Report) ([]chart, error) {
	pr := r.Profile
	if pr == nil || len(pr.Ops) == 0 {
		return nil, nil
	}
	m := pr.Machine
	tots := opTotals(pr)
	var pts []opTotal
	for _, t := range tots {
		if t.FLOPs > 0 && t.Bytes > 0 && t.TotalMs > 0 {
			pts = append(pts, t)
		}
	}
	if len(pts) == 0 {
		return nil, nil
	}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	title := "Roofline: achieved GFLOP/s vs arithmetic intensity"
	p := newPlot(fmt.Sprintf("%s\nceilings: all cores %s GB/s, %s GFLOP/s; 1 core %s GB/s, %s GFLOP/s", title,
		g(m.MemBandwidthGBPerSAll), g(m.PeakGFLOPPerSAll), g(m.MemBandwidthGBPerS1Core), g(m.PeakGFLOPPerS1Core)), "arithmetic intensity (FLOP/byte)", "achieved GFLOP/s")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = cleanTicks{plot.LogTicks{Prec: -1}}, cleanTicks{plot.LogTicks{Prec: -1}}

	xmin, xmax := math.Inf(1), 0.0
	ymin, ymax := math.Inf(1), 0.0
	for _, t := range pts {
		ai := float64(t.FLOPs) / float64(t.Bytes)
		xmin, xmax = math.Min(xmin, ai), math.Max(xmax, ai)
		ymin, ymax = math.Min(ymin, t.GFLOPPerS), math.Max(ymax, t.GFLOPPerS)
	}
	xmin, xmax = decadeFloor(xmin/2), decadeCeil(xmax*2)
	ceilTop := math.Max(m.PeakGFLOPPerSAll, m.PeakGFLOPPerS1Core)
	ymin, ymax = decadeFloor(ymin/2), decadeCeil(math.Max(ymax, ceilTop)*1.5)

	roof := func(bw, peak float64, c color.RGBA, dashed bool, name string) error {
		if bw <= 0 || peak <= 0 {
			return nil
		}
		knee := peak / bw
		xys := plotter.XYs{{X: xmin, Y: xmin * bw}}
		if knee > xmin && knee < xmax {
			xys = append(xys, plotter.XY{X: knee, Y: peak})
		}
		xys = append(xys, plotter.XY{X: xmax, Y: math.Min(peak, xmax*bw)})
		for i := range xys { // clip the memory slope to the plot range
			xys[i].Y = math.Min(xys[i].Y, peak)
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color = c
		l.Width = vg.Points(1.5)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add("roof, "+name, l)
		return nil
	}
	if err := roof(m.MemBandwidthGBPerSAll, m.PeakGFLOPPerSAll, color.RGBA{60, 60, 60, 255}, false, "all cores"); err != nil {
		return nil, err
	}
	if err := roof(m.MemBandwidthGBPerS1Core, m.PeakGFLOPPerS1Core, color.RGBA{150, 150, 150, 255}, true, "1 core"); err != nil {
		return nil, err
	}

	var opNames []string
	opIdx := map[string]int{}
	for _, t := range pts {
		if _, ok := opIdx[t.Op]; !ok {
			opIdx[t.Op] = len(opNames)
			opNames = append(opNames, t.Op)
		}
	}
	colors := opColors(opNames)
	shapes := map[string]draw.GlyphDrawer{PhasePrefill: draw.CircleGlyph{}, PhaseDecode: draw.TriangleGlyph{}}
	for _, t := range pts {
		s, err := plotter.NewScatter(plotter.XYs{{X: float64(t.FLOPs) / float64(t.Bytes), Y: t.GFLOPPerS}})
		if err != nil {
			return nil, err
		}
		s.Color = colors[t.Op]
		s.Radius = vg.Points(3.5)
		if g, ok := shapes[t.Phase]; ok {
			s.Shape = g
		} else {
			s.Shape = draw.BoxGlyph{}
		}
		p.Add(s)
	}
	// legend: one entry per op (colour), then one per phase (shape)
	for _, name := range opNames {
		s, _ := plotter.NewScatter(plotter.XYs{{}})
		s.Color, s.Shape, s.Radius = colors[name], draw.BoxGlyph{}, vg.Points(3.5)
		p.Legend.Add(name, s)
	}
	for _, ph := range []string{PhasePrefill, PhaseDecode} {
		s, _ := plotter.NewScatter(plotter.XYs{{}})
		s.Color, s.Shape, s.Radius = color.Black, shapes[ph], vg.Points(3.5)
		p.Legend.Add(ph, s)
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(4), -vg.Points(4)
	return []chart{sideLegend(chart{name: "roofline", title: title, p: p, w: 24 * vg.Centimeter, h: 15 * vg.Centimeter})}, nil
}

func decadeFloor(v float64) float64 { return math.Pow(10, math.Floor(math.Log10(v))) }
func decadeCeil(v float64) float64  { return math.Pow(10, math.Ceil(math.Log10(v))) }

// memoryCharts plots bytes by component, one bar group per memory entry.
func memoryCharts(r *Report) ([]chart, error) {
	if len(r.Memory) == 0 {
		return nil, nil
	}
	comps := []struct {
		name string
		get  func(Memory) int64
	}{
		{"weights", func(m Memory) int64 { return totalWeights(m.WeightsBytes) }},
		{"KV cache\n(analytic)", func(m Memory) int64 { return m.KVCacheAnalyticBytes }},
		{"KV cache\n(allocated)", func(m Memory) int64 { return m.KVCacheAllocatedBytes }},
		{"Go heap\nin use", func(m Memory) int64 { return m.HeapInUseBytes }},
		{"peak RSS\n(load)", func(m Memory) int64 { return m.LoadPeakRSSBytes }},
		{"peak RSS\n(inference)", func(m Memory) int64 { return m.InferencePeakRSSBytes }},
	}
	hasGPU := false
	for _, m := range r.Memory {
		hasGPU = hasGPU || m.GPU != nil
	}
	if hasGPU {
		comps = append(comps, struct {
			name string
			get  func(Memory) int64
		}{"GPU\nallocated", func(m Memory) int64 {
			if m.GPU == nil {
				return 0
			}
			return m.GPU.AllocatedBytes
		}})
	}
	title := "Memory by component"
	p := newPlot(title, "", "memory (MiB)")
	n := len(r.Memory)
	w := vg.Points(math.Min(30, 60/float64(n)))
	for i, m := range r.Memory {
		vals := make(plotter.Values, len(comps))
		for c, comp := range comps {
			vals[c] = float64(comp.get(m)) / (1 << 20)
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = colorAt(i)
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(i)-float64(n-1)/2) * w
		p.Add(b)
		p.Legend.Add(fmt.Sprintf("input %d, output %d, batch %d", m.InputLen, m.OutputLen, m.BatchSize), b)
	}
	names := make([]string, len(comps))
	for i, c := range comps {
		names[i] = c.name
	}
	p.NominalX(names...)
	p.Y.Min = 0
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(4)
	// leave room above the bars for the legend
	top := 0.0
	for _, m := range r.Memory {
		for _, c := range comps {
			top = math.Max(top, float64(c.get(m))/(1<<20))
		}
	}
	p.Y.Max = top * (1.15 + 0.08*float64(n))
	caption := title + ": Go heap in use counts memory allocated but not yet touched (such as a fresh KV cache), so it can exceed peak RSS"
	return []chart{{name: "memory", title: caption, p: p, w: 20 * vg.Centimeter, h: 11 * vg.Centimeter}}, nil
}
