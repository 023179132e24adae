// Package report holds the gpt2bench benchmark report (schema v1) and
// everything that reads one: JSON Schema validation, atomic writing,
// Markdown, terminal table, CSV, benchstat lines, plots, a self-contained
// HTML page, and statistical comparison of two reports.
//
// The bench phases fill a Report (Summarize turns raw samples into a
// Summary); the CLI writes it with WriteNew and renders it with the Write*
// functions. Renderers never recompute statistics: they show what the Report
// holds. Compare redoes the statistics from the raw samples:
//
//	c, err := report.Compare(old, new, report.CompareOptions{Threshold: 0.05})
//	report.WriteComparison(os.Stdout, c)
//	if len(c.Regressions()) > 0 { /* exit 1 */ }
//
// prints, for a run 20% slower than its baseline:
//
//	setting              metric   old    new    delta    p (n)
//	input=128/output=32  ttft_ms  60.04  70.51  +17.44%  p=0.000 n=10+10  (regression)
//	input=128/output=32  tpot_ms  22.06  26.46  +19.94%  p=0.000 n=10+10  (regression)
//
// and "~" in the delta column where p >= alpha or the sample sizes could
// never reach significance (3 against 3 at alpha 0.05).
//
// Files: {model}_{YYYYMMDD_HHMMSS}.json and .md, never overwritten (_2,
// _3, ...). Schema: schema/v1.json (embedded; SchemaV1). Adding a field
// keeps v1; renaming, removing or changing a meaning makes v2, and readers
// reject an unknown major version with a *VersionError.
package report
