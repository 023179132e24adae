package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes a terminal summary of r: one aligned table per section
// (text/tabwriter), values as stored in r.
func WriteTable(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("report: table: nil report")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	status := "complete"
	if r.Incomplete {
		status = "INCOMPLETE: " + orDash(r.IncompleteReason)
	}
	p("%s  model %s  %s  %s/%s  %s  %s\n", r.ReportName, r.ModelName,
		r.Timestamp.UTC().Format("2006-01-02 15:04:05Z"), r.SystemInfo.OS, r.SystemInfo.Arch,
		orDash(r.SystemInfo.Backend), status)
	p("cpu %s, %d cores, %s; dtype %s, warm-up %d, runs %d\n",
		orDash(r.SystemInfo.CPUModel), r.SystemInfo.Cores, fmtBytes(r.SystemInfo.MemoryBytes),
		orDash(r.Metadata.DType), r.Metadata.Warmup, r.Metadata.Runs)

	section := func(title string, header []string, rows [][]string) {
		if len(rows) == 0 {
			return
		}
		p("\n%s\n", title)
		p("%s\n", strings.Join(header, "\t"))
		for _, row := range rows {
			p("%s\n", strings.Join(row, "\t"))
		}
	}
	var rows [][]string
	for _, l := range r.Latency {
		rows = append(rows, latencyRow(l))
	}
	section("LATENCY", latencyHeader, rows)
	rows = nil
	for _, m := range r.Memory {
		rows = append(rows, memoryRow(m))
	}
	section("MEMORY", memoryHeader, rows)
	rows = nil
	for _, t := range r.Throughput {
		rows = append(rows, throughputRow(t))
	}
	section("THROUGHPUT", throughputHeader, rows)
	if r.Profile != nil {
		rows = nil
		for _, t := range opTotals(r.Profile) {
			rows = append(rows, opTotalRow(t))
		}
		section(fmt.Sprintf("PROFILE (summed over layers; overhead %s ms of %s ms)", fmtFloat(r.Profile.OverheadMs), fmtFloat(r.Profile.TotalMs)), opTotalHeader, rows)
	}
	if q := r.Quality; q != nil {
		rows = nil
		for _, kv := range qualityRows(q) {
			rows = append(rows, []string{kv.K, kv.V})
		}
		section("QUALITY", []string{"metric", "value"}, rows)
	}
	rows = nil
	for _, t := range r.Targets {
		rows = append(rows, targetRow(t))
	}
	section("TARGETS", targetHeader, rows)
	rows = nil
	for _, s := range r.Skipped {
		rows = append(rows, []string{s.Phase, fmt.Sprint(s.InputLen), s.Reason})
	}
	section("SKIPPED", []string{"phase", "input", "reason"}, rows)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: write table: %w", err)
	}
	return nil
}
