package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes r as a Markdown summary: header, status, system,
// settings, then one table per section present. Values are shown as stored
// in r (per-op rows are only summed over layers); nothing is re-measured or
// re-derived from samples.
func WriteMarkdown(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("report: markdown: nil report")
	}
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }

	p("# Benchmark report: %s\n\n", mdEscape(r.ReportName))
	p("- **Model**: %s\n", mdEscape(r.ModelName))
	p("- **Date**: %s\n", r.Timestamp.UTC().Format("2006-01-02 15:04:05 UTC"))
	p("- **Schema**: v%s\n", mdEscape(r.SchemaVersion))
	if r.Incomplete {
		p("- **Status**: INCOMPLETE: %s\n", mdEscape(orDash(r.IncompleteReason)))
	} else {
		p("- **Status**: complete\n")
	}
	if r.Metadata.RandomWeights {
		p("- **Note**: random weights (timings only; no quality numbers)\n")
	}
	p("\n## System\n\n")
	mdKV(bw, systemRows(r.SystemInfo))
	p("\n## Settings\n\n")
	mdKV(bw, metadataRows(r.Metadata))

	if len(r.Targets) > 0 {
		pass := 0
		for _, t := range r.Targets {
			if t.Pass {
				pass++
			}
		}
		p("\n## Targets (%d of %d pass)\n\n", pass, len(r.Targets))
		mdTable(bw, targetHeader, rowsOf(r.Targets, targetRow))
	}

	if l := r.Load; l != nil {
		p("\n## Load\n\n")
		mdKV(bw, loadSettings(l))
		p("\n%s\n\n", loadNote)
		mdTable(bw, loadPointHeader, rowsOf(l.Points, loadPointRow))
		if pp := plannedPoints(l); len(pp) > 0 {
			p("\nOpen loop, latency from the actual send / from the planned send:\n\n")
			mdTable(bw, loadPlanHeader, rowsOf(pp, loadPlanRow))
		}
		if sp := serverPoints(l); len(sp) > 0 {
			p("\nTwo vantage points, the server's own timings beside the client's:\n\n")
			mdTable(bw, loadServerHeader, rowsOf(sp, loadServerRow))
		}
		if rows := loadErrorRows(l); len(rows) > 0 {
			p("\nErrors and length mismatches by class:\n\n")
			mdTable(bw, loadErrorHeader, rows)
		}
		for _, n := range loadNotes(l) {
			p("\n**Warning**: %s.\n", mdEscape(n))
		}
	}

	if sk := r.Soak; sk != nil {
		p("\n## Soak\n\n")
		mdKV(bw, soakSettings(sk))
		for _, f := range sk.Failures {
			p("\n**Failed**: %s.\n", mdEscape(f))
		}
		p("\n%s\n\n", soakNote)
		p("Leaks:\n\n")
		mdTable(bw, soakLeakHeader, rowsOf(sk.Leaks, soakLeakRow))
		p("\nDrift, first windows against last:\n\n")
		mdTable(bw, soakDriftHeader, rowsOf(sk.Drift, soakDriftRow))
		p("\nError budget: %s.\n", mdEscape(soakErrorLine(sk.ErrorBudget)))
		if len(sk.Faults) > 0 {
			p("\nFaults injected:\n\n")
			mdTable(bw, soakFaultHeader, rowsOf(sk.Faults, soakFaultRow))
		}
		if ws, note := soakWindows(sk); len(ws) > 0 {
			p("\nWindows%s:\n\n", orEmptyf(" (%s)", note))
			mdTable(bw, soakWindowHeader, rowsOf(ws, soakWindowRow))
		}
	}

	if !hasBench(r) {
		goto tail
	}
	p("\n## Latency\n\n")
	if len(r.Latency) == 0 {
		p("No latency measurements.\n")
	} else {
		p("%s\n\n", latencyNote)
		mdTable(bw, latencyHeader, rowsOf(r.Latency, latencyRow))
	}

	p("\n## Memory\n\n")
	if len(r.Memory) == 0 {
		p("No memory measurements.\n")
	} else {
		p("%s\n\n", memoryNote)
		mdTable(bw, memoryHeader, rowsOf(r.Memory, memoryRow))
		for _, m := range r.Memory {
			if m.GPU != nil {
				p("\nGPU (input %d): total %s, in use before load %s, peak in use %s, allocated %s.\n",
					m.InputLen, fmtBytes(m.GPU.TotalBytes), fmtBytes(m.GPU.UsedBeforeBytes), fmtBytes(m.GPU.PeakUsedBytes), fmtBytes(m.GPU.AllocatedBytes))
			}
		}
	}

	p("\n## Throughput\n\n")
	if len(r.Throughput) == 0 {
		p("No throughput measurements.\n")
	} else {
		mdTable(bw, throughputHeader, rowsOf(r.Throughput, throughputRow))
	}

tail:
	if r.Profile != nil {
		p("\n## Profile\n\n")
		mdKV(bw, machineRows(r.Profile))
		p("\n")
		for _, ph := range r.Profile.Phases {
			p("- %s\n", mdEscape(phaseLine(ph)))
		}
		p("\nTime per op, summed over layers:\n\n")
		mdTable(bw, opTotalHeader, rowsOf(opTotals(r.Profile), opTotalRow))
		if len(r.Profile.Tail) > 0 {
			p("\nSlowest inter-token gaps (p99 and above) against GC pauses:\n\n")
			mdTable(bw, tailHeader, rowsOf(r.Profile.Tail, tailRow))
		}
	}

	if r.Quality != nil {
		p("\n## Quality\n\n")
		mdKV(bw, qualityRows(r.Quality))
	}

	if len(r.Skipped) > 0 {
		p("\n## Skipped\n\n")
		for _, s := range r.Skipped {
			if s.InputLen > 0 {
				p("- %s, input %d: %s\n", s.Phase, s.InputLen, mdEscape(s.Reason))
			} else {
				p("- %s: %s\n", s.Phase, mdEscape(s.Reason))
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write markdown: %w", err)
	}
	return nil
}

// mdEscape escapes the characters that would break a table cell or markup.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`, "`", "\\`").Replace(s)
}

// mdKV writes a two-column table.
func mdKV(w io.Writer, rows []kv) {
	fmt.Fprintf(w, "| | |\n|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", mdEscape(r.K), mdEscape(r.V))
	}
}

// mdTable writes a table: numeric columns (judged by the first row)
// right-aligned, text columns left-aligned.
func mdTable(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n|", strings.Join(header, " | "))
	for i := range header {
		align := "---|"
		if len(rows) > 0 && i < len(rows[0]) && rows[0][i] != "" && strings.ContainsRune("0123456789-+.", rune(rows[0][i][0])) {
			align = "---:|"
		}
		fmt.Fprint(w, align)
	}
	fmt.Fprintln(w)
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = mdEscape(c)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}
