package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
)

// reportFormats are the renderings of a report on stdout.
var reportFormats = map[string]func(*bytes.Buffer, *report.Report) error{
	"table":     func(w *bytes.Buffer, r *report.Report) error { return report.WriteTable(w, r) },
	"markdown":  func(w *bytes.Buffer, r *report.Report) error { return report.WriteMarkdown(w, r) },
	"csv":       func(w *bytes.Buffer, r *report.Report) error { return report.WriteCSV(w, r) },
	"benchstat": func(w *bytes.Buffer, r *report.Report) error { return report.WriteBenchstat(w, r) },
	"json": func(w *bytes.Buffer, r *report.Report) error {
		data, err := report.Marshal(r)
		w.Write(data)
		return err
	},
}

func formatNames() string {
	return "table, markdown, json, csv or benchstat"
}

func newReportCmd(a *app) *cobra.Command {
	var (
		format   string
		htmlOut  string
		plotsDir string
		plotFmts []string
	)
	cmd := &cobra.Command{
		Use:   "report FILE.json",
		Short: "Render a benchmark report: table, Markdown, CSV, benchstat lines, plots, HTML",
		Example: `  gpt2bench report data/benchmarks/gpt2_20261127_153000.json
  gpt2bench report run.json --html run.html --plots plots/
  gpt2bench report run.json --format benchstat > new.txt && benchstat old.txt new.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			render, ok := reportFormats[format]
			if !ok {
				return usagef("--format %q: want %s", format, formatNames())
			}
			for _, f := range plotFmts {
				if f != "png" && f != "svg" {
					return usagef("--plot-formats %q: want png and/or svg", f)
				}
			}
			r, err := report.Read(args[0])
			if err != nil {
				return err
			}
			if plotsDir != "" {
				if err := os.MkdirAll(plotsDir, 0o755); err != nil {
					return fmt.Errorf("--plots: %w", err)
				}
				files, err := report.WritePlots(plotsDir, r, plotFmts)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "wrote %d plots to %s\n", len(files), plotsDir)
			}
			if htmlOut != "" {
				if err := atomicfile.Write(htmlOut, func(w io.Writer) error { return report.WriteHTML(w, r) }); err != nil {
					return fmt.Errorf("--html: %w", err)
				}
				fmt.Fprintf(a.stderr, "wrote %s\n", htmlOut)
			}
			var buf bytes.Buffer
			if err := render(&buf, r); err != nil {
				return err
			}
			_, err = a.stdout.Write(buf.Bytes())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "table", "stdout format: "+formatNames())
	f.StringVar(&htmlOut, "html", "", "write a self-contained HTML report to `FILE`")
	f.StringVar(&plotsDir, "plots", "", "write plots into `DIR`")
	f.StringSliceVar(&plotFmts, "plot-formats", []string{"png", "svg"}, "plot file formats: png, svg")
	return cmd
}

// exitError carries an exit code other than 1 or 2 through run.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }

func newCompareCmd(a *app) *cobra.Command {
	var (
		opts            report.CompareOptions
		threshold       string
		allowIncomplete bool
	)
	cmd := &cobra.Command{
		Use:   "compare BASE NEW [NEW2 ...]",
		Short: "Compare benchmark reports: deltas with Mann-Whitney U significance, as benchstat",
		Long: `compare puts each metric of BASE beside the same metric of every NEW report:
both medians, the change in percent, and the p-value of a two-sided
Mann-Whitney U test. "~" marks a change that is not significant at --alpha.
With --threshold, a significant regression beyond it makes the exit code 1,
so compare can gate CI; so does an incomplete (interrupted) report, unless
--allow-incomplete. Reports of different models or settings are refused
unless --force; differing system info is always listed.

Each of BASE and NEW is a report or a directory of reports (its *.json) of
the same settings. A significant change needs independent samples of each
build, and the unit is the process: with a directory a side, each report's
median is one sample, so run old and new interleaved, 5 or more reports a
side (4 is the least that can reach p < 0.05). With one report a side, p is
computed on its runs (one per run, request or batched generation; ITL on
each run's median gap) but nothing is called significant: the runs of one
process share its conditions, and two processes of one build had p < 0.05
in 36-64% of rows on a 2-core machine (README: comparing runs). So
--threshold refuses a side of fewer reports than that (exit 2).`,
		Example: `  gpt2bench compare base/ new/ --threshold 5%     # 5+ reports a side, one sample per report
  gpt2bench compare base.json new.json           # medians and p on the runs; nothing significant
  gpt2bench compare --force gonum.json cpu.json  # per-op speed-up of the kernels`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Alpha <= 0 || opts.Alpha >= 1 {
				return usagef("--alpha %g: want a value in (0, 1)", opts.Alpha)
			}
			if threshold != "" {
				v, err := parsePercent(threshold)
				if err != nil {
					return usagef("--threshold: %v", err)
				}
				opts.Threshold = v
			}
			sides := make([][]*report.Report, len(args))
			for i, path := range args {
				var err error
				if sides[i], err = readSide(path); err != nil {
					return err
				}
			}
			if threshold != "" { // a gate that could never fail is refused, not passed
				need := report.MinSamples(opts.Alpha)
				for i, side := range sides {
					if len(side) < need {
						return usagef("--threshold: %s is %d report(s); a gate needs %d or more a side at --alpha %g, since one process a side cannot show a significant change: give directories of reports (README: comparing runs)", args[i], len(side), need, opts.Alpha)
					}
				}
			}
			base := sides[0]
			var regressions, incomplete []string
			for i, path := range args[1:] {
				r := sides[i+1]
				c, err := report.ComparePooled(base, r, opts)
				if err != nil {
					return fmt.Errorf("compare %s with %s: %w (pass --force to compare anyway)", args[0], path, err)
				}
				fmt.Fprintf(a.stdout, "%s vs %s\n", args[0], path)
				if err := report.WriteComparison(a.stdout, c); err != nil {
					return err
				}
				fmt.Fprintln(a.stdout)
				for _, d := range c.Regressions() {
					regressions = append(regressions, fmt.Sprintf("%s: %s %s", path, d.Group, d.Metric))
				}
				if c.IncompleteA != "" && len(incomplete) == 0 {
					incomplete = append(incomplete, fmt.Sprintf("%s: %s", args[0], c.IncompleteA))
				}
				if c.IncompleteB != "" {
					incomplete = append(incomplete, fmt.Sprintf("%s: %s", path, c.IncompleteB))
				}
			}
			var fails []string
			if threshold != "" && len(regressions) > 0 {
				fails = append(fails, fmt.Sprintf("%d significant regression(s) beyond %s:\n  %s", len(regressions), threshold, strings.Join(regressions, "\n  ")))
			}
			if threshold != "" && len(incomplete) > 0 && !allowIncomplete {
				fails = append(fails, fmt.Sprintf("incomplete report(s), so the gate cannot pass (--allow-incomplete to compare what is there):\n  %s", strings.Join(incomplete, "\n  ")))
			}
			if len(fails) > 0 {
				return exitError{exitFailure, strings.Join(fails, "\n")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&opts.Alpha, "alpha", 0.05, "significance level of the Mann-Whitney U test")
	f.StringVar(&threshold, "threshold", "", "exit 1 on a significant regression beyond this change, e.g. 5%")
	f.BoolVar(&opts.Force, "force", false, "compare reports of different models or settings")
	f.BoolVar(&allowIncomplete, "allow-incomplete", false, "let --threshold pass when a report is incomplete (interrupted)")
	return cmd
}

// maxSideReports and maxSideBytes bound the reports of one directory
// compare reads (a report is well under 1 MiB; each takes about 14 times
// its size to validate).
const (
	maxSideReports = 1000
	maxSideBytes   = 256 << 20
)

// readSide reads one side of a comparison: a report, or every *.json
// report in a directory, in name (so time) order.
func readSide(path string) ([]*report.Report, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if !fi.IsDir() {
		r, err := report.Read(path)
		if err != nil {
			return nil, err
		}
		return []*report.Report{r}, nil
	}
	names, err := filepath.Glob(filepath.Join(path, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("report: %s holds no .json report", path)
	}
	if len(names) > maxSideReports {
		return nil, fmt.Errorf("report: %s holds %d .json files, more than the %d one side may have", path, len(names), maxSideReports)
	}
	slices.Sort(names)
	var total int64
	for _, name := range names {
		if fi, err := os.Stat(name); err == nil {
			total += fi.Size()
		}
	}
	if total > maxSideBytes {
		return nil, fmt.Errorf("report: the reports in %s hold %d bytes, more than the %d MiB one side may have; compare fewer", path, total, maxSideBytes>>20)
	}
	var rs []*report.Report
	for _, name := range names {
		r, err := report.Read(name)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// parsePercent parses "5%" or "0.05" into 0.05.
func parsePercent(s string) (float64, error) {
	var v float64
	pct := strings.HasSuffix(s, "%")
	if _, err := fmt.Sscanf(strings.TrimSuffix(s, "%"), "%g", &v); err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a percentage (want e.g. 5%% or 0.05)", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}
