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
	if l := r.Load; l != nil {
		for _, e := range loadSettings(l) {
			p("%s: %s\n", strings.ToLower(e.K), e.V)
		}
		section("LOAD", loadPointHeader, rowsOf(l.Points, loadPointRow))
		section("LOAD, OPEN LOOP: FROM SEND / FROM PLAN", loadPlanHeader, rowsOf(plannedPoints(l), loadPlanRow))
		section("LOAD, SERVER VS CLIENT", loadServerHeader, rowsOf(serverPoints(l), loadServerRow))
		section("LOAD ERRORS", loadErrorHeader, loadErrorRows(l))
		for _, n := range loadNotes(l) {
			p("warning: %s\n", n)
		}
	}
	if sk := r.Soak; sk != nil {
		for _, e := range soakSettings(sk) {
			p("soak %s: %s\n", strings.ToLower(e.K), e.V)
		}
		for _, f := range sk.Failures {
			p("failed: %s\n", f)
		}
		section("SOAK LEAKS", soakLeakHeader, rowsOf(sk.Leaks, soakLeakRow))
		section("SOAK DRIFT (first windows against last)", soakDriftHeader, rowsOf(sk.Drift, soakDriftRow))
		p("\nerror budget: %s\n", soakErrorLine(sk.ErrorBudget))
		section("SOAK FAULTS", soakFaultHeader, rowsOf(sk.Faults, soakFaultRow))
		ws, note := soakWindows(sk)
		section("SOAK WINDOWS"+orEmptyf(" (%s)", note), soakWindowHeader, rowsOf(ws, soakWindowRow))
	}
	section("LATENCY", latencyHeader, rowsOf(r.Latency, latencyRow))
	section("MEMORY", memoryHeader, rowsOf(r.Memory, memoryRow))
	section("THROUGHPUT", throughputHeader, rowsOf(r.Throughput, throughputRow))
	if r.Profile != nil {
		section(fmt.Sprintf("PROFILE (summed over layers; overhead %s ms of %s ms)", fmtFloat(r.Profile.OverheadMs), fmtFloat(r.Profile.TotalMs)),
			opTotalHeader, rowsOf(opTotals(r.Profile), opTotalRow))
		for _, ph := range r.Profile.Phases {
			p("%s\n", phaseLine(ph))
		}
		section("LATENCY TAIL (slowest inter-token gaps against GC pauses)", tailHeader, rowsOf(r.Profile.Tail, tailRow))
	}
	if q := r.Quality; q != nil {
		section("QUALITY", []string{"metric", "value"}, rowsOf(qualityRows(q), func(e kv) []string { return []string{e.K, e.V} }))
	}
	section("TARGETS", targetHeader, rowsOf(r.Targets, targetRow))
	section("SKIPPED", []string{"phase", "input", "reason"}, rowsOf(r.Skipped, func(s Skipped) []string {
		return []string{s.Phase, fmt.Sprint(s.InputLen), s.Reason}
	}))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: write table: %w", err)
	}
	return nil
}
