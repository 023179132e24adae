package profile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gpt2bench/gpt2bench/model"
)

// OpTotals sums the rows of each (phase, op) over layers, in phase then
// op order. Rates, intensity and bound are recomputed from the sums; the
// share of limit is time-weighted.
func (p *Profile) OpTotals() []OpRow {
	var out []OpRow
	idx := map[[2]string]int{}
	for _, r := range p.Ops {
		k := [2]string{r.Phase, r.Op}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, OpRow{Phase: r.Phase, Layer: -1, Op: r.Op, Threads: r.Threads, Bound: r.Bound})
		}
		t := &out[i]
		t.Calls += r.Calls
		t.TotalMs += r.TotalMs
		t.Share += r.Share
		t.FLOPs += r.FLOPs
		t.Bytes += r.Bytes
		t.OfLimit += r.OfLimit * r.TotalMs
		if t.Bound != r.Bound {
			t.Bound = "mixed"
		}
	}
	order := map[string]int{}
	for op := range model.NumOps {
		order[op.String()] = int(op)
	}
	slices.SortStableFunc(out, func(a, b OpRow) int {
		if a.Phase != b.Phase {
			return strings.Compare(b.Phase, a.Phase) // "prefill" before "decode"
		}
		return order[a.Op] - order[b.Op]
	})
	for i := range out {
		t := &out[i]
		t.GFLOPPerS, t.GBPerS, t.Intensity = rates(t.FLOPs, t.Bytes, int64(t.TotalMs*1e6))
		if t.TotalMs > 0 {
			t.OfLimit /= t.TotalMs
		}
	}
	return out
}

// table is rows of cells rendered as aligned text or Markdown.
type table struct {
	header []string
	rows   [][]string
	right  []bool // right-align column (numbers)
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, markdown bool) {
	if markdown {
		fmt.Fprintf(w, "| %s |\n", strings.Join(t.header, " | "))
		sep := make([]string, len(t.header))
		for i := range sep {
			sep[i] = "---"
			if i < len(t.right) && t.right[i] {
				sep[i] = "---:"
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(sep, " | "))
		for _, r := range t.rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		fmt.Fprintln(w)
		return
	}
	width := make([]int, len(t.header))
	for i, h := range t.header {
		width[i] = len(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len(c))
			if i < len(t.right) && t.right[i] {
				b.WriteString(pad + c)
			} else if i == len(cells)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
}

func num(v float64) string {
	switch a := abs(v); {
	case v == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

// pctFine shows small fractions (overheads) with three significant digits.
func pctFine(v float64) string { return strconv.FormatFloat(100*v, 'g', 3, 64) + "%" }

// Format names an output format of Write.
type Format string

// The formats of Write.
const (
	FormatTable    Format = "table"
	FormatJSON     Format = "json"
	FormatMarkdown Format = "markdown"
)

// Write renders p in format f.
func (p *Profile) Write(w io.Writer, f Format) error {
	bw := bufio.NewWriter(w)
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(bw)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("profile: write json: %w", err)
		}
	case FormatTable, FormatMarkdown, "":
		p.writeTables(bw, f == FormatMarkdown)
	default:
		return fmt.Errorf("profile: unknown format %q: want table, json or markdown", f)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("profile: write: %w", err)
	}
	return nil
}

func (p *Profile) writeTables(w io.Writer, md bool) {
	heading := func(s string) {
		if md {
			fmt.Fprintf(w, "### %s\n\n", s)
		} else {
			fmt.Fprintf(w, "\n%s\n", strings.ToUpper(s))
		}
	}
	text := func(format string, a ...any) {
		s := fmt.Sprintf(format, a...)
		if md {
			s = strings.ReplaceAll(s, "_", `\_`)
			fmt.Fprintf(w, "%s\n\n", s)
		} else {
			fmt.Fprintln(w, s)
		}
	}
	if md {
		fmt.Fprintf(w, "## Profile\n\n")
	}
	if p.Device != "" {
		text("%s %s on %s (per-op times from CUDA events): input %d tokens, output %d tokens", p.Model, p.DType, p.Device, p.InputLen, p.OutputLen)
	} else {
		text("%s %s, %d threads: input %d tokens, output %d tokens", p.Model, p.DType, p.Threads, p.InputLen, p.OutputLen)
	}
	if l := p.Limits; l != nil && l.Source != "" {
		text("limits (%s, nominal: %s): memory %s GB/s; float32 FMA %s GFLOP/s", l.CPU, l.Source, num(l.MemReadAll.Limit()), num(l.PeakAll.Limit()))
	} else if l != nil {
		text("limits (%s kernels, %s): read %s GB/s 1 core, %s GB/s %d cores; FMA %s GFLOP/s 1 core, %s GFLOP/s %d cores",
			l.Kernel, l.MeasuredAt.Format("2006-01-02"), num(l.MemRead1Core.Limit()), num(l.MemReadAll.Limit()), l.Cores,
			num(l.Peak1Core.Limit()), num(l.PeakAll.Limit()), l.Cores)
	} else {
		text("limits: not calibrated; run 'gpt2bench calibrate' for the roofline columns")
	}

	heading("Phases")
	pt := table{header: []string{"phase", "steps", "step ms", "op ms", "coverage", "sample ms", "GFLOP", "GB", "GFLOP/s", "GB/s", "bound", "of bandwidth", "of peak"},
		right: []bool{false, true, true, true, true, true, true, true, true, true, false, true, true}}
	for _, ph := range p.Phases {
		pt.add(ph.Phase, strconv.Itoa(ph.Steps), num(ph.StepMs), num(ph.OpInStepMs), pct(ph.Coverage), num(ph.SampleMs),
			num(ph.FLOPs/1e9), num(ph.Bytes/1e9), num(ph.GFLOPPerS), num(ph.GBPerS), orDash(ph.Bound), pct(ph.BandwidthShare), pct(ph.PeakShare))
	}
	pt.write(w, md)
	if !md {
		fmt.Fprintln(w)
	}
	for _, ph := range p.Phases {
		if p.Limits == nil {
			text("%s: %s GB/s, %s GFLOP/s; per-op times sum to %s of the measured step time", ph.Phase, num(ph.GBPerS), num(ph.GFLOPPerS), pct(ph.Coverage))
			continue
		}
		text("%s: %s of memory bandwidth (%s of %s GB/s), %s of FMA peak (%s of %s GFLOP/s): %s-bound; per-op times sum to %s of the measured step time",
			ph.Phase, pct(ph.BandwidthShare), num(ph.GBPerS), num(p.Limits.Bandwidth(p.Threads)),
			pct(ph.PeakShare), num(ph.GFLOPPerS), num(p.Limits.Peak(p.Threads)), ph.Bound, pct(ph.Coverage))
	}

	heading("Ops, summed over layers")
	ot := table{header: []string{"phase", "op", "calls", "total ms", "ms/call", "share", "GFLOP", "MB", "GFLOP/s", "GB/s", "FLOP/B", "thr", "bound", "of limit"},
		right: []bool{false, false, true, true, true, true, true, true, true, true, true, true, false, true}}
	for _, r := range p.OpTotals() {
		ot.add(r.Phase, r.Op, strconv.FormatInt(r.Calls, 10), num(r.TotalMs), num(r.TotalMs/float64(max(r.Calls, 1))), pct(r.Share),
			num(r.FLOPs/1e9), num(r.Bytes/1e6), num(r.GFLOPPerS), num(r.GBPerS), num(r.Intensity), strconv.Itoa(r.Threads), orDash(r.Bound), pct(r.OfLimit))
	}
	ot.write(w, md)

	for _, ph := range p.Phases {
		heading(fmt.Sprintf("Per layer, %s (ms)", ph.Phase))
		p.layerTable(ph.Phase).write(w, md)
	}

	heading("Runtime")
	rt := table{header: []string{"phase", "GC cycles", "GC pauses", "pause total ms", "pause max ms", "GC CPU ms", "allocs", "alloc bytes", "sched waits", "sched p50 ms", "sched p99 ms", "sched max ms"},
		right: []bool{false, true, true, true, true, true, true, true, true, true, true, true}}
	for _, ph := range p.Phases {
		r := ph.Runtime
		rt.add(ph.Phase, strconv.FormatUint(r.GCCycles, 10), strconv.FormatUint(r.GCPauses, 10), num(r.GCPauseTotalMs), num(r.GCPauseMaxMs), num(r.GCCPUMs),
			strconv.FormatUint(r.AllocObjects, 10), strconv.FormatUint(r.AllocBytes, 10), strconv.FormatUint(r.SchedLatencyCount, 10),
			num(r.SchedLatencyP50Ms), num(r.SchedLatencyP99Ms), num(r.SchedLatencyMaxMs))
	}
	rt.write(w, md)
	if !md {
		fmt.Fprintln(w)
	}
	tk := p.Tokens
	text("TTFT %s ms; ITL p50 %s ms, p99 %s ms, max %s ms over %d gaps", num(tk.TTFTMs), num(tk.ITLP50Ms), num(tk.ITLP99Ms), num(tk.ITLMaxMs), len(tk.ITLMs))
	for _, t := range p.Tail {
		verdict := "no GC pause inside: not the collector"
		if t.GCPauses > 0 {
			share := 0.0
			if t.ExcessMs > 0 {
				share = t.GCPauseMs / t.ExcessMs
			}
			verdict = fmt.Sprintf("%d GC pause(s), %s ms: %s of the excess", t.GCPauses, num(t.GCPauseMs), pct(min(share, 1)))
		}
		text("slow token %d: %s ms (%+.2f ms over the median): %s", t.Token, num(t.ITLMs), t.ExcessMs, verdict)
	}

	heading("Overhead")
	o := p.Overhead
	text("tracer: %s ns per op × %d op calls = %s ms, %s of the %s ms run", num(o.PerOpNs), o.OpCalls, num(o.EstimatedMs), pctFine(o.EstimatedShare), num(p.WallMs))
	if o.Pairs > 0 {
		text("same generation without / with the tracer (median of %d): %s / %s ms, %+.2f%% (run-to-run noise included)", o.Pairs, num(o.UntracedMs), num(o.TracedMs), 100*o.MeasuredShare)
	}
	text("ops %s ms of %s ms wall (first step to last token): %s", num(p.OpMs), num(p.WallMs), pct(safeDiv(p.OpMs, p.WallMs)))
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// layerTable is one row per layer of phase with the time of every
// per-layer op, then the ops outside the blocks.
func (p *Profile) layerTable(phase string) *table {
	var ops []model.Op
	for op := range model.NumOps {
		if op.PerLayer() {
			ops = append(ops, op)
		}
	}
	col := map[string]int{}
	header := []string{"layer", "total", "share"}
	right := []bool{false, true, true}
	for i, op := range ops {
		col[op.String()] = i
		header = append(header, op.String())
		right = append(right, true)
	}
	type lrow struct {
		total, share float64
		ms           []float64
	}
	rows := map[int]*lrow{}
	var layers []int
	other := &table{}
	sum := &lrow{ms: make([]float64, len(ops))}
	for _, r := range p.Ops {
		if r.Phase != phase {
			continue
		}
		if r.Layer < 0 {
			other.add(r.Op, num(r.TotalMs), pct(r.Share))
			continue
		}
		lr, ok := rows[r.Layer]
		if !ok {
			lr = &lrow{ms: make([]float64, len(ops))}
			rows[r.Layer] = lr
			layers = append(layers, r.Layer)
		}
		lr.total += r.TotalMs
		lr.share += r.Share
		lr.ms[col[r.Op]] += r.TotalMs
		sum.total += r.TotalMs
		sum.share += r.Share
		sum.ms[col[r.Op]] += r.TotalMs
	}
	t := &table{header: header, right: right}
	addRow := func(name string, lr *lrow) {
		cells := []string{name, num(lr.total), pct(lr.share)}
		for _, v := range lr.ms {
			cells = append(cells, num(v))
		}
		t.add(cells...)
	}
	for _, l := range layers {
		addRow(strconv.Itoa(l), rows[l])
	}
	addRow("all", sum)
	for _, r := range other.rows {
		cells := append([]string{r[0]}, r[1], r[2])
		for range ops {
			cells = append(cells, "")
		}
		t.add(cells...)
	}
	return t
}
